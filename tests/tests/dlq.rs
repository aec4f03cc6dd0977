//! On-call's tools on real services: the archive, list, show, replay, purge,
//! explain; run as the `hris-sync` binary, as on-call would.

use std::time::Duration;

use hris_bus::{Entity, FetchKind, RawOutgoing};
use hris_e2e::stack::{Stack, eventually};
use hris_worker::dead_letters;
use serde_json::{Value, json};

/// Runs `hris-sync` against this stack; returns stdout (fails on a non-zero exit).
async fn cli(stack: &Stack, args: &[&str]) -> anyhow::Result<String> {
    let out = cli_status(stack, args).await?;
    anyhow::ensure!(out.0, "hris-sync {args:?} failed: {}", out.2);
    Ok(out.1)
}

async fn cli_status(stack: &Stack, args: &[&str]) -> anyhow::Result<(bool, String, String)> {
    let out = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(args)
        .env("DATABASE_URL", &stack.db.url)
        .env("AMQP_URL", hris_e2e::amqp_url())
        .env("AMQP_PREFIX", &stack.prefix)
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

async fn archived(stack: &Stack) -> anyhow::Result<i64> {
    let client = stack.store.client().await?;
    Ok(client
        .query_one("SELECT count(*) FROM dead_letters", &[])
        .await?
        .get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_is_archived_once_with_its_reason() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    // A worker process that dies right after its archive insert commits and
    // before it acks: the crash the archive's idempotency exists for.
    let mut crashing = stack.worker_process(&[(dead_letters::FAILPOINT, "1")])?;
    let poison = RawOutgoing {
        exchange: stack.inspector.topology().events_exchange(),
        routing_key: "teams".to_owned(),
        payload: b"\xff not an envelope".to_vec(),
        properties: lapin::BasicProperties::default().with_message_id("poison-7".into()),
    };
    stack.publisher.publish_raw(vec![poison]).await?;
    let status = tokio::time::timeout(Duration::from_secs(30), crashing.wait()).await??;
    assert_eq!(
        status.code(),
        Some(dead_letters::FAILPOINT_EXIT_CODE),
        "the archiver died at the failpoint"
    );
    assert_eq!(archived(&stack).await?, 1, "the insert committed");
    // Unacked, so the broker puts the dead letter back: a real redelivery.
    let queue = stack.inspector.topology().dead_letter_queue();
    eventually(
        "the dead letter is back in its queue",
        Duration::from_secs(10),
        || async { Ok(stack.inspector.depth(&queue).await? == 1) },
    )
    .await?;

    // The next archiver takes it again, finds it archived, and acks it.
    let archiver_outcomes = |fresh: &str| {
        let text = hris_telemetry::metrics_handle().render();
        text.lines()
            .filter(|l| l.starts_with("hris_sync_dead_letters_archived_total") && l.contains(fresh))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>()
    };
    let redone = || archiver_outcomes("fresh=\"false\"");
    stack
        .spawn_worker_with(&[], true, Duration::from_secs(10))
        .await?;
    eventually(
        "the redelivered dead letter is handled",
        Duration::from_secs(10),
        // This letter's own outcome: other tests of this binary archive
        // fresh letters into the same process-wide counter meanwhile.
        || async { Ok(redone() >= 1.0) },
    )
    .await?;
    // Acked this time: the queue stays empty once its consumer lets go.
    for worker in std::mem::take(&mut stack.workers) {
        worker.shutdown.cancel();
        let _ = worker.task.await;
    }
    let left = stack.inspector.depth(&queue).await?;
    let rows = archived(&stack).await?;
    println!(
        "archiver killed after its insert: redelivered once, {} re-archive found it stored, {rows} archived row, {left} left in the queue",
        redone() as u64
    );
    assert_eq!(rows, 1, "a redelivered dead letter is not archived twice");
    assert_eq!(redone(), 1.0, "the redelivery was recognised as archived");
    assert_eq!(left, 0, "acked after archiving");

    let rows: Value =
        serde_json::from_str(&cli(&stack, &["dlq", "list", "--messages", "--json"]).await?)?;
    let row = &rows[0];
    assert_eq!(row["error_class"], "poison");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["routing_key"], "teams");
    assert_eq!(row["message_id"], "poison-7");
    assert!(
        row["headers"]["x-hris-detail"]
            .as_str()
            .is_some_and(|d| d.contains("unreadable envelope"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_key_is_archived_replayed_once_and_purged_with_an_audit() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 90, 31).await?;
    stack
        .sim
        .set_faults(
            &integration,
            json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID",
                   "error_message": "The token of 'Jane Doe' (jane.doe@acme.example) was revoked."}),
        )
        .await?;
    stack
        .spawn_worker_with(&Entity::ALL, true, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    eventually(
        "four dead letters archived",
        Duration::from_secs(20),
        || async { Ok(archived(&stack).await? == 4) },
    )
    .await?;

    let summary: Value = serde_json::from_str(&cli(&stack, &["dlq", "list", "--json"]).await?)?;
    assert_eq!(summary[0]["error_class"], "permanent");
    assert_eq!(summary[0]["tenant_id"], "acme");
    assert_eq!(summary[0]["count"], 4);
    let table = cli(&stack, &["dlq", "list"]).await?;
    assert!(
        table.contains("INTEGRATION.AUTHENTICATION_INVALID"),
        "{table}"
    );
    let employees: Value = serde_json::from_str(
        &cli(
            &stack,
            &[
                "dlq",
                "list",
                "--messages",
                "--json",
                "--entity",
                "employees",
                "--error-class",
                "permanent",
                "--since",
                "1h",
            ],
        )
        .await?,
    )?;
    assert_eq!(employees.as_array().map(Vec::len), Some(1));
    let id = employees[0]["id"].as_i64().unwrap_or_default().to_string();
    assert_eq!(
        employees[0]["error_code"],
        "INTEGRATION.AUTHENTICATION_INVALID"
    );
    // Kombo's message is kept (its log expires), the person in it is not.
    assert_eq!(
        employees[0]["error_message"],
        "The token of [value] ([email]) was revoked."
    );
    assert!(
        employees[0]["log_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://app.kombo.dev/logs/"))
    );
    let show = cli(&stack, &["dlq", "show", &id]).await?;
    assert!(!show.contains("jane") && !show.contains("Jane"), "{show}");
    let none: Value = serde_json::from_str(
        &cli(
            &stack,
            &["dlq", "list", "--messages", "--json", "--tenant", "other"],
        )
        .await?,
    )?;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let shown = cli(&stack, &["dlq", "show", &id]).await?;
    assert!(
        shown.contains("replaying would: a Full fetch of employees for tenant acme"),
        "{shown}"
    );

    // The customer reconnects: the cause is fixed. (On-call replays minutes
    // later; waiting out the 2 s clock-skew margin a fetch must clear to cover
    // a message makes "covered" what the second replay tests.)
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stack.sim.set_faults(&integration, json!({})).await?;
    let dry = cli(&stack, &["dlq", "replay", "--tenant", "acme", "--dry-run"]).await?;
    assert!(dry.contains("4 dead letters would be replayed"), "{dry}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        0,
        "a dry run changes nothing"
    );
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM dead_letters WHERE state = 'pending' AND tenant_id = $1",
                "acme"
            )
            .await?,
        4
    );

    cli(
        &stack,
        &["dlq", "replay", "--tenant", "acme", "--actor", "oncall-ana"],
    )
    .await?;
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        90
    );
    let replayed = stack.store.dead_letter(id.parse()?).await?;
    assert_eq!(
        (replayed.state.as_str(), replayed.replayed_by.as_deref()),
        ("replayed", Some("oncall-ana"))
    );
    let history = stack
        .count(
            "SELECT count(*) FROM change_log WHERE tenant_id = $1",
            "acme",
        )
        .await?;
    let runs = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1",
            "acme",
        )
        .await?;

    // Replaying the same message again applies nothing twice.
    cli(&stack, &["dlq", "replay", &id, "--actor", "oncall-ana"]).await?;
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM change_log WHERE tenant_id = $1",
                "acme"
            )
            .await?,
        history
    );
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM sync_runs WHERE tenant_id = $1",
                "acme"
            )
            .await?,
        runs,
        "covered: no fetch at all"
    );
    assert_eq!(stack.store.dead_letter(id.parse()?).await?.replay_count, 2);

    let (ok, _, err) = cli_status(&stack, &["dlq", "purge", &id]).await?;
    assert!(!ok && err.contains("--yes"), "purge asks for --yes");
    cli(
        &stack,
        &["dlq", "purge", &id, "--yes", "--actor", "oncall-ana"],
    )
    .await?;
    let purged = stack.store.dead_letter(id.parse()?).await?;
    assert_eq!(purged.state, "purged");
    assert!(purged.letter.payload.is_empty(), "the payload is gone");
    let client = stack.store.client().await?;
    let audit: Vec<(String, String)> = client
        .query(
            "SELECT action, actor FROM dlq_audit WHERE dead_letter_id = $1 ORDER BY id",
            &[&id.parse::<i64>()?],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(audit.len(), 3);
    assert_eq!(audit[2], ("purge".to_owned(), "oncall-ana".to_owned()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn explain_tells_why_a_person_was_deactivated() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 40, 32).await?;
    stack
        .spawn_worker_with(&Entity::ALL, true, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let e = employees
        .iter()
        .find(|e| e.termination_date.is_none() && e.work_email.is_some())
        .map(|e| (e.id.clone(), e.work_email.clone().unwrap_or_default()));
    let (id, email) = e.unwrap_or_default();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "terminate", "employee_id": id, "days_from_today": -1}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let out = cli(
        &stack,
        &[
            "explain",
            "--tenant",
            "acme",
            "--user",
            &email.to_uppercase(),
        ],
    )
    .await?;
    assert!(
        out.contains("deactivated — employment_status_inactive")
            || out.contains("deactivated — leave_date_reached"),
        "{out}"
    );
    // The history table's row: field, old value, new value.
    assert!(
        out.lines().any(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            words
                .windows(3)
                .any(|w| w == ["status", "active", "deactivated"])
        }),
        "{out}"
    );
    assert!(out.contains("incremental/webhook"), "{out}");
    let json: Value = serde_json::from_str(
        &cli(
            &stack,
            &["explain", "--tenant", "acme", "--user", &id, "--json"],
        )
        .await?,
    )?;
    assert_eq!(json["user"]["status"], "deactivated");
    assert!(
        json["history"]
            .as_array()
            .is_some_and(|h| h.iter().any(|c| c["field"] == "leave_date"))
    );
    Ok(())
}
