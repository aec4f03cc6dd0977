//! The README's demo command, run non-interactively as a new user would.

#[tokio::test]
async fn the_demo_connects_imports_and_follows_live_changes() -> anyhow::Result<()> {
    let name = hris_e2e::unique_name("hris_demo");
    let base = hris_e2e::admin_database_url();
    let url = format!(
        "{}/{name}",
        base.rsplit_once('/').map(|(b, _)| b).unwrap_or(&base)
    );
    let out = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(["demo", "--employees", "400"])
        .env("DEMO_DATABASE_URL", &url)
        .env("AMQP_URL", hris_e2e::amqp_url())
        .env("RUST_LOG", "warn")
        .output()
        .await?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("[  import] 400 people"), "{stdout}");
    assert!(stdout.contains("live changes  4 of 4 arrived"), "{stdout}");
    assert!(
        stdout.contains("a leaver in the HR system → in the database"),
        "{stdout}"
    );
    // The demo's database is left for exploring; this test drops it.
    hris_e2e::run_detached(async move {
        if let Ok((client, conn)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
        }
    });
    Ok(())
}
