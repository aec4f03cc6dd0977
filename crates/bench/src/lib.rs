//! Benchmarks of hris-sync against this machine's own limits, measured in the
//! same run: every figure is printed with its ratio to the raw rate of the
//! broker or database it depends on, and written to `bench/RESULTS.md`.

pub mod console;
pub mod env;
pub mod raw;
pub mod stages;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The stages of a run, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    Raw,
    Receiver,
    Import,
    Freshness,
    FanIn,
    Console,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub stages: Vec<Stage>,
    pub admin_database_url: String,
    pub amqp_url: String,
    /// The `hris-sync` binary workers run as.
    pub hris_sync: PathBuf,
    pub raw_messages: usize,
    pub raw_rows: usize,
    pub webhooks: usize,
    pub connections: usize,
    pub import_sizes: Vec<usize>,
    pub fresh_tenants: usize,
    pub fan_in: (usize, usize),
    pub concurrency: usize,
    /// Tenants behind the console's overview.
    pub console_tenants: i64,
}

impl Config {
    /// The figures the README promises.
    pub fn full(admin_database_url: String, amqp_url: String, hris_sync: PathBuf) -> Self {
        Self {
            stages: vec![
                Stage::Raw,
                Stage::Receiver,
                Stage::Import,
                Stage::Freshness,
                Stage::FanIn,
                Stage::Console,
            ],
            admin_database_url,
            amqp_url,
            hris_sync,
            raw_messages: 20_000,
            raw_rows: 100_000,
            webhooks: 20_000,
            connections: 64,
            import_sizes: vec![10_000, 100_000, 1_000_000],
            fresh_tenants: 1000,
            fan_in: (1000, 1000),
            concurrency: 8,
            console_tenants: 10_000,
        }
    }

    /// Tiny sizes: a test runs this so the benchmark cannot rot.
    pub fn smoke(admin_database_url: String, amqp_url: String, hris_sync: PathBuf) -> Self {
        Self {
            raw_messages: 200,
            raw_rows: 1000,
            webhooks: 200,
            connections: 8,
            import_sizes: vec![300],
            fresh_tenants: 10,
            fan_in: (5, 40),
            console_tenants: 200,
            ..Self::full(admin_database_url, amqp_url, hris_sync)
        }
    }
}

/// Runs every stage; returns the report (Markdown).
pub async fn run(config: &Config) -> anyhow::Result<String> {
    let env = env::Env::start(
        &config.admin_database_url,
        &config.amqp_url,
        &config.hris_sync,
        Duration::from_millis(0),
    )
    .await?;
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut push = |stage: &str, figure: String, goal: &str, note: String| {
        eprintln!("{stage:<28} {figure:<44} {goal:<22} {note}");
        rows.push([stage.to_owned(), figure, goal.to_owned(), note]);
    };

    let wants = |stage: Stage| config.stages.contains(&stage);
    // Without the raw stage (profiling one stage) ratios print as NaN.
    let (mut publish, mut upsert) = (f64::NAN, f64::NAN);
    if wants(Stage::Raw) {
        eprintln!("raw limits…");
        publish = raw::publish_rate(&config.amqp_url, config.raw_messages, 256).await?;
        push(
            "raw: confirmed publishes",
            format!("{publish:.0} msg/s"),
            "—",
            "quorum queue, persistent, 256 confirms in flight".into(),
        );
        upsert = raw::upsert_rate(&env.database_url, config.raw_rows).await?;
        push(
            "raw: batched upserts",
            format!("{upsert:.0} rows/s"),
            "—",
            "250-row UNNEST upsert per transaction, users' columns".into(),
        );
    }

    if wants(Stage::Receiver) {
        eprintln!("receiver…");
        let r = stages::receiver(&env, config.webhooks, config.connections).await?;
        push(
            "receiver",
            format!(
                "{:.0} webhooks/s, p50 {:.1} ms, p99 {:.1} ms",
                r.rate, r.p50_ms, r.p99_ms
            ),
            "≥ 0.7 × raw publish",
            format!(
                "{:.2} × raw publish; {} failed; {} connections",
                r.rate / publish,
                r.failures,
                config.connections
            ),
        );
    }

    if wants(Stage::Import) {
        for size in &config.import_sizes {
            eprintln!("full import of {size}…");
            let f = stages::import(&env, *size, config.concurrency).await?;
            push(
                &format!("full import {}", f.employees),
                format!(
                    "{:.0} employees/s ({:.1} s employees, {:.1} s all entities)",
                    f.per_sec, f.employee_fetch_secs, f.wall_secs
                ),
                "≥ 30,000/s",
                format!(
                    "{:.2} × raw upsert; worker peak {:.0} MiB (goal < 150)",
                    f.per_sec / upsert,
                    f.peak_rss_mib
                ),
            );
            push(
                &format!("no-op resync {}", f.employees),
                format!("{} rows written, {:.1} s", f.resync_written, f.resync_secs),
                "0 rows",
                String::new(),
            );
        }
    }

    if wants(Stage::Freshness) {
        eprintln!("freshness…");
        let f = stages::freshness(&env, config.fresh_tenants, config.concurrency).await?;
        let lags = |l: &stages::Lags| {
            format!(
                "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
                l.p50_ms, l.p99_ms, l.max_ms
            )
        };
        push(
            "freshness, all at once",
            lags(&f.burst),
            "p99 < 1 s",
            format!(
                "{} tenants, one change each, all sent within {:.1} s; webhook sent → row committed",
                f.tenants, f.burst.sent_secs
            ),
        );
        push(
            "freshness, steady",
            lags(&f.paced),
            "p99 < 1 s",
            format!(
                "the same {} changes arriving at {:.0}/s over {:.1} s",
                f.paced.changes, f.paced_rate, f.paced.sent_secs
            ),
        );
    }

    if wants(Stage::FanIn) {
        eprintln!("fan-in…");
        let (tenants, each) = config.fan_in;
        let f = stages::fan_in(&env, tenants, each, config.concurrency).await?;
        push(
            "fan-in",
            format!(
                "{:.1} s for {} people",
                f.total_secs,
                f.tenants * f.employees_each
            ),
            "no tenant starved",
            format!(
                "{} tenants × {}; a tenant done after {:.1} s (median), {:.1} s (slowest)",
                f.tenants, f.employees_each, f.median_tenant_secs, f.slowest_tenant_secs
            ),
        );
    }
    if wants(Stage::Console) {
        eprintln!("console…");
        let c = console::tenants_page(&env, config.console_tenants, 100).await?;
        push(
            &format!("console: tenants page, {} tenants", c.tenants),
            format!("p50 {:.1} ms, p99 {:.1} ms", c.http_p50_ms, c.http_p99_ms),
            "< 200 ms",
            format!(
                "HTTP request → whole page ({} kB, 50 rows), {} requests over five views; the overview query alone p50 {:.1} ms, p99 {:.1} ms",
                c.page_bytes / 1024,
                c.requests,
                c.query_p50_ms,
                c.query_p99_ms
            ),
        );
    }
    env.teardown().await;

    let mut out = String::new();
    let _ = writeln!(out, "| stage | figure | goal | notes |\n|---|---|---|---|");
    for [a, b, c, d] in &rows {
        let _ = writeln!(out, "| {a} | {b} | {c} | {d} |");
    }
    Ok(out)
}
