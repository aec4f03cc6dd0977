//! `cargo run --release -p bench -- all`: every benchmark, printed and written
//! with machine details to `bench/RESULTS.md`.

use clap::Parser;

#[derive(Parser)]
#[command(about = "Benchmarks hris-sync against this machine's raw limits")]
struct Args {
    /// `all` (the only suite).
    #[arg(default_value = "all")]
    suite: String,
    /// Tiny sizes, a quick check that everything runs.
    #[arg(long)]
    smoke: bool,
    /// Import sizes, e.g. 10000,100000,1000000.
    #[arg(long, value_delimiter = ',')]
    sizes: Option<Vec<usize>>,
    /// Fan-in: tenants × employees each, e.g. 1000x1000.
    #[arg(long)]
    fan_in: Option<String>,
    #[arg(
        long,
        env = "TEST_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    #[arg(
        long,
        env = "AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// Messages each worker handles at once per queue (default 8).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Only these stages (raw, receiver, import, freshness, fan-in, console), for
    /// profiling one; a partial run does not write the report.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<bench::Stage>>,
    /// Where the report goes (not written for --smoke or --only).
    #[arg(long, default_value = "bench/RESULTS.md")]
    out: std::path::PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.suite == "all", "the only suite is `all`");
    let exe = std::env::current_exe()?;
    let hris_sync = exe.with_file_name("hris-sync");
    let mut config = if args.smoke {
        bench::Config::smoke(args.database_url, args.amqp_url, hris_sync)
    } else {
        bench::Config::full(args.database_url, args.amqp_url, hris_sync)
    };
    if let Some(sizes) = args.sizes {
        config.import_sizes = sizes;
    }
    if let Some(fan) = args.fan_in {
        let (t, e) = fan
            .split_once('x')
            .ok_or_else(|| anyhow::anyhow!("--fan-in TENANTSxEMPLOYEES"))?;
        config.fan_in = (t.parse()?, e.parse()?);
    }
    if let Some(n) = args.concurrency {
        config.concurrency = n;
    }
    let partial = args.only.is_some();
    if let Some(only) = args.only {
        config.stages = only;
    }
    let started = std::time::Instant::now();
    let table = bench::run(&config).await?;
    println!("{table}");
    if !args.smoke && !partial {
        let report = format!(
            "# Benchmark results\n\nMeasured {} on {} (PostgreSQL and RabbitMQ local, default settings; the simulator, receiver and load generator share the bench process, each worker is its own `hris-sync worker --entity all` process with {} concurrent messages per queue).\n\nCommand: `scripts/bench {}` (release builds of hris-sync and the bench), {:.0} s in all.\n\n{table}\n",
            chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
            bench::env::machine(),
            config.concurrency,
            std::env::args().skip(2).collect::<Vec<_>>().join(" "),
            started.elapsed().as_secs_f64()
        );
        let notes =
            std::fs::read_to_string(args.out.with_file_name("NOTES.md")).unwrap_or_default();
        std::fs::write(&args.out, format!("{report}\n{notes}"))?;
        eprintln!("written to {}", args.out.display());
    }
    Ok(())
}
