//! `hris-sync all`: receiver, every worker and the scheduler in one process,
//! sharing one broker connection (development, demo, small installs).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hris_bus::{Entity, Publisher};
use hris_kombo::WebhookSecrets;
use hris_receiver::{AppState, ReceiverConfig};
use hris_worker::scheduler::SchedulerConfig;
use tokio_util::sync::CancellationToken;

use crate::args::{ReceiverArgs, RoleArgs};

pub async fn run(role: RoleArgs, args: ReceiverArgs, tick_secs: f64) -> anyhow::Result<()> {
    let secrets = WebhookSecrets::from_comma_separated(&args.kombo_webhook_secrets);
    anyhow::ensure!(
        !secrets.is_empty(),
        "KOMBO_WEBHOOK_SECRETS is empty: every webhook would be refused"
    );
    let setup = crate::commands::worker::setup(&role, "all")?;
    setup
        .ctx
        .store
        .ping()
        .await
        .context("cannot reach PostgreSQL at start")?;
    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    let connection_stop = CancellationToken::new();
    let connection = setup.connector.spawn(connection_stop.clone());
    let state = Arc::new(AppState {
        config: ReceiverConfig {
            secrets,
            max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
        },
        publisher: Publisher::new(setup.connector.clone()),
        metrics: hris_telemetry::metrics_handle(),
        admin: crate::commands::receiver::admin(&args, &role.kombo, &setup.connector)?,
    });
    let stop = CancellationToken::new();
    let workers = tokio::spawn(hris_worker::run(
        setup.ctx.clone(),
        setup.connector.clone(),
        Entity::ALL.to_vec(),
        true,
        setup.tuning,
        stop.clone(),
    ));
    let scheduler = tokio::spawn(hris_worker::scheduler::run(
        setup.ctx.clone(),
        SchedulerConfig {
            owner: setup.ctx.settings.owner.clone(),
            tick: Duration::from_secs_f64(tick_secs.max(0.1)),
            batch: 100,
        },
        stop.clone(),
    ));
    tracing::info!(addr = %listener.local_addr()?, "hris-sync all: receiver, workers and scheduler running");
    let http_stop = stop.clone();
    let http = tokio::spawn(hris_receiver::serve(listener, state, async move {
        http_stop.cancelled().await
    }));
    hris_telemetry::shutdown_signal().await;
    tracing::info!("shutting down: finishing requests and in-flight messages");
    stop.cancel();
    let _ = http.await;
    let _ = workers.await;
    let _ = scheduler.await;
    connection_stop.cancel();
    let _ = connection.await;
    Ok(())
}
