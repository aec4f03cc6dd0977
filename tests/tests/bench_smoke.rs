//! The benchmark at tiny sizes, so that it cannot rot.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_benchmark_runs_end_to_end_at_tiny_sizes() -> anyhow::Result<()> {
    let config = bench::Config::smoke(
        hris_e2e::admin_database_url(),
        hris_e2e::amqp_url(),
        hris_e2e::hris_sync_bin(),
    );
    let table = bench::run(&config).await?;
    for stage in [
        "raw: confirmed publishes",
        "receiver",
        "full import 300",
        "no-op resync 300",
        "freshness",
        "fan-in",
        "console: tenants page",
    ] {
        assert!(table.contains(stage), "{stage} missing:\n{table}");
    }
    assert!(
        table.contains("| no-op resync 300 | 0 rows written"),
        "a no-op resync writes nothing:\n{table}"
    );
    Ok(())
}
