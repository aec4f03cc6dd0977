//! An "Import all" does not live only in the process that started it: the
//! admin role restarts on every deploy while Kombo's sync may take minutes.

use std::time::Duration;

use hris_e2e::stack::{Stack, eventually, scheduler_config};
use hris_worker::scheduler::tick;

/// Runs under the umbrella run of the import: one per synced entity once read.
async fn reads_of(stack: &Stack, run: uuid::Uuid) -> anyhow::Result<i64> {
    stack
        .scalar(
            "SELECT count(*) FROM sync_runs WHERE parent_id = $1",
            &[&run],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_whose_waiting_process_died_is_read_on_sync_finished() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 71).await?;
    stack
        .sim
        .slow_sync_with_a_staged_hire(&integration, 1500)
        .await?;
    let tenant = stack.store.tenant(&"acme".into()).await?;
    let started = {
        // The admin process asks Kombo for the sync, answers, and dies
        // before Kombo's sync ends: nothing of it waits any more.
        let admin = stack.worker_context("admin", Duration::from_secs(10));
        hris_worker::import::start(&admin, &tenant).await?
    };
    assert!(started.force_sync.is_ok());
    assert_eq!(reads_of(&stack, started.sync_run_id).await?, 0);
    eventually(
        "the integrations worker reads on sync-finished",
        Duration::from_secs(30),
        || async {
            Ok(stack
                .count(
                    "SELECT count(*) FROM users WHERE tenant_id = $1 AND job_title = 'Staged Hire'",
                    "acme",
                )
                .await?
                == 1)
        },
    )
    .await?;
    stack.settle(Duration::from_secs(30)).await?;
    let entities = hris_bus::SyncedEntity::ALL.len() as i64;
    assert_eq!(
        reads_of(&stack, started.sync_run_id).await?,
        entities,
        "read once"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_import_whose_kombo_sync_never_ends_is_read_by_the_scheduler_once_overdue()
-> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 72).await?;
    stack
        .sim
        .slow_sync_with_a_staged_hire(&integration, 600_000)
        .await?;
    let mut ctx = stack.worker_context("scheduler", Duration::from_secs(10));
    ctx.settings.kombo_sync_wait = Duration::from_secs(1);
    // The scheduler publishes: its connection runs as in the scheduler role.
    let stop = tokio_util::sync::CancellationToken::new();
    let _connection = ctx.publisher.connector().clone().spawn(stop.clone());
    anyhow::ensure!(
        ctx.publisher
            .connector()
            .wait_connected(Duration::from_secs(10))
            .await,
        "the scheduler's publisher did not connect"
    );
    let tenant = stack.store.tenant(&"acme".into()).await?;
    let started = hris_worker::import::start(&ctx, &tenant).await?;
    assert!(started.force_sync.is_ok());
    let run = started.sync_run_id;
    let config = scheduler_config("scheduler");
    tick(&ctx, &config).await?;
    assert_eq!(
        reads_of(&stack, run).await?,
        0,
        "not before the wait is over"
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    tick(&ctx, &config).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let entities = hris_bus::SyncedEntity::ALL.len() as i64;
    assert_eq!(
        reads_of(&stack, run).await?,
        entities,
        "what Kombo has is read"
    );
    tick(&ctx, &config).await?;
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(reads_of(&stack, run).await?, entities, "and only once");
    stop.cancel();
    Ok(())
}
