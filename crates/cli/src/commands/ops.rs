//! The operations endpoint of roles that have no HTTP API of their own
//! (workers, scheduler): `/metrics`, `/healthz` and `/readyz` on `METRICS_ADDR`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use hris_bus::Connector;
use hris_store::Store;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Ops {
    connector: Arc<Connector>,
    store: Store,
}

/// Serves until `shutdown`; a bind failure is logged, never fatal (the role's
/// work matters more than its metrics).
pub fn spawn(addr: &str, connector: Arc<Connector>, store: Store, shutdown: CancellationToken) {
    let addr = addr.to_owned();
    let app = Router::new()
        .route(
            "/metrics",
            get(|| async { hris_telemetry::metrics_handle().render() }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(Ops { connector, store });
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
async fn ready(State(ops): State<Ops>) -> (StatusCode, &'static str) {
    if !ops.connector.is_alive().await {
        return (StatusCode::SERVICE_UNAVAILABLE, "RabbitMQ unreachable");
    }
    match ops.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "PostgreSQL unreachable"),
    }
}
