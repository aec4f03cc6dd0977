//! What every role shares: structured logs, the Prometheus recorder and the
//! shutdown signal.

use std::io::IsTerminal;

pub mod catalogue;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use metrics_util::layers::{Layer, PrefixLayer};
use tracing_subscriber::EnvFilter;

/// Log format: JSON for production (one object per line), pretty for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    /// The format asked for (`LOG_FORMAT`, parsed by the CLI), else pretty on
    /// a terminal and JSON otherwise.
    pub fn or_detect(asked: Option<LogFormat>) -> Self {
        asked.unwrap_or_else(|| {
            if std::io::stderr().is_terminal() {
                LogFormat::Pretty
            } else {
                LogFormat::Json
            }
        })
    }
}

/// Installs the global subscriber (logs go to stderr; stdout is for command output).
/// `RUST_LOG` filters; the default is `info`. Personal data is never logged at info
/// or above: code logs ids only.
pub fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,lapin=warn,h2=warn,hyper=warn,refinery_core=warn,tokio_postgres=warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // Already installed (tests, `all`): keep the first one.
    let _ = result;
}

/// Every metric's name begins with this (the exporter turns `.` into `_`).
pub const METRIC_PREFIX: &str = "hris_sync";

/// Installs the Prometheus recorder once per process and returns its handle.
/// Every metric is named `hris_sync_…` by one prefix layer, described with
/// its `# HELP`, and the process reports `hris_sync_build_info`.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(&[
                    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                    60.0, 300.0,
                ])
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            let prefixed = PrefixLayer::new(METRIC_PREFIX).layer(recorder);
            if metrics::set_global_recorder(prefixed).is_err() {
                // Another recorder is installed: render from a private one.
                return PrometheusBuilder::new().build_recorder().handle();
            }
            catalogue::describe();
            process_collector().describe();
            metrics::gauge!("build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            // Histograms are drained into their summaries by upkeep, which
            // `install_recorder` would have scheduled; a layered recorder
            // schedules its own.
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(5));
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

/// The standard `process_*` metrics (CPU, memory, file descriptors,
/// threads), read from the OS when scraped.
fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: std::sync::OnceLock<metrics_process::Collector> = std::sync::OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Reads the process's figures now (before a scrape renders them).
pub fn collect_process_metrics() {
    process_collector().collect();
}

/// `/metrics`: the process's figures read now, then every metric rendered.
pub fn render_metrics() -> String {
    let handle = metrics_handle();
    collect_process_metrics();
    handle.render()
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested");
}
