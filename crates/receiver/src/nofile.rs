//! The open files limit. Every connection costs a descriptor; the default soft
//! limit (often 1,024) is far below what a receiver under a burst, or under a
//! crowd of slow clients, needs, while the hard limit usually allows much more.

/// Raises the soft RLIMIT_NOFILE to the hard limit where the platform allows,
/// logs the result and returns the soft limit now in force (`None` if unknown).
pub fn raise_open_files_limit() -> Option<u64> {
    let before = rlimit::getrlimit(rlimit::Resource::NOFILE).ok();
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => {
            tracing::info!(
                open_files_limit = now,
                before = before.map(|(soft, _)| soft),
                hard = before.map(|(_, hard)| hard),
                "open files limit"
            );
            metrics::gauge!("process_open_files_limit").set(now as f64);
            Some(now)
        }
        Err(e) => {
            tracing::warn!(error = %e, before = before.map(|(soft, _)| soft), "cannot raise the open files limit");
            before.map(|(soft, _)| soft)
        }
    }
}
