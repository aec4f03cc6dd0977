use crate::args::RoleArgs;
use crate::commands::worker::Running;

pub async fn run(role: RoleArgs, tick: std::time::Duration) -> anyhow::Result<()> {
    let running = Running::start(&role, "scheduler", true).await?;
    let task = tokio::spawn(hris_worker::scheduler::run(
        running.setup.ctx.clone(),
        running.scheduler_config(tick),
        running.stop.clone(),
    ));
    tracing::info!("scheduler started");
    running.until_signal(vec![task]).await;
    Ok(())
}
