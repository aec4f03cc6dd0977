//! A runaway listing ends, once and visibly: a cursor that repeats, two that
//! take turns, more pages than the cap, a listing past its deadline. Each ends
//! with an error on the run, at most one dead letter (none where retrying
//! helps), in bounded time, and another tenant converges meanwhile.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hris_bus::FetchKind;
use hris_e2e::conformance::full_mismatches;
use hris_e2e::faults::{dead_letters, last_run_error, with_faults};
use hris_e2e::stack::{Stack, eventually};
use serde_json::{Value, json};

/// A tenant whose listing never ends by itself (`fault`), another that is
/// fine: the first ends once with `expected` in its run error and one dead
/// letter, the second converges.
async fn a_looping_listing_ends_once_and_visibly(
    fault: Value,
    expected: &str,
    seed: u64,
) -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    // 600 people: three pages of employees, every other listing one page.
    let acme = stack.tenant("acme", 600, seed).await?;
    let other = stack.tenant("other", 60, seed + 100).await?;
    with_faults(&mut stack, &acme, fault.clone()).await?;
    let started = Instant::now();
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let took = started.elapsed();
    let stats = stack.sim.stats(&acme).await?;
    let requests = stats["requests"]["employees"].as_u64().unwrap_or(0);
    let dead = stack.inspector.dead_letters().await?;
    let mut by_queue = BTreeMap::<String, usize>::new();
    for m in &dead {
        *by_queue.entry(m.routing_key.clone()).or_default() += 1;
    }
    let run_error = last_run_error(&stack, "acme").await?;
    println!(
        "{fault}: {requests} employee requests, dead letters {by_queue:?}, {:.1} s; run error: {run_error:?}",
        took.as_secs_f64()
    );
    assert!(requests <= 4, "stopped at the repeat: {requests} requests");
    assert!(
        run_error.as_deref().is_some_and(|e| e.contains(expected)),
        "{run_error:?}"
    );
    assert_eq!(
        by_queue,
        BTreeMap::from([("employees".to_owned(), 1)]),
        "one dead letter for the one looping listing, not a storm"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant converges"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_that_repeats_ends_the_listing_once_and_visibly() -> anyhow::Result<()> {
    a_looping_listing_ends_once_and_visibly(
        json!({ "cursor_loop": true }),
        "repeated a cursor",
        134,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_cursors_taking_turns_end_the_listing_once_and_visibly() -> anyhow::Result<()> {
    a_looping_listing_ends_once_and_visibly(
        json!({ "cursor_cycle": true }),
        "repeated a cursor",
        136,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listing_over_its_page_cap_ends_once_and_visibly() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    // 800 people: four pages of employees; every other listing one page.
    let acme = stack.tenant("acme", 800, 138).await?;
    let other = stack.tenant("other", 60, 139).await?;
    let mut worker = stack.worker_process(&[("KOMBO_MAX_PAGES", "2")])?;
    let started = Instant::now();
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    // The worker archives its dead letters (`--entity all`).
    let archived =
        "SELECT count(*) FROM dead_letters WHERE tenant_id = 'acme' AND entity = 'employees'";
    eventually(
        "the dead letter is archived",
        Duration::from_secs(60),
        || async { Ok(stack.scalar(archived, &[]).await? > 0) },
    )
    .await?;
    stack.settle(Duration::from_secs(60)).await?;
    let took = started.elapsed();
    let requests = stack.sim.stats(&acme).await?["requests"]["employees"]
        .as_u64()
        .unwrap_or(0);
    let run_error = last_run_error(&stack, "acme").await?;
    let fetch_error: Option<String> = stack
        .store
        .client()
        .await?
        .query_one(
            "SELECT last_error FROM sync_state WHERE tenant_id = 'acme' AND entity = 'employees'",
            &[],
        )
        .await?
        .get(0);
    let dead = dead_letters(&stack).await?;
    let archived_for = stack.scalar(archived, &[]).await?;
    println!(
        "page cap 2: {requests} employee requests, {dead} dead letters, {:.1} s; run error: {run_error:?}",
        took.as_secs_f64()
    );
    assert_eq!(requests, 2, "no page past the cap is asked for");
    for error in [&run_error, &fetch_error] {
        assert!(
            error
                .as_deref()
                .is_some_and(|e| e.contains("passed the cap of 2 pages")),
            "{error:?}"
        );
    }
    assert_eq!(
        (dead, archived_for),
        (1, 1),
        "one dead letter, the employees listing's"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant converges"
    );
    worker.kill().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listing_past_its_deadline_ends_and_is_retried() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let acme = stack.tenant("acme", 300, 135).await?;
    let other = stack.tenant("other", 60, 235).await?;
    // Every page takes 2 s and a fetch may take 3 s: the two pages of
    // employees cannot both be read.
    stack.fetch_deadline = Duration::from_secs(3);
    with_faults(&mut stack, &acme, json!({ "slow_ms": 2000 })).await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    eventually("the fetch fails at its deadline", Duration::from_secs(20), || async {
        Ok(stack
            .count(
                "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees' AND error LIKE '%deadline%'",
                "acme",
            )
            .await?
            > 0)
    })
    .await?;
    // Kombo is quick again: the retry of the same message completes.
    stack.sim.set_faults(&acme, json!({})).await?;
    let ran_for: f64 = stack
        .store
        .client()
        .await?
        .query_one(
            "SELECT extract(epoch FROM finished_at - started_at)::float8 AS secs FROM sync_runs
             WHERE tenant_id = 'acme' AND entity = 'employees' AND error LIKE '%deadline%' LIMIT 1",
            &[],
        )
        .await?
        .get("secs");
    stack.settle(Duration::from_secs(60)).await?;
    let users = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    println!(
        "deadline: the listing stopped after {ran_for:.1} s (deadline 3 s); then {users} imported"
    );
    // Stopped at its deadline (not renewed on by its heartbeat), give or take
    // the run's bookkeeping.
    assert!((2.9..6.0).contains(&ran_for), "{ran_for}");
    assert_eq!(users, 300);
    assert_eq!(dead_letters(&stack).await?, 0, "retried, not given up");
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant converges"
    );
    Ok(())
}
