//! A stand-in for Kombo: the same HRIS endpoints, envelope, cursor pagination,
//! filters and error format as `shared/kombo/openapi.json`, for several
//! integrations at once, each with a seeded company that can change while the
//! simulator runs, signed `data-changed` webhooks debounced like Kombo's, and fault
//! injection. Tests, the demo and the benchmarks drive it through its control API
//! under `/_sim`.

pub mod api;
pub mod company;
pub mod control;
pub mod faults;
mod generate;
pub mod health;
pub mod ids;
pub mod listing;
pub mod manage;
pub mod mutate;
mod org_changes;
pub mod records;
mod reidentify;
pub mod render;
pub mod state;
pub mod sync;
pub mod webhooks;

pub use company::{Company, CompanySpec};
pub use state::{SimConfig, SimState};

use std::net::SocketAddr;
use std::sync::Arc;

/// Runs the simulator until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<SimState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = api::router(state.clone())
        .merge(control::router(state.clone()))
        .merge(health::router(state.clone()));
    webhooks::spawn_flusher(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
