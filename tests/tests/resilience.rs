//! Workers under stress: duplicates and reordering, notification storms, a
//! worker dying mid-fetch, Kombo failing in every way Kombo fails.

use std::time::{Duration, Instant};

use hris_bus::incoming::header;
use hris_bus::{Entity, FetchKind};
use hris_e2e::bus::data_changed;
use hris_e2e::conformance::mismatches;
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

async fn assert_matches(stack: &Stack, tenant: &str, integration: &str) -> anyhow::Result<()> {
    let diffs = mismatches(stack, tenant, integration, 5).await?;
    assert!(
        diffs.is_empty(),
        "database differs from the mapping:\n{}",
        diffs.join("\n")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicated_and_reordered_messages_converge_without_duplicate_history() -> anyhow::Result<()>
{
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 400, 11).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;

    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    // Changes made without webhooks; their notifications are then delivered
    // twice each, in shuffled order, interleaved with stale full-sync requests.
    let mut events = Vec::new();
    for (i, e) in employees.iter().take(12).enumerate() {
        let m = match i % 3 {
            0 => {
                json!({"op": "promote", "employee_id": e.id, "job_title": format!("Title {i}"), "silent": true})
            }
            1 => {
                json!({"op": "rename", "employee_id": e.id, "first_name": format!("Name{i}"), "silent": true})
            }
            _ => {
                json!({"op": "change_email", "employee_id": e.id, "email": format!("p{i}@example.org"), "silent": true})
            }
        };
        stack.sim.mutate(&integration, m).await?;
        events.push(data_changed(
            &format!("E{i}"),
            &integration,
            &["hris_employees", "hris_teams", "hris_absences"],
        ));
    }
    let mut deliveries: Vec<&Vec<u8>> = events.iter().chain(events.iter()).collect();
    deliveries.reverse();
    deliveries.rotate_left(5);
    for (i, body) in deliveries.iter().enumerate() {
        assert_eq!(stack.receiver.post_signed(body).await?, 200);
        if i % 6 == 0 {
            stack.request_sync("acme", FetchKind::Incremental).await?;
        }
    }
    stack.settle(Duration::from_secs(60)).await?;
    assert_matches(&stack, "acme", &integration).await?;
    let duplicated = stack
        .count(
            "SELECT count(*) FROM (SELECT record_kombo_id, field, old_value, new_value FROM change_log
             WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
            "acme",
        )
        .await?;
    assert_eq!(duplicated, 0, "a change was logged twice");
    let changed = stack
        .count("SELECT count(DISTINCT record_kombo_id) FROM change_log WHERE tenant_id = $1 AND old_value IS NOT NULL AND old_value <> 'null'", "acme")
        .await?;
    assert_eq!(changed, 12, "each changed employee logged");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_notification_storm_during_a_slow_fetch_coalesces() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 1500, 12).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let runs_before = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees'",
            "acme",
        )
        .await?;

    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 300}))
        .await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    for (i, e) in employees.iter().take(200).enumerate() {
        if i % 20 == 0 {
            stack
                .sim
                .mutate(&integration, json!({"op": "promote", "employee_id": e.id, "job_title": format!("Storm {i}"), "silent": true}))
                .await?;
        }
        let body = data_changed(&format!("storm-{i}"), &integration, &["hris_employees"]);
        assert_eq!(stack.receiver.post_signed(&body).await?, 200);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stack.settle(Duration::from_secs(90)).await?;
    stack.sim.set_faults(&integration, json!({})).await?;
    assert_matches(&stack, "acme", &integration).await?;
    let fetches = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees'",
            "acme",
        )
        .await?
        - runs_before;
    println!("200 notifications → {fetches} employee fetches");
    // At most one fetch runs at a time and one more follows it: fetches are
    // bounded by the storm's length over a fetch's, not by the notifications.
    assert!(
        (1..=30).contains(&fetches),
        "{fetches} fetches for 200 notifications"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_fetch_leaves_the_work_to_another() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 3000, 13).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 250}))
        .await?;
    // The victim is a real process, killed with SIGKILL: no shutdown, no acks.
    let mut victim = stack.worker_process(&[("FETCH_LEASE_SECS", "3")])?;
    stack.request_sync("acme", FetchKind::Full).await?;
    eventually("the victim is mid-fetch", Duration::from_secs(30), || async {
        Ok(stack.count("SELECT COALESCE(max(pages), 0)::bigint FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees' AND status = 'running'", "acme").await? >= 2)
    })
    .await?;
    victim.kill().await?;
    let partial = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    assert!(
        partial < 3000,
        "the victim was stopped mid-fetch ({partial} users)"
    );

    stack.sim.set_faults(&integration, json!({})).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(3))
        .await?;
    eventually(
        "another worker finished the import",
        Duration::from_secs(60),
        || async {
            Ok(stack
                .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
                .await?
                == 3000)
        },
    )
    .await?;
    stack.settle(Duration::from_secs(60)).await?;
    assert_matches(&stack, "acme", &integration).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kombo_faults_converge_and_a_revoked_key_is_dead_lettered_at_once() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let flaky = stack.tenant("flaky", 1200, 14).await?;
    let revoked = stack.tenant("revoked", 50, 15).await?;
    stack
        .sim
        .set_faults(&flaky, json!({"rate_429": 0.2, "retry_after_secs": 1, "rate_503": 0.15, "rate_truncated": 0.1, "slow_ms": 20}))
        .await?;
    stack
        .sim
        .set_faults(
            &revoked,
            json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID"}),
        )
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("flaky", FetchKind::Full).await?;
    stack.request_sync("revoked", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(120)).await?;
    stack.sim.set_faults(&flaky, json!({})).await?;
    assert_matches(&stack, "flaky", &flaky).await?;

    let dead = stack.inspector.dead_letters().await?;
    assert_eq!(
        dead.len(),
        4,
        "one dead letter per entity of the revoked tenant"
    );
    for d in &dead {
        assert_eq!(
            d.header_str(header::ERROR_CODE).as_deref(),
            Some("INTEGRATION.AUTHENTICATION_INVALID")
        );
        assert_eq!(
            d.header_str(header::ERROR_CLASS).as_deref(),
            Some("permanent")
        );
        assert_eq!(
            d.header_str(header::REASON).as_deref(),
            Some("permanent_failure")
        );
        assert_eq!(d.header_int(header::ATTEMPTS), Some(1));
        assert_eq!(d.header_str(header::TENANT).as_deref(), Some("revoked"));
        assert!(d.header_str(header::ROUTING_KEY).is_some());
    }
    // Summed over endpoints: the stats count per endpoint, so reading
    // `requests` as one number always gave 0 and this could never fail.
    let requests = stack.sim.requests(&revoked).await?;
    assert!(
        requests <= 4,
        "no hot retries on a revoked key: {requests} requests"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_tenant_never_delays_another() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let healthy = stack.tenant("healthy", 200, 16).await?;
    let failing = stack.tenant("failing", 200, 17).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("healthy", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    // Every request of the failing tenant hangs, then fails.
    stack
        .sim
        .set_faults(&failing, json!({"rate_503": 1.0, "slow_ms": 2000}))
        .await?;
    for i in 0..10 {
        stack.request_sync("failing", FetchKind::Full).await?;
        let body = data_changed(
            &format!("f{i}"),
            &failing,
            &["hris_employees", "hris_absences"],
        );
        stack.receiver.post_signed(&body).await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let employees = hris_e2e::conformance::employees(&stack, &healthy).await?;
    let started = Instant::now();
    stack
        .sim
        .mutate(
            &healthy,
            json!({"op": "promote", "employee_id": employees[0].id, "job_title": "Unblocked"}),
        )
        .await?;
    stack.flush_webhooks().await?;
    let id = employees[0].id.clone();
    eventually(
        "the healthy tenant's change lands",
        Duration::from_secs(10),
        || {
            let id = id.clone();
            let stack = &stack;
            async move {
                let client = stack.store.client().await?;
                let row = client
                    .query_one(
                        "SELECT job_title FROM users WHERE tenant_id = 'healthy' AND kombo_id = $1",
                        &[&id],
                    )
                    .await?;
                Ok(row.get::<_, Option<String>>(0).as_deref() == Some("Unblocked"))
            }
        },
    )
    .await?;
    let took = started.elapsed();
    // The other tenant was failing the whole time, not done already: none of
    // its people imported, its requests refused, its work still in flight.
    let failing_users = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "failing")
        .await?;
    let failing_requests = stack.sim.requests(&failing).await?;
    let failing_busy = !stack.idle().await?;
    println!(
        "healthy tenant's change applied in {took:?} (limit {ISOLATION_LIMIT:?}) while another tenant failed ({failing_requests} requests served it, all failing, {failing_users} people imported, work in flight: {failing_busy})"
    );
    assert_eq!(
        failing_users, 0,
        "the failing tenant was failing throughout"
    );
    assert!(
        failing_requests > 0,
        "the failing tenant's work was attempted"
    );
    assert!(failing_busy, "the failing tenant's work was still retrying");
    assert!(
        took <= ISOLATION_LIMIT,
        "the healthy tenant waited {took:?} behind a failing one (limit {ISOLATION_LIMIT:?})"
    );
    Ok(())
}

/// How long a healthy tenant's webhook may take to land while another tenant's
/// every request hangs 2 s and fails. Unloaded it takes about 0.1 s (webhook
/// debounce, fetch, commit); a worker stuck behind the failing tenant would need
/// at least one 2 s hang, so this bound separates the two with room for a busy CI.
const ISOLATION_LIMIT: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dropped_broker_connection_is_survived() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 2000, 18).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 150}))
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    eventually("mid-fetch", Duration::from_secs(30), || async {
        Ok(stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?
            > 0)
    })
    .await?;
    let name = stack.workers[0].connection_name.clone();
    let closed = hris_e2e::bus::close_connections_named(&name).await?;
    assert!(closed >= 1, "the worker's connection was cut");
    stack.sim.set_faults(&integration, json!({})).await?;
    stack.settle(Duration::from_secs(60)).await?;
    assert_matches(&stack, "acme", &integration).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_finishes_in_flight_work_and_exits_cleanly() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 500, 19).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 200}))
        .await?;
    let mut worker = stack.worker_process(&[("SHUTDOWN_GRACE_SECS", "20")])?;
    stack.request_sync("acme", FetchKind::Full).await?;
    eventually("mid-fetch", Duration::from_secs(30), || async {
        Ok(stack
            .count(
                "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status = 'running'",
                "acme",
            )
            .await?
            > 0)
    })
    .await?;
    let pid = worker.id().map(|p| p.to_string()).unwrap_or_default();
    let sent = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await?;
    assert!(sent.success());
    let status = tokio::time::timeout(Duration::from_secs(25), worker.wait()).await??;
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    let unfinished = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status = 'running'",
            "acme",
        )
        .await?;
    assert_eq!(unfinished, 0, "in-flight fetches finished before exiting");
    // Whatever was not started is still queued for the next worker.
    stack.sim.set_faults(&integration, json!({})).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.settle(Duration::from_secs(60)).await?;
    assert_matches(&stack, "acme", &integration).await?;
    Ok(())
}
