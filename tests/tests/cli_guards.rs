//! Destructive commands are guarded: without `--all`, `--yes` or a filter they
//! change nothing and exit 4 (documented in `--help`); a typo in a filter
//! value is a usage error (exit 2), not "no dead letters match".

use std::time::Duration;

use hris_e2e::TestDb;
use hris_store::NewDeadLetter;

fn letter(n: u32) -> NewDeadLetter {
    NewDeadLetter {
        dedupe_key: format!("guard-{n}"),
        message_id: Some(format!("E-{n}")),
        routing_key: "employees".into(),
        tenant_id: Some("acme".into()),
        integration_id: None,
        entity: Some("employees".into()),
        reason: "permanent: test".into(),
        error_class: "permanent".into(),
        error_code: None,
        log_url: None,
        error_message: None,
        attempts: 1,
        first_failed_at: None,
        last_failed_at: None,
        headers: serde_json::json!({}),
        payload: b"{}".to_vec(),
    }
}

/// `hris-sync ARGS` against the database at `db` and `prefix`'s queues; exit
/// code and stderr.
async fn run(db: &str, prefix: &str, args: &[&str]) -> anyhow::Result<(Option<i32>, String)> {
    let (code, _, stderr) = run_out(db, prefix, args).await?;
    Ok((code, stderr))
}

/// As [`run`], with stdout too.
async fn run_out(
    db: &str,
    prefix: &str,
    args: &[&str],
) -> anyhow::Result<(Option<i32>, String, String)> {
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(hris_e2e::hris_sync_bin())
            .args(args)
            .env("DATABASE_URL", db)
            .env("AMQP_URL", hris_e2e::amqp_url())
            .env("AMQP_PREFIX", prefix)
            .env("RUST_LOG", "warn")
            .output(),
    )
    .await??;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unguarded_replay_and_purge_change_nothing_and_exit_4() -> anyhow::Result<()> {
    let db = TestDb::migrated().await?;
    // A replay that got through would declare these: they go with the test.
    let prefix = hris_e2e::amqp_prefix();
    let _queues = hris_e2e::bus::TestQueues::new(&prefix);
    let store = db.store();
    store.add_tenant(&"acme".into(), "Acme", None).await?;
    for n in 0..2 {
        store.archive_dead_letter(&letter(n)).await?;
    }
    let pending = || async {
        let filter = hris_store::DeadLetterFilter {
            state: Some("pending".into()),
            ..Default::default()
        };
        anyhow::Ok(store.dead_letters(&filter, 100).await?.len())
    };
    assert_eq!(pending().await?, 2);

    let (code, stderr) = run(&db.url, &prefix, &["dlq", "replay"]).await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(
        stderr.contains("2 pending dead letters") && stderr.contains("--all"),
        "{stderr}"
    );
    assert_eq!(pending().await?, 2, "an unguarded replay replayed");

    let (code, stderr) = run(&db.url, &prefix, &["dlq", "purge", "--tenant", "acme"]).await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("--yes"), "{stderr}");
    assert_eq!(pending().await?, 2, "a purge without --yes purged");

    // A typo'd filter value is a usage error naming the allowed values.
    let (code, stderr) = run(&db.url, &prefix, &["dlq", "list", "--entity", "employes"]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("employees"), "{stderr}");
    let (code, stderr) = run(
        &db.url,
        &prefix,
        &["dlq", "replay", "--error-class", "perm"],
    )
    .await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(pending().await?, 2);

    // A dry run says, as JSON, what each replay would do, and does nothing.
    let (code, out, stderr) = run_out(
        &db.url,
        &prefix,
        &["dlq", "replay", "--all", "--dry-run", "--json"],
    )
    .await?;
    assert_eq!(code, Some(0), "{stderr}");
    let dry: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(
        dry["would_replay"].as_array().map(Vec::len),
        Some(2),
        "{out}"
    );
    assert_eq!(pending().await?, 2);

    // With the guard answered, it acts and reports the ids.
    let (code, out, stderr) = run_out(
        &db.url,
        &prefix,
        &["dlq", "purge", "--yes", "--tenant", "acme", "--json"],
    )
    .await?;
    assert_eq!(code, Some(0), "{stderr}");
    let purged: serde_json::Value = serde_json::from_str(&out)?;
    assert_eq!(purged["purged"].as_array().map(Vec::len), Some(2), "{out}");
    assert_eq!(pending().await?, 0);
    Ok(())
}

#[tokio::test]
async fn the_exit_codes_are_in_the_help() -> anyhow::Result<()> {
    let out = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .arg("--help")
        .output()
        .await?;
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("Exit codes:") && help.contains("4  refused"),
        "{help}"
    );
    Ok(())
}

#[tokio::test]
async fn not_found_and_unavailable_have_their_own_exit_codes() -> anyhow::Result<()> {
    let db = TestDb::migrated().await?;
    let prefix = hris_e2e::amqp_prefix();
    let (code, stderr) = run(&db.url, &prefix, &["tenant", "show", "--tenant", "nobody"]).await?;
    assert_eq!(code, Some(3), "{stderr}");
    // Nothing listens on port 1.
    let down = "postgres://postgres@127.0.0.1:1/none";
    let (code, stderr) = run(down, &prefix, &["dlq", "list"]).await?;
    assert_eq!(code, Some(5), "{stderr}");
    Ok(())
}
