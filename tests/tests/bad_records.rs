//! One bad HR record never freezes a tenant: odd bytes, wrong types, a huge
//! email, a value the database refuses, and a listing whose cursor loops. The
//! bad record is set aside as a record issue (with a reason that quotes no
//! value), everything else converges, nothing is retried for hours, and the
//! record heals by itself once the HR system fixes it.

use std::time::{Duration, Instant};

use hris_bus::FetchKind;
use hris_e2e::conformance::{employees, full_mismatches, mismatches, still_employed};
use hris_e2e::faults::{dead_letters, issues};
use hris_e2e::privacy::{WorkerLogs, found_in, stored_errors};
use hris_e2e::stack::{Stack, eventually};
use serde_json::{Value, json};

const IBAN: &str = "DE89370400440532013000";
const BIRTH_DATE: &str = "1961-07-23";
/// A birth date as a number, in a field that holds text.
const BIRTH_NUMBER: &str = "19610723";

/// The employees watermark of acme.
async fn watermark(stack: &Stack) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
    Ok(stack
        .store
        .client()
        .await?
        .query_opt(
            "SELECT watermark FROM sync_state WHERE tenant_id = 'acme' AND entity = 'employees'",
            &[],
        )
        .await?
        .and_then(|r| r.get(0)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_records_are_set_aside_and_the_rest_of_the_tenant_converges() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
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
        targets[1].clone(): { "job_title": BIRTH_NUMBER },
        targets[2].clone(): { "groups": format!(r#"{{"iban": "{IBAN}", "born": "{BIRTH_DATE}"}}"#) },
        targets[3].clone(): { "last_name": r#""Smith\ud800""# },
        targets[4].clone(): { "work_email": huge_email },
    });
    stack
        .sim
        .set_faults(&acme, json!({ "corrupt": corrupt }))
        .await?;
    // A worker process: its logs are read at the end, its metrics on the way.
    let worker = WorkerLogs::start(&stack)?;

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
    let dead = dead_letters(&stack).await?;
    let set_aside_metric = worker
        .metric(
            "hris_sync_records_set_aside_total",
            &["entity=\"employees\""],
        )
        .await?;
    let watermark_after_full = watermark(&stack).await?;
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
    assert_eq!(
        set_aside_metric, 2.0,
        "the metric counts what was set aside"
    );
    assert!(
        watermark_after_full.is_some(),
        "the watermark moves past a page with bad records"
    );
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
        assert!(!reason.contains(BIRTH_NUMBER), "value in reason: {reason}");
        assert!(!reason.contains("DE89"), "value in reason: {reason}");
        assert!(!reason.contains(BIRTH_DATE), "value in reason: {reason}");
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
    assert_eq!(dead_letters(&stack).await?, 0);
    let watermark_after_hire = watermark(&stack).await?;
    assert!(
        watermark_after_hire > watermark_after_full,
        "the watermark moves on with the bad records still there: {watermark_after_full:?} → {watermark_after_hire:?}"
    );

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

    // The personal values in the bad records are nowhere: not in a run's or
    // fetch's error, a record issue, a dead letter (archived or queued), the
    // database at all, or the worker's logs at debug level.
    let stored = stored_errors(&stack).await?;
    let dump = hris_e2e::privacy::pg_dump(&stack.db).await?;
    let logs = worker.stop().await?;
    assert!(
        logs.contains("fetch complete"),
        "the worker's logs were captured:\n{logs}"
    );
    let personal = [IBAN, BIRTH_DATE, BIRTH_NUMBER];
    for (place, text) in [
        ("stored errors", &stored),
        ("database", &dump),
        ("logs", &logs),
    ] {
        let found = found_in(text, &personal);
        assert!(found.is_empty(), "{found:?} in the {place}");
    }
    println!(
        "bad records: {} log lines, {} bytes of stored errors, a {} byte dump: no IBAN or birth date",
        logs.lines().count(),
        stored.len(),
        dump.len()
    );
    Ok(())
}
