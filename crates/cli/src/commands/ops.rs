//! The operations endpoint of every role but the receiver (workers, scheduler,
//! admin): `/metrics`, `/healthz` and `/readyz` on `METRICS_ADDR`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use hris_worker::WorkerContext;
use tokio_util::sync::CancellationToken;

/// Serves until `shutdown`; a bind failure is logged, never fatal (the role's
/// work matters more than its metrics).
pub fn spawn(addr: &str, ctx: WorkerContext, shutdown: CancellationToken) {
    let addr = addr.to_owned();
    let app = Router::new()
        .route(
            "/metrics",
            get(|| async { hris_telemetry::render_metrics() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(ctx);
    tokio::spawn(async move {
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot serve /metrics");
                return;
            }
        };
        tracing::info!(%addr, "serving /metrics, /healthz, /readyz");
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
}

/// Ready when both the broker and the database answer: a worker that cannot
/// reach either cannot do anything useful, and should not receive traffic.
async fn ready(State(ctx): State<WorkerContext>) -> (StatusCode, &'static str) {
    match ctx.unready().await {
        None => (StatusCode::OK, "ready"),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason),
    }
}
