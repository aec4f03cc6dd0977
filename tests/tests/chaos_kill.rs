//! Workers SIGKILLed while they process full syncs and webhook changes, with
//! seeded random timing (HRIS_CHAOS_ROUNDS, HRIS_CHAOS_SEED): the oracle and
//! every changed person are checked with no repairing full sync, and every
//! message published (seen by a witness queue) was applied: a sync run that
//! started after it was received completed.

use std::collections::BTreeMap;
use std::time::Duration;

use hris_bus::{Entity, FetchKind, Trigger};
use hris_e2e::burst::declare_witness;
use hris_e2e::chaos::{Timing, converged, rounds};
use hris_e2e::metrics::counter;
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

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
    // Every employees message published from here on, whoever consumes it.
    let witness = declare_witness(&stack).await?;
    let accepted_before = counter(
        "hris_sync_webhook_requests_total",
        &["outcome=\"accepted\""],
    );
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

    let accepted = counter(
        "hris_sync_webhook_requests_total",
        &["outcome=\"accepted\""],
    ) - accepted_before;
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
    // Published vs applied: a message is applied when a sync run of its kind
    // (or a full one) started after it was received and succeeded; a message
    // acked but never acted on would have none.
    let mut published = BTreeMap::new();
    for taken in stack.inspector.drain(&witness).await? {
        let e = taken.envelope;
        published.insert(e.event_id, (e.kind, e.trigger, e.received_at));
    }
    let triggered = |by: Trigger| {
        published
            .values()
            .filter(|(_, trigger, _)| *trigger == by)
            .count()
    };
    let (by_webhook, asked_for) = (triggered(Trigger::Webhook), triggered(Trigger::ImportAll));
    let mut unapplied = Vec::new();
    for (event, (kind, _, received_at)) in &published {
        let kinds: &[&str] = match kind {
            FetchKind::Full => &["full"],
            FetchKind::Incremental => &["full", "incremental"],
        };
        let kinds: Vec<String> = kinds.iter().map(|k| (*k).to_owned()).collect();
        let covering = stack
            .scalar(
                "SELECT count(*) FROM sync_runs WHERE tenant_id = 'acme' AND entity = 'employees'
                   AND status = 'succeeded' AND kind = ANY($1) AND started_at >= $2",
                &[&kinds, received_at],
            )
            .await?;
        if covering == 0 {
            unapplied.push(event.clone());
        }
    }
    println!(
        "chaos/sigkill: {kills} workers SIGKILLed mid-sync ({cut_short} runs cut short); {accepted} webhooks accepted and {} full syncs requested for {changed} changed people; after the full-sync kills {present_1} of {changed_1} changes present, after the webhook kills {present_2} of {changed}; failed runs {failed_runs}; dead letters {dead} archived, {dead_queued} queued; \
         {} messages published ({by_webhook} by webhook, {asked_for} full syncs asked for), {} applied",
        n,
        published.len(),
        published.len() - unapplied.len()
    );
    // Every change that was announced landed, with no repairing sync.
    assert_eq!(present_1, changed_1, "changes lost to the full-sync kills");
    assert_eq!(present_2, changed, "changes lost to the webhook kills");
    // The changes came by webhook (the simulator batches a flush into one).
    assert!(
        accepted >= kills as u64,
        "{accepted} webhooks for {kills} rounds"
    );
    // Each accepted webhook published its message, each full sync asked
    // for its own, and every one of them was applied.
    assert_eq!(
        by_webhook as u64, accepted,
        "an accepted webhook published nothing"
    );
    assert_eq!(asked_for, n, "one message per full sync asked for");
    assert!(
        unapplied.is_empty(),
        "published but never applied: {unapplied:?}"
    );
    // The kills hit work in progress, and none of it failed or was given up.
    assert!(cut_short >= 1, "no kill interrupted a sync run");
    assert_eq!(failed_runs, 0, "a kill made a sync run fail");
    assert_eq!((dead, dead_queued), (0, 0), "a kill dead-lettered work");
    Ok(())
}
