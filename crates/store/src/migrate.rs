//! `hris-sync migrate`: applies `/migrations` (embedded at build time) once.
//!
//! Several processes may start at once (every pod's init step, say): a session
//! advisory lock makes them take turns, and the second finds nothing to do.

use crate::StoreError;

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Arbitrary but fixed: the key of the migration advisory lock (public so a test
/// can hold it and watch a waiting `migrate`).
pub const MIGRATION_LOCK_KEY: i64 = 0x6872_6973_5f6d_6967; // "hris_mig"

/// Applies pending migrations; returns how many were applied. `sslmode` and
/// `application_name` are handled as by [`crate::connect`].
pub async fn migrate(database_url: &str, application_name: &str) -> Result<usize, StoreError> {
    let (mut client, driver) = crate::pool::connect_one(database_url, application_name).await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK_KEY])
        .await?;
    let report = embedded::migrations::runner().run_async(&mut client).await;
    // Release even on failure; closing the connection would release it too.
    let _ = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK_KEY])
        .await;
    drop(client);
    let _ = driver.await;
    let report = report?;
    for m in report.applied_migrations() {
        tracing::info!(version = m.version(), name = m.name(), "migration applied");
    }
    Ok(report.applied_migrations().len())
}
