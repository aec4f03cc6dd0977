//! One bad HR record never freezes a tenant: odd bytes, wrong types, a huge
//! email, a value the database refuses, and a listing whose cursor loops. The
//! bad record is set aside as a record issue (with a reason that quotes no
//! value), everything else converges, nothing is retried for hours, and the
//! record heals by itself once the HR system fixes it.

use std::time::{Duration, Instant};

use hris_bus::{Entity, FetchKind};
use hris_e2e::conformance::{employees, full_mismatches, mismatches, still_employed};
use hris_e2e::stack::{Stack, eventually};
use serde_json::{Value, json};

const IBAN: &str = "DE89370400440532013000";

async fn issues(stack: &Stack, tenant: &str, all: bool) -> anyhow::Result<Vec<Value>> {
    let mut args = vec!["tenant", "issues", "--tenant", tenant, "--json"];
    if all {
        args.push("--all");
    }
    let out: Value = serde_json::from_str(&stack.cli(&args).await?)?;
    Ok(out.as_array().cloned().unwrap_or_default())
}

/// Starts every worker once Kombo serves `faults` for the integration.
async fn with_faults(stack: &mut Stack, integration: &str, faults: Value) -> anyhow::Result<()> {
    stack.sim.set_faults(integration, faults).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await
}

async fn pending_dead_letters(stack: &Stack) -> anyhow::Result<usize> {
    Ok(stack.inspector.dead_letters().await?.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_records_are_set_aside_and_the_rest_of_the_tenant_converges() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let acme = stack.tenant("acme", 280, 131).await?;
    let other = stack.tenant("other", 60, 132).await?;
    let people = employees(&stack, &acme).await?;
    let targets: Vec<String> = still_employed(&people)
        .into_iter()
        .take(5)
        .map(str::to_owned)
        .collect();
    let huge_email = format!("\"{}\"", "x".repeat(100_000));
    let corrupt = json!({
        targets[0].clone(): { "first_name": r#""Ann\u0000a""# },
        targets[1].clone(): { "job_title": "4711" },
        targets[2].clone(): { "groups": format!(r#"{{"iban": "{IBAN}"}}"#) },
        targets[3].clone(): { "last_name": r#""Smith\ud800""# },
        targets[4].clone(): { "work_email": huge_email },
    });
    with_faults(&mut stack, &acme, json!({ "corrupt": corrupt })).await?;

    let started = Instant::now();
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let took = started.elapsed();

    let users = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    let open = issues(&stack, "acme", false).await?;
    let skipped: Vec<&Value> = open.iter().filter(|i| i["severity"] == "skipped").collect();
    let altered: Vec<&Value> = open.iter().filter(|i| i["severity"] == "altered").collect();
    let failed_runs = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status <> 'succeeded'",
            "acme",
        )
        .await?;
    let set_aside_on_run = stack
        .count(
            "SELECT COALESCE(sum(failed), 0)::bigint FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees'",
            "acme",
        )
        .await?;
    let dead = pending_dead_letters(&stack).await?;
    println!(
        "bad records: 280 people, 5 odd records; imported {users} in {:.1} s; {} set aside, {} altered; {failed_runs} failed runs; {dead} dead letters",
        took.as_secs_f64(),
        skipped.len(),
        altered.len()
    );
    // A wrong type (a number for a job title, an object for the group list)
    // cannot be read: set aside. NUL and a lone surrogate are cleaned and the
    // person imported; the 100 KB "email" is cut, flagged and noted.
    assert_eq!(users, 278, "every readable person imported");
    assert_eq!(skipped.len(), 2, "{open:#?}");
    assert_eq!(altered.len(), 1, "{open:#?}");
    assert_eq!(set_aside_on_run, 2);
    assert_eq!(failed_runs, 0, "no run fails for one record");
    assert_eq!(dead, 0, "no dead letter for a bad record");
    assert!(took < Duration::from_secs(45), "no hang: {took:?}");
    let mut skipped_ids: Vec<&str> = skipped
        .iter()
        .filter_map(|i| i["kombo_id"].as_str())
        .collect();
    skipped_ids.sort_unstable();
    let mut expected = vec![targets[1].as_str(), targets[2].as_str()];
    expected.sort_unstable();
    assert_eq!(skipped_ids, expected);
    for issue in &open {
        let reason = issue["reason"].as_str().unwrap_or_default();
        assert!(!reason.contains("4711"), "value in reason: {reason}");
        assert!(!reason.contains("DE89"), "value in reason: {reason}");
        assert!(!reason.contains("xxxxxxxx"), "value in reason: {reason}");
        assert!(reason.len() < 300, "reason stays short: {reason}");
    }
    assert!(skipped.iter().any(|i| {
        i["reason"]
            .as_str()
            .is_some_and(|r| r.contains("job_title"))
    }));
    assert!(
        altered[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("email") && r.contains("100000"))
    );
    let (first, last, email_status, email_len): (Option<String>, Option<String>, String, i32) = {
        let client = stack.store.client().await?;
        let row = client
            .query_one(
                "SELECT (SELECT first_name FROM users WHERE tenant_id = 'acme' AND kombo_id = $1) AS first,
                        (SELECT last_name FROM users WHERE tenant_id = 'acme' AND kombo_id = $2) AS last,
                        (SELECT email_status FROM users WHERE tenant_id = 'acme' AND kombo_id = $3) AS status,
                        (SELECT length(email) FROM users WHERE tenant_id = 'acme' AND kombo_id = $3) AS len",
                &[&targets[0], &targets[3], &targets[4]],
            )
            .await?;
        (
            row.get("first"),
            row.get("last"),
            row.get("status"),
            row.get("len"),
        )
    };
    assert_eq!(first.as_deref(), Some("Anna"));
    assert_eq!(last.as_deref(), Some("Smith\u{fffd}"));
    assert_eq!(email_status, "invalid");
    assert_eq!(email_len, 254);
    // The oracle reads Kombo through the same client: everyone readable matches.
    assert_eq!(
        mismatches(&stack, "acme", &acme, 10).await?,
        Vec::<String>::new()
    );
    assert_eq!(
        full_mismatches(&stack, "other", &other, 10).await?,
        Vec::<String>::new(),
        "the other tenant is untouched"
    );
    // `tenant status` and `explain` show the issues.
    let status: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert_eq!(status["record_issues"]["skipped"], 2);
    let explained: Value = serde_json::from_str(
        &stack
            .cli(&[
                "explain",
                "--tenant",
                "acme",
                "--user",
                &targets[1],
                "--json",
            ])
            .await?,
    )?;
    assert_eq!(explained["record_issues"].as_array().map(Vec::len), Some(1));

    // The tenant is not frozen: a hire made now arrives by webhook.
    let hire = stack.sim.mutate(&acme, json!({"op": "hire"})).await?;
    let hired = hire["id"].as_str().unwrap_or_default().to_owned();
    stack.flush_webhooks().await?;
    eventually("the hire arrives", Duration::from_secs(30), || async {
        Ok(stack
            .count(
                &format!(
                    "SELECT count(*) FROM users WHERE tenant_id = $1 AND kombo_id = '{hired}'"
                ),
                "acme",
            )
            .await?
            == 1)
    })
    .await?;
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(pending_dead_letters(&stack).await?, 0);

    // The HR system fixes the records: the issues close by themselves.
    stack.sim.set_faults(&acme, json!({})).await?;
    stack
        .sim
        .mutate(
            &acme,
            json!({"op": "promote", "employee_id": targets[1], "job_title": "Engineer"}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let still_open: Vec<String> = issues(&stack, "acme", false)
        .await?
        .iter()
        .filter_map(|i| i["kombo_id"].as_str().map(str::to_owned))
        .collect();
    assert!(
        !still_open.contains(&targets[1]),
        "the fixed record's issue closed on its next fetch: {still_open:?}"
    );
    // The untouched ones are read again by the next full sync.
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    assert_eq!(issues(&stack, "acme", false).await?.len(), 0);
    assert_eq!(
        issues(&stack, "acme", true).await?.len(),
        3,
        "kept as history"
    );
    assert_eq!(
        mismatches(&stack, "acme", &acme, 10).await?,
        Vec::<String>::new()
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        281
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_the_database_refuses_sets_aside_only_its_record() -> anyhow::Result<()> {
    let (stack, acme) = Stack::imported("acme", 60, 133).await?;
    // A rule of the platform's own schema that HR data can break.
    stack
        .store
        .client()
        .await?
        .batch_execute(
            "ALTER TABLE users ADD CONSTRAINT platform_title_rule CHECK (job_title IS DISTINCT FROM 'Forbidden Title')",
        )
        .await?;
    let people = employees(&stack, &acme).await?;
    let ids: Vec<String> = still_employed(&people)
        .into_iter()
        .take(3)
        .map(str::to_owned)
        .collect();
    for (id, title) in ids.iter().zip(["Lead", "Forbidden Title", "Architect"]) {
        stack
            .sim
            .mutate(
                &acme,
                json!({"op": "promote", "employee_id": id, "job_title": title}),
            )
            .await?;
    }
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let titles: Vec<Option<String>> = {
        let client = stack.store.client().await?;
        let mut out = Vec::new();
        for id in &ids {
            out.push(
                client
                    .query_one(
                        "SELECT job_title FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
                        &[id],
                    )
                    .await?
                    .get("job_title"),
            );
        }
        out
    };
    let open = issues(&stack, "acme", false).await?;
    let failed_runs = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status <> 'succeeded'",
            "acme",
        )
        .await?;
    println!(
        "write failure: titles now {titles:?}; issues {}; failed runs {failed_runs}",
        open.len()
    );
    assert_eq!(titles[0].as_deref(), Some("Lead"));
    assert_ne!(titles[1].as_deref(), Some("Forbidden Title"));
    assert_eq!(titles[2].as_deref(), Some("Architect"));
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["kombo_id"], ids[1].as_str());
    assert_eq!(open[0]["stage"], "write");
    assert_eq!(open[0]["sqlstate"], "23514");
    let reason = open[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("platform_title_rule"), "{reason}");
    assert!(!reason.contains("Forbidden"), "no value: {reason}");
    assert_eq!(failed_runs, 0);
    assert_eq!(pending_dead_letters(&stack).await?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cursor_that_repeats_ends_the_listing_once_and_visibly() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let acme = stack.tenant("acme", 600, 134).await?;
    with_faults(&mut stack, &acme, json!({ "cursor_loop": true })).await?;
    let started = Instant::now();
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let took = started.elapsed();
    let stats = stack.sim.stats(&acme).await?;
    let requests = stats["requests"]["employees"].as_u64().unwrap_or(0);
    let dead = stack.inspector.dead_letters().await?;
    let reasons: Vec<String> = dead
        .iter()
        .map(|m| {
            m.header_str(hris_bus::incoming::header::REASON)
                .unwrap_or_default()
        })
        .collect();
    let run_error: Option<String> = stack
        .store
        .client()
        .await?
        .query_one(
            "SELECT error FROM sync_runs WHERE tenant_id = 'acme' AND entity = 'employees' ORDER BY started_at DESC LIMIT 1",
            &[],
        )
        .await?
        .get("error");
    println!(
        "cursor loop: {requests} employee requests, {} dead letters, {:.1} s; run error: {run_error:?}",
        dead.len(),
        took.as_secs_f64()
    );
    assert!(requests <= 3, "stopped at the repeat: {requests} requests");
    assert!(
        run_error
            .as_deref()
            .is_some_and(|e| e.contains("repeated a cursor")),
        "{run_error:?}"
    );
    assert!(
        !dead.is_empty() && dead.len() <= 2,
        "one dead letter per looping listing, not a storm: {reasons:?}"
    );
    assert!(took < Duration::from_secs(30), "{took:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_listing_past_its_deadline_ends_and_is_retried() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let acme = stack.tenant("acme", 300, 135).await?;
    // Every page takes 2 s and a fetch may take 3 s: the two pages of
    // employees cannot both be read.
    stack.fetch_deadline = Duration::from_secs(3);
    with_faults(&mut stack, &acme, json!({ "slow_ms": 2000 })).await?;
    stack.request_sync("acme", FetchKind::Full).await?;
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
    assert_eq!(pending_dead_letters(&stack).await?, 0);
    Ok(())
}
