//! Fault scenarios with seeded random timing, each ending in the convergence
//! oracle: workers SIGKILLed mid-sync, broker connections cut during webhook
//! bursts, database connections terminated mid-transaction. Rounds and seed:
//! HRIS_CHAOS_ROUNDS (CI runs the default, smaller scale), HRIS_CHAOS_SEED.

use std::collections::BTreeMap;
use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::bus::data_changed;
use hris_e2e::conformance::full_mismatches;
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

/// A small deterministic generator: the same seed replays the same timings.
struct Timing(u64);

impl Timing {
    fn from_env() -> Self {
        let seed = std::env::var("HRIS_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261122);
        println!("HRIS_CHAOS_SEED={seed}");
        Self(seed)
    }
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// This process's counters (receiver and in-process workers): messages
/// published, applied, retried and dead-lettered.
fn counts() -> String {
    format!(
        "published {}, applied {}, retried {}, dead-lettered {}",
        counter("amqp_publish_seconds_count", ""),
        counter("messages_total", "outcome=\"ok\""),
        counter("message_failures_total", "action=\"retry\""),
        counter("message_failures_total", "action=\"dead_letter\""),
    )
}

fn rounds(default: usize) -> usize {
    std::env::var("HRIS_CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

async fn converged(stack: &Stack, tenant: &str, integration: &str) -> anyhow::Result<()> {
    let diffs = full_mismatches(stack, tenant, integration, 10).await?;
    assert!(
        diffs.is_empty(),
        "lost or wrong after the faults:\n{}",
        diffs.join("\n")
    );
    let duplicated = stack
        .count(
            "SELECT count(*) FROM (SELECT record_kombo_id, field, old_value, new_value FROM change_log
             WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
            tenant,
        )
        .await?;
    assert_eq!(duplicated, 0, "an effect was applied twice");
    Ok(())
}

/// A counter of this process (the receiver and in-process workers), summed
/// over the samples whose labels contain `label`.
fn counter(metric: &str, label: &str) -> u64 {
    hris_telemetry::metrics_handle()
        .render()
        .lines()
        .filter(|l| l.starts_with(metric) && l.contains(label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|n| n as u64)
        .sum()
}

/// Changes `ids` in the simulator, which announces them by webhook (not
/// silent), and sends the webhook now; records each one's final job title.
async fn promote_by_webhook(
    stack: &Stack,
    integration: &str,
    ids: &[&str],
    label: &str,
    expected: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    for (i, id) in ids.iter().enumerate() {
        let title = format!("{label} #{i}");
        stack
            .sim
            .mutate(
                integration,
                json!({"op": "promote", "employee_id": id, "job_title": title}),
            )
            .await?;
        expected.insert((*id).to_owned(), title);
    }
    stack.flush_webhooks().await
}

/// How many of the changed records hold their last change in the database.
async fn present(stack: &Stack, expected: &BTreeMap<String, String>) -> anyhow::Result<usize> {
    let client = stack.store.client().await?;
    let mut n = 0;
    for (id, title) in expected {
        let row = client
            .query_opt(
                "SELECT job_title FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
                &[id],
            )
            .await?;
        if row.and_then(|r| r.get::<_, Option<String>>(0)).as_ref() == Some(title) {
            n += 1;
        }
    }
    Ok(n)
}

/// Sync runs of `kind` ever started for the tenant.
async fn runs_started(stack: &Stack, kind: &str) -> anyhow::Result<i64> {
    stack
        .scalar(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = 'acme' AND kind = $1",
            &[&kind],
        )
        .await
}

/// SIGKILLs `worker` once it has started a new sync run of `kind`, after a
/// seeded extra delay: the kill lands while it processes, not before it began.
async fn kill_while_running(
    stack: &Stack,
    mut worker: tokio::process::Child,
    kind: &str,
    started_before: i64,
    extra: Duration,
) -> anyhow::Result<()> {
    eventually(
        "the worker starts a sync run",
        Duration::from_secs(30),
        || async { Ok(runs_started(stack, kind).await? > started_before) },
    )
    .await?;
    tokio::time::sleep(extra).await;
    worker.kill().await?;
    Ok(())
}

/// Lets an in-process worker finish what the killed ones left (redelivered
/// messages, expired leases' reruns), then stops it. No new sync is asked for.
async fn finish_left_work(stack: &mut Stack) -> anyhow::Result<()> {
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(3))
        .await?;
    stack.settle(Duration::from_secs(120)).await?;
    for worker in std::mem::take(&mut stack.workers) {
        worker.shutdown.cancel();
        let _ = worker.task.await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_sigkilled_during_full_syncs_lose_nothing() -> anyhow::Result<()> {
    const PER_ROUND: usize = 5;
    let mut timing = Timing::from_env();
    let (mut stack, integration) = Stack::imported("acme", 1200, 71).await?;
    // From here on, work is done only by worker processes that are SIGKILLed
    // mid-work, and then by a worker that only redoes what they left: no full
    // sync is asked for before an oracle check beyond those the kills cut
    // short, since a fresh one would repair lost work and hide it. Phase 1's
    // full syncs can still carry a lost webhook's change (a later round's
    // listing sees it), so phase 2 runs with no full sync at all: there a
    // message lost with a killed worker stays lost, and the check fails.
    for worker in std::mem::take(&mut stack.workers) {
        worker.shutdown.cancel();
        let _ = worker.task.await;
    }
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 200}))
        .await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let targets = hris_e2e::conformance::still_employed(&employees);
    let mut pick = (0..).map(|i: usize| targets[i * 7 % targets.len()]);
    let accepted_before = counter("webhook_requests_total", "outcome=\"accepted\"");
    let mut expected = BTreeMap::new();
    let mut kills = 0;

    // 1. Full syncs running, changes arriving by webhook meanwhile, the worker
    //    killed while it processes them.
    let n = rounds(4);
    for round in 0..n {
        let before = runs_started(&stack, "full").await?;
        let worker = stack.worker_process(&[("FETCH_LEASE_SECS", "3")])?;
        stack.request_sync("acme", FetchKind::Full).await?;
        let ids: Vec<&str> = pick.by_ref().take(PER_ROUND).collect();
        promote_by_webhook(
            &stack,
            &integration,
            &ids,
            &format!("Full {round}"),
            &mut expected,
        )
        .await?;
        let extra = Duration::from_millis(timing.next(800));
        kill_while_running(&stack, worker, "full", before, extra).await?;
        kills += 1;
    }
    finish_left_work(&mut stack).await?;
    let changed_1 = expected.len();
    let present_1 = present(&stack, &expected).await?;
    converged(&stack, "acme", &integration).await?;

    // 2. No full sync in flight at all: only webhooks can bring these changes,
    //    so a message lost with a killed worker would stay lost.
    for round in 0..rounds(2) {
        let before = runs_started(&stack, "incremental").await?;
        let worker = stack.worker_process(&[("FETCH_LEASE_SECS", "3")])?;
        let ids: Vec<&str> = pick.by_ref().take(PER_ROUND).collect();
        promote_by_webhook(
            &stack,
            &integration,
            &ids,
            &format!("Webhook {round}"),
            &mut expected,
        )
        .await?;
        let extra = Duration::from_millis(timing.next(300));
        kill_while_running(&stack, worker, "incremental", before, extra).await?;
        kills += 1;
    }
    finish_left_work(&mut stack).await?;
    let changed = expected.len();
    let present_2 = present(&stack, &expected).await?;
    converged(&stack, "acme", &integration).await?;

    let accepted = counter("webhook_requests_total", "outcome=\"accepted\"") - accepted_before;
    let cut_short = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status = 'running'",
            "acme",
        )
        .await?;
    let failed_runs = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status NOT IN ('running', 'succeeded')",
            "acme",
        )
        .await?;
    let dead = stack
        .count(
            "SELECT count(*) FROM dead_letters WHERE tenant_id = $1",
            "acme",
        )
        .await?;
    let dead_queued = stack
        .inspector
        .depth(&stack.inspector.topology().dead_letter_queue())
        .await?;
    println!(
        "chaos/sigkill: {kills} workers SIGKILLed mid-sync ({cut_short} runs cut short); {accepted} webhooks accepted and {} full syncs requested for {changed} changed people; after the full-sync kills {present_1} of {changed_1} changes present, after the webhook kills {present_2} of {changed}; failed runs {failed_runs}; dead letters {dead} archived, {dead_queued} queued",
        n
    );
    // Every change that was announced landed, with no repairing sync.
    assert_eq!(present_1, changed_1, "changes lost to the full-sync kills");
    assert_eq!(present_2, changed, "changes lost to the webhook kills");
    // The changes came by webhook (the simulator batches a flush into one).
    assert!(
        accepted >= kills as u64,
        "{accepted} webhooks for {kills} rounds"
    );
    // The kills hit work in progress, and none of it failed or was given up.
    assert!(cut_short >= 1, "no kill interrupted a sync run");
    assert_eq!(failed_runs, 0, "a kill made a sync run fail");
    assert_eq!((dead, dead_queued), (0, 0), "a kill dead-lettered work");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_connections_cut_during_webhook_bursts_lose_nothing() -> anyhow::Result<()> {
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 400, 72).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let (mut accepted, mut refused, mut cuts) = (0, 0, 0);
    for round in 0..rounds(3) {
        for i in 0..10 {
            let e = &employees[(round * 10 + i) % employees.len()];
            stack.sim.mutate(&integration, json!({"op": "rename", "employee_id": e.id, "first_name": format!("R{round}x{i}"), "silent": true})).await?;
        }
        let burst = async {
            let mut results = Vec::new();
            for i in 0..40 {
                let body = data_changed(
                    &format!("burst-{round}-{i}"),
                    &integration,
                    &["hris_employees", "hris_teams"],
                );
                // Kombo retries what was not answered 200; so does this burst.
                let mut tries = 0;
                loop {
                    tries += 1;
                    let status = stack.receiver.post_signed(&body).await.unwrap_or(0);
                    results.push(status);
                    if status == 200 || tries > 50 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            results
        };
        let cut = async {
            tokio::time::sleep(Duration::from_millis(timing.next(400))).await;
            let mut n = hris_e2e::bus::close_connections_named(&stack.receiver.connection_name)
                .await
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(timing.next(400))).await;
            for w in &stack.workers {
                n += hris_e2e::bus::close_connections_named(&w.connection_name)
                    .await
                    .unwrap_or(0);
            }
            n
        };
        let (results, n) = tokio::join!(burst, cut);
        cuts += n;
        accepted += results.iter().filter(|s| **s == 200).count();
        refused += results.iter().filter(|s| **s != 200).count();
        assert!(
            results.iter().all(|s| *s == 200 || *s == 503 || *s == 0),
            "only 200 or 503: {results:?}"
        );
    }
    stack.settle(Duration::from_secs(60)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/broker: {cuts} connections cut; {accepted} webhooks accepted, {refused} answered 503 (retried by the sender); {}; lost 0; duplicated effects 0",
        counts()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_connections_terminated_mid_transaction_lose_nothing() -> anyhow::Result<()> {
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 2000, 73).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 30}))
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    let admin = hris_e2e::admin_database_url();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let mut terminated = 0i64;
    for _ in 0..rounds(5) {
        tokio::time::sleep(Duration::from_millis(100 + timing.next(500))).await;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()) t",
                &[&stack.db.name],
            )
            .await?
            .get(0);
        terminated += n;
    }
    stack.sim.set_faults(&integration, json!({})).await?;
    eventually("the import completes", Duration::from_secs(120), || async {
        Ok(stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?
            == 2000)
    })
    .await?;
    stack.settle(Duration::from_secs(120)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/database: {terminated} database connections terminated mid-import; {}; lost 0; duplicated effects 0",
        counts()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_stopped_and_started_during_a_sync_loses_nothing() -> anyhow::Result<()> {
    // A node of its own: stopping the shared broker would fail every other test.
    let broker = hris_e2e::broker::PrivateBroker::start().await?;
    hris_e2e::use_amqp_url(&broker.url());
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 1500, 74).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 40}))
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let mut refused = 0;
    let mut accepted = 0;
    for round in 0..rounds(2) {
        tokio::time::sleep(Duration::from_millis(300 + timing.next(700))).await;
        broker.stop()?;
        // Kombo keeps sending while the broker is down: 503, retried later.
        let e = &employees[round * 11 % employees.len()];
        stack.sim.mutate(&integration, json!({"op": "promote", "employee_id": e.id, "job_title": format!("Outage {round}"), "silent": true})).await?;
        let body = data_changed(
            &format!("outage-{round}"),
            &integration,
            &["hris_employees"],
        );
        let status = stack.receiver.post_signed(&body).await.unwrap_or(0);
        assert_eq!(status, 503, "nothing durable without a broker");
        refused += 1;
        tokio::time::sleep(Duration::from_millis(1000 + timing.next(2000))).await;
        broker.start_again().await?;
        eventually(
            "the receiver takes events again",
            Duration::from_secs(60),
            || async { Ok(stack.receiver.post_signed(&body).await.unwrap_or(0) == 200) },
        )
        .await?;
        accepted += 1;
        // The test's own inspection connection died with the broker; open a new
        // one (forgetting the old: dropping it would delete the queues).
        let inspector = hris_e2e::bus::Inspector::connect(&stack.prefix).await?;
        std::mem::forget(std::mem::replace(&mut stack.inspector, inspector));
    }
    stack.sim.set_faults(&integration, json!({})).await?;
    stack.settle(Duration::from_secs(120)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/rabbitmq-restart: broker stopped and started {} times during a full sync; {refused} webhooks answered 503 while down, {accepted} accepted after; {}; lost 0; duplicated effects 0",
        rounds(2),
        counts()
    );
    Ok(())
}
