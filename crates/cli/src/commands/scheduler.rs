use std::time::Duration;

use anyhow::Context;
use hris_worker::scheduler::SchedulerConfig;
use tokio_util::sync::CancellationToken;

use crate::args::RoleArgs;

pub async fn run(role: RoleArgs, tick_secs: f64) -> anyhow::Result<()> {
    let setup = crate::commands::worker::setup(&role, "scheduler")?;
    setup
        .ctx
        .store
        .ping()
        .await
        .context("cannot reach PostgreSQL at start")?;
    let shutdown = CancellationToken::new();
    let connection = setup.connector.spawn(shutdown.child_token());
    crate::commands::ops::spawn(
        &role.metrics_addr,
        setup.connector.clone(),
        setup.ctx.store.clone(),
        shutdown.child_token(),
    );
    let config = SchedulerConfig {
        owner: setup.ctx.settings.owner.clone(),
        tick: Duration::from_secs_f64(tick_secs.max(0.1)),
        batch: 100,
    };
    let stop = shutdown.child_token();
    let task = tokio::spawn(hris_worker::scheduler::run(setup.ctx, config, stop.clone()));
    tracing::info!("scheduler started");
    hris_telemetry::shutdown_signal().await;
    stop.cancel();
    let _ = task.await;
    shutdown.cancel();
    let _ = connection.await;
    Ok(())
}
