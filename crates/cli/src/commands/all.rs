//! `hris-sync all`: receiver, every worker and the scheduler in one process,
//! sharing one broker connection (development, demo, small installs); with
//! ADMIN_TOKEN set, the admin API and console on ADMIN_ADDR too.

use secrecy::ExposeSecret;
use std::sync::Arc;

use anyhow::Context;
use hris_bus::{Entity, Publisher};
use hris_kombo::WebhookSecrets;
use hris_receiver::{AppState, ReceiverConfig};

use crate::args::{ReceiverArgs, RoleArgs};
use crate::commands::worker::Running;

pub async fn run(
    role: RoleArgs,
    args: ReceiverArgs,
    console: crate::commands::admin::ConsoleArgs,
    tick: std::time::Duration,
) -> anyhow::Result<()> {
    let secrets = WebhookSecrets::from_comma_separated(args.kombo_webhook_secrets.expose_secret());
    anyhow::ensure!(
        !secrets.is_empty(),
        "KOMBO_WEBHOOK_SECRETS is empty: every webhook would be refused"
    );
    let mut limits = args.http_limits()?;
    limits.fit_to_open_files(hris_receiver::nofile::raise_open_files_limit());
    let listener = tokio::net::TcpListener::bind(&args.http_addr)
        .await
        .with_context(|| format!("cannot listen on {}", args.http_addr))?;
    // /metrics, /healthz and /readyz for the whole process on METRICS_ADDR;
    // the receiver's port serves the webhook only.
    let running = Running::start(&role, "all", true).await?;
    let setup = &running.setup;
    let state = Arc::new(AppState {
        config: ReceiverConfig {
            secrets,
            max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
        },
        publisher: Publisher::new(setup.connector.clone()),
        metrics: hris_telemetry::metrics_handle(),
    });
    let workers = tokio::spawn(hris_worker::run(
        setup.ctx.clone(),
        setup.connector.clone(),
        Entity::ALL.to_vec(),
        true,
        setup.tuning.clone(),
        running.stop.clone(),
    ));
    let scheduler = tokio::spawn(hris_worker::scheduler::run(
        setup.ctx.clone(),
        running.scheduler_config(tick),
        running.stop.clone(),
    ));
    tracing::info!(addr = %listener.local_addr()?, "hris-sync all: receiver, workers and scheduler running");
    let http_stop = running.stop.clone();
    let http = tokio::spawn(async move {
        let _ = hris_receiver::serve_with(listener, state, limits, async move {
            http_stop.cancelled().await
        })
        .await;
    });
    let mut tasks = vec![http, workers, scheduler];
    tasks.extend(
        console
            .spawn(setup.ctx.clone(), running.stop.clone())
            .await?,
    );
    running.until_signal(tasks).await;
    Ok(())
}
