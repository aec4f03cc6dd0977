//! This test process's own Prometheus counters (the receiver and in-process
//! workers record into it).

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
