//! The admin role's HTTP server: the admin API and the console with
//! `/healthz` and `/readyz` beside them, on an internal address.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::api::{Admin, error};

/// The admin API and its probes. The probes sit outside the token check (a
/// kubelet has no token); any other path is a 404 whether or not the caller
/// has the token. Every request is bounded by `request_timeout` (then 503),
/// so a stuck database or Kombo call cannot hold a connection for ever.
pub fn app(admin: Arc<Admin>, request_timeout: Duration) -> Router {
    let probes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(admin.clone());
    crate::api::router(admin.clone())
        .merge(crate::console::router(admin))
        .merge(probes)
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            request_timeout,
        ))
}

/// Ready when the broker and the database both answer: "Import all" needs
/// the one, every route the other.
async fn ready(State(admin): State<Arc<Admin>>) -> Response {
    match admin.ctx.unready().await {
        None => (StatusCode::OK, "ready").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

/// Serves until `shutdown`, then stops accepting and lets the requests in
/// flight finish: for at most `request_timeout` and a second more, since
/// the timeout layer ends every request by then and only a client that
/// never finishes sending its headers could hold the server longer.
pub async fn serve(
    listener: tokio::net::TcpListener,
    admin: Arc<Admin>,
    request_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signal = {
        let stopping = stopping.clone();
        async move {
            shutdown.await;
            stopping.notify_one();
        }
    };
    let server = axum::serve(listener, app(admin, request_timeout))
        .with_graceful_shutdown(signal)
        .into_future();
    let grace = async {
        stopping.notified().await;
        tokio::time::sleep(request_timeout + Duration::from_secs(1)).await;
    };
    tokio::select! {
        served = server => served,
        () = grace => {
            tracing::warn!("admin API: connections still open at shutdown; closing them");
            Ok(())
        }
    }
}
