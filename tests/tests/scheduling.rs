//! Scheduled full syncs: claims shared by several schedulers, and deletion
//! detection only after a complete listing.

use std::collections::BTreeMap;
use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::stack::{Stack, eventually, scheduler_config};
use hris_worker::integrations::SYNCED;
use hris_worker::scheduler::tick;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_scheduled_full_sync_catches_deletions_whose_webhook_was_lost() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 60, 42).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let active: Vec<&str> = hris_e2e::conformance::still_employed(&employees)
        .into_iter()
        .collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": [active[0]], "silent": true}),
        )
        .await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "delete", "employee_id": active[1], "silent": true}),
        )
        .await?;
    stack.store.schedule_full_sync_now(&"acme".into()).await?;
    let ctx = stack.worker_context("scheduler-a", Duration::from_secs(10));
    ctx.publisher
        .connector()
        .spawn(tokio_util::sync::CancellationToken::new());
    ctx.publisher
        .connector()
        .wait_connected(Duration::from_secs(10))
        .await;
    let report = tick(&ctx, &scheduler_config("scheduler-a"))
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(report.full_syncs, 1);
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(
        stack.user_status("acme", active[0]).await?,
        ("deactivated".into(), Some("missing_from_full_sync".into()))
    );
    assert_eq!(
        stack.user_status("acme", active[1]).await?,
        ("deactivated".into(), Some("deleted_upstream".into()))
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        60,
        "deactivated, never deleted"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_sync_interrupted_halfway_deactivates_nobody() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 1500, 43).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    for worker in std::mem::take(&mut stack.workers) {
        worker.shutdown.cancel();
        let _ = worker.task.await;
    }
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let gone: Vec<&str> = employees
        .iter()
        .rev()
        .take(3)
        .map(|e| e.id.as_str())
        .collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": gone, "silent": true}),
        )
        .await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 250}))
        .await?;
    let active_before = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
            "acme",
        )
        .await?;
    let mut victim = stack.worker_process(&[("FETCH_LEASE_SECS", "3")])?;
    stack.request_sync("acme", FetchKind::Full).await?;
    eventually("halfway through the listing", Duration::from_secs(30), || async {
        Ok(stack.count("SELECT COALESCE(max(pages), 0)::bigint FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees' AND status = 'running'", "acme").await? >= 2)
    })
    .await?;
    victim.kill().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let active_after = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
            "acme",
        )
        .await?;
    assert_eq!(
        active_after, active_before,
        "a partial listing deactivates nobody"
    );
    // A listing that completes does.
    stack.sim.set_faults(&integration, json!({})).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(3))
        .await?;
    eventually("the vanished are deactivated after a complete listing", Duration::from_secs(60), || async {
        Ok(stack.count("SELECT count(*) FROM users WHERE tenant_id = $1 AND deactivation_reason = 'missing_from_full_sync'", "acme").await? == 3)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_never_enqueue_one_tenant_twice() -> anyhow::Result<()> {
    const TENANTS: usize = 120;
    let stack = Stack::start().await?;
    for i in 0..TENANTS {
        stack
            .store
            .add_tenant(
                &format!("t{i:02}").into(),
                "T",
                Some(&format!("personio:t{i:02}")),
            )
            .await?;
        stack
            .store
            .schedule_full_sync_now(&format!("t{i:02}").into())
            .await?;
    }
    let a = stack.worker_context("scheduler-a", Duration::from_secs(10));
    let b = stack.worker_context("scheduler-b", Duration::from_secs(10));
    for ctx in [&a, &b] {
        ctx.publisher
            .connector()
            .spawn(tokio_util::sync::CancellationToken::new());
        ctx.publisher
            .connector()
            .wait_connected(Duration::from_secs(10))
            .await;
    }
    let (sa, sb) = (
        scheduler_config("scheduler-a"),
        scheduler_config("scheduler-b"),
    );
    // Five rounds of both ticking at once. Every tenant is due once, and the
    // next due time is hours away: any second enqueue is a double claim.
    let (mut by_a, mut by_b) = (0, 0);
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(tick(&a, &sa), tick(&b, &sb));
        by_a += ra.map_err(anyhow::Error::msg)?.full_syncs;
        by_b += rb.map_err(anyhow::Error::msg)?.full_syncs;
    }
    let mut per_tenant: BTreeMap<String, usize> = BTreeMap::new();
    for entity in SYNCED {
        for m in stack.inspector.drain_entity((*entity).into()).await? {
            let tenant = m
                .envelope
                .tenant_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            *per_tenant.entry(tenant).or_default() += 1;
        }
    }
    let claimed = |owner: &'static str| {
        let stack = &stack;
        async move {
            stack
                .scalar(
                    "SELECT count(*) FROM full_sync_schedule WHERE enqueued_by = $1",
                    &[&owner],
                )
                .await
        }
    };
    let (rows_a, rows_b) = (claimed("scheduler-a").await?, claimed("scheduler-b").await?);
    println!(
        "{TENANTS} due tenants: scheduler-a claimed {by_a}, scheduler-b {by_b}; {} tenants enqueued, at most {} messages for one",
        per_tenant.len(),
        per_tenant.values().max().copied().unwrap_or(0)
    );
    // Contention really happened: both schedulers won claims. If one had
    // claimed everything, "never twice" would prove nothing about the locking.
    assert!(
        by_a > 0 && by_b > 0,
        "both schedulers claim work: a {by_a}, b {by_b}"
    );
    assert_eq!(by_a + by_b, TENANTS, "each due tenant claimed exactly once");
    // The claims the database recorded are the ones each scheduler reported.
    assert_eq!((rows_a, rows_b), (by_a as i64, by_b as i64));
    // One full sync (one message per entity) per tenant, none twice.
    assert_eq!(per_tenant.len(), TENANTS, "every due tenant enqueued");
    let twice: Vec<_> = per_tenant
        .iter()
        .filter(|(_, n)| **n != SYNCED.len())
        .collect();
    assert!(twice.is_empty(), "enqueued more than once: {twice:?}");
    Ok(())
}
