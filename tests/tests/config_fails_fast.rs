//! Configuration fails fast: a setting out of range or missing is a usage
//! error (exit 2) at start, naming the setting, never silently changed to
//! something else. No service is needed: these fail before connecting.

use std::time::Duration;

/// Runs `hris-sync ARGS` with a base environment and `env` on top; its exit
/// code and stderr.
async fn run(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<(Option<i32>, String)> {
    let mut command = tokio::process::Command::new(hris_e2e::hris_sync_bin());
    command
        .args(args)
        .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
        .env("AMQP_URL", "amqp://127.0.0.1:1/%2f")
        .env("KOMBO_API_KEY", "a-key")
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        command.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(10), command.output()).await??;
    Ok((
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test]
async fn settings_out_of_range_are_usage_errors() -> anyhow::Result<()> {
    let worker = ["worker", "--entity", "all"];
    for (args, var, value) in [
        (&worker[..], "WORKER_PREFETCH", "0"),
        (&worker[..], "WORKER_CONCURRENCY", "0"),
        (&worker[..], "FETCH_LEASE_SECS", "2"),
        (&worker[..], "KOMBO_TIMEOUT_SECS", "0"),
        (&["scheduler"][..], "SCHEDULER_TICK_SECS", "0.01"),
        (&["scheduler"][..], "SCHEDULER_TICK_SECS", "NaN"),
    ] {
        let (code, stderr) = run(args, &[(var, value)]).await?;
        assert_eq!(code, Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains("invalid value"), "{var}={value}: {stderr}");
    }
    let (code, stderr) = run(&["dlq", "replay", "--rate", "0"], &[]).await?;
    assert_eq!(code, Some(2), "--rate 0: {stderr}");
    Ok(())
}

#[tokio::test]
async fn every_role_that_calls_kombo_needs_its_key() -> anyhow::Result<()> {
    for args in [
        &["worker", "--entity", "employees"][..],
        &["scheduler"][..],
        &["import-all", "--tenant", "t"][..],
        &["admin"][..],
    ] {
        let mut command = tokio::process::Command::new(hris_e2e::hris_sync_bin());
        command
            .args(args)
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .env("AMQP_URL", "amqp://127.0.0.1:1/%2f")
            .env("ADMIN_TOKEN", "an-admin-token-of-some-length")
            .env_remove("KOMBO_API_KEY");
        let out = tokio::time::timeout(Duration::from_secs(10), command.output()).await??;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("KOMBO_API_KEY"), "{args:?}: {stderr}");
    }
    Ok(())
}

#[tokio::test]
async fn a_typo_in_the_worker_role_is_a_usage_error_that_lists_the_roles() -> anyhow::Result<()> {
    let (code, stderr) = run(&["worker", "--entity", "employes"], &[]).await?;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("invalid value 'employes'"), "{stderr}");
    for role in ["employees", "integrations", "dead-letters", "all"] {
        assert!(stderr.contains(role), "{role} not offered: {stderr}");
    }
    Ok(())
}
