//! This test process's own Prometheus counters (the receiver and in-process
//! workers record into it), and the metric names the alert rules and the
//! dashboard use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The files whose metric names must exist: an alert or a panel on a name
/// nobody records would never fire or draw.
pub const MONITORING_FILES: [&str; 2] = [
    "deploy/monitoring/alerts.yaml",
    "deploy/monitoring/dashboard.json",
];

/// The sum of `metric` over the samples whose labels contain every one of `labels`.
pub fn counter(metric: &str, labels: &[&str]) -> u64 {
    hris_telemetry::metrics_handle()
        .render()
        .lines()
        .filter(|l| l.starts_with(metric) && labels.iter().all(|label| l.contains(label)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// The workspace's root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// `name` without the `hris_sync_` prefix and, for a histogram, without the
/// series suffix (`_bucket`, `_count`, `_sum`); `None` if not ours.
pub fn base_name(name: &str) -> Option<String> {
    let name = name.strip_prefix("hris_sync_")?;
    Some(
        ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|base| base.ends_with("seconds"))
            })
            .unwrap_or(name)
            .to_owned(),
    )
}

/// Our metric names (as [`base_name`]) in a rules or dashboard file.
pub fn named_in(file: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join(file))
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    words_named(&text)
}

/// Our metric names (as [`base_name`]) in any text: a file, a scrape.
pub fn words_named(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(base_name)
        .collect()
}
