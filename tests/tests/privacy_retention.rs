//! Retention: the scheduler's tick expires change log entries, dead letter
//! payloads and run errors older than their tenant allows, in bounded
//! batches, each audited; newer rows and other tenants' longer limits stay.

use std::time::Duration;

use hris_e2e::stack::{Stack, scheduler_config};
use hris_worker::scheduler::tick;

async fn change(stack: &Stack, tenant: &str, days_ago: i32) -> anyhow::Result<()> {
    let client = stack.store.client().await?;
    client
        .execute(
            "INSERT INTO change_log (tenant_id, record_type, record_kombo_id, field, old_value, new_value, changed_at)
             VALUES ($1, 'user', 'E1', 'first_name', '\"Ada\"', '\"Ade\"', now() - make_interval(days => $2))",
            &[&tenant, &days_ago],
        )
        .await?;
    Ok(())
}

async fn dead_letter(stack: &Stack, tenant: Option<&str>, days_ago: i32) -> anyhow::Result<()> {
    let client = stack.store.client().await?;
    client
        .execute(
            "INSERT INTO dead_letters (dedupe_key, routing_key, tenant_id, reason, error_class, payload, archived_at)
             VALUES (gen_random_uuid()::text, 'employees', $1, 'test', 'permanent', convert_to('{\"email\":\"ada@x\"}', 'UTF8'),
                     now() - make_interval(days => $2))",
            &[&tenant, &days_ago],
        )
        .await?;
    Ok(())
}

async fn run_error(stack: &Stack, tenant: &str, days_ago: i32) -> anyhow::Result<()> {
    let client = stack.store.client().await?;
    client
        .execute(
            "INSERT INTO sync_runs (id, tenant_id, entity, kind, trigger, status, error, started_at)
             VALUES (gen_random_uuid(), $1, 'employees', 'full', 'schedule', 'failed', 'it failed',
                     now() - make_interval(days => $2))",
            &[&tenant, &days_ago],
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rows_past_their_tenants_retention_go_in_audited_batches_newer_ones_stay()
-> anyhow::Result<()> {
    let stack = Stack::start().await?;
    for tenant in ["acme", "slow"] {
        stack.store.add_tenant(&tenant.into(), tenant, None).await?;
    }
    stack
        .store
        .set_tenant_setting(&"acme".into(), "change_log_retention_days", "100")
        .await?;
    stack
        .store
        .set_tenant_setting(&"slow".into(), "dead_letter_payload_retention_days", "60")
        .await?;
    for days in [150, 150, 150, 50, 50] {
        change(&stack, "acme", days).await?;
    }
    for days in [150, 150] {
        change(&stack, "slow", days).await?; // within slow's default of 365 days
    }
    for (tenant, days) in [
        (Some("acme"), 40),
        (Some("acme"), 40),
        (Some("acme"), 5),
        (None, 45),
        (Some("slow"), 40),
    ] {
        dead_letter(&stack, tenant, days).await?;
    }
    for days in [100, 10] {
        run_error(&stack, "acme", days).await?; // the default is 90 days
    }

    // One batch of two: at most two rows of each kind, and more are waiting.
    let first = stack.store.expire_batch(2).await?;
    assert_eq!(
        (
            first.change_log,
            first.dead_letter_payloads,
            first.run_errors
        ),
        (2, 2, 1)
    );
    assert!(first.full(2));
    // The scheduler's tick expires the rest, and a second finds nothing.
    let ctx = stack.worker_context("scheduler", Duration::from_secs(10));
    let config = scheduler_config("scheduler");
    let report = tick(&ctx, &config).await.map_err(anyhow::Error::msg)?;
    assert_eq!(report.expired, 2);
    let again = tick(&ctx, &config).await.map_err(anyhow::Error::msg)?;
    assert_eq!(again.expired, 0);

    for (sql, expected) in [
        ("SELECT count(*) FROM change_log WHERE tenant_id = $1", 2),
        ("SELECT count(*) FROM change_log WHERE tenant_id <> $1", 2),
        (
            "SELECT count(*) FROM dead_letters WHERE length(payload) > 0 AND tenant_id = $1",
            1,
        ),
        (
            "SELECT count(*) FROM dead_letters WHERE length(payload) > 0 AND tenant_id IS DISTINCT FROM $1",
            1,
        ),
        ("SELECT count(*) FROM dead_letters WHERE $1 <> ''", 5),
        (
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND error IS NOT NULL",
            1,
        ),
        // Each batch audited per tenant and kind: 4 rows for the first, 2 for the tick.
        (
            "SELECT count(*) FROM privacy_audit WHERE action = 'retention' AND $1 <> ''",
            6,
        ),
        (
            "SELECT sum((detail->>'rows')::int) FROM privacy_audit WHERE action = 'retention' AND $1 <> ''",
            7,
        ),
    ] {
        assert_eq!(stack.count(sql, "acme").await?, expected, "{sql}");
    }
    Ok(())
}
