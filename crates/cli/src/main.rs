//! `hris-sync`: one binary, one subcommand per role. Configuration comes from the
//! environment (each variable is listed in `--help`); `anyhow` lives only here.

mod args;
mod commands;
mod duration;
mod exit;
mod output;
mod services;
mod settings_help;
mod tenant_args;

use clap::{Parser, Subcommand};
use hris_types::TenantId;

use crate::args::{
    AmqpArgs, DatabaseArgs, KomboArgs, ReceiverArgs, RoleArgs, SimArgs, TenantCommand,
};

#[derive(Parser)]
#[command(
    name = "hris-sync",
    version,
    about = "Keeps a learning platform's people directory in step with each customer's HR system, through Kombo.",
    after_long_help = exit::HELP
)]
struct Cli {
    /// Log format on stderr: json (one object per line) or pretty; by default
    /// pretty on a terminal, json otherwise.
    #[arg(long, env = "LOG_FORMAT", global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

/// `LOG_FORMAT`'s values (a typo is a usage error, not a silent default).
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum LogFormatArg {
    Json,
    Pretty,
}

#[derive(Subcommand)]
enum Command {
    /// Applies the migrations in `migrations/`, idempotently (safe from several processes at once).
    Migrate(DatabaseArgs),
    /// The public webhook endpoint on HTTP_ADDR, and nothing else there.
    Receiver {
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        args: ReceiverArgs,
        /// Where /metrics, /healthz and /readyz are served (not the public port).
        #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9090")]
        metrics_addr: String,
    },
    /// The admin API and the operations console on ADMIN_ADDR (cluster-internal), behind ADMIN_TOKEN.
    Admin {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        kombo: KomboArgs,
        #[command(flatten)]
        args: commands::admin::AdminArgs,
    },
    /// Consumes one entity's queue, the dead letters, or all of them.
    Worker {
        /// Which queue this worker consumes (all: every one, in one process).
        #[arg(long, value_enum)]
        entity: commands::worker::WorkerRole,
        #[command(flatten)]
        role: RoleArgs,
    },
    /// Periodic full syncs, due invites and deactivations.
    Scheduler {
        #[command(flatten)]
        role: RoleArgs,
        /// Time between two looks at what is due (at least 100ms).
        #[arg(long = "tick-secs", env = "SCHEDULER_TICK_SECS", default_value = "10", value_parser = duration::at_least(std::time::Duration::from_millis(100)))]
        tick: std::time::Duration,
    },
    /// Receiver, every worker and the scheduler in one process (development, demo).
    All {
        #[command(flatten)]
        role: RoleArgs,
        #[command(flatten)]
        args: ReceiverArgs,
        #[command(flatten)]
        console: commands::admin::ConsoleArgs,
        /// Time between two looks at what is due (at least 100ms).
        #[arg(long = "tick-secs", env = "SCHEDULER_TICK_SECS", default_value = "10", value_parser = duration::at_least(std::time::Duration::from_millis(100)))]
        tick: std::time::Duration,
    },
    /// Registers and inspects tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The "Import all" button: asks Kombo to refresh and fully syncs every entity now.
    ImportAll {
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// Print what would change, field by field (employees), and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Return once the sync is enqueued instead of following it.
        #[arg(long)]
        no_wait: bool,
        /// How long to wait for Kombo's own sync (force-sync) to finish before
        /// reading what Kombo has.
        #[arg(long = "kombo-sync-wait-secs", env = "KOMBO_SYNC_WAIT_SECS", default_value = "900", value_parser = duration::at_least(std::time::Duration::ZERO))]
        kombo_sync_wait: std::time::Duration,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        role: RoleArgs,
    },
    /// On-call's dead-letter tools: list, show, replay, purge.
    Dlq {
        #[command(subcommand)]
        command: commands::dlq::DlqCommand,
    },
    /// One user's current state, the history of each synced field, and related dead letters.
    Explain {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The tenant (the platform's customer id).
        #[arg(long)]
        tenant: TenantId,
        /// Kombo employee id or email.
        #[arg(long)]
        user: String,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// The whole service against the simulator in one process: connect, import, live changes.
    Demo(commands::demo::DemoArgs),
    /// GETs URL and exits 0 on a 2xx (container health checks; the image has no curl).
    Probe {
        /// The URL to GET, e.g. http://127.0.0.1:9090/readyz.
        url: String,
    },
    /// The Kombo simulator (API and signed webhooks).
    Sim(SimArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    hris_telemetry::init_logging(hris_telemetry::LogFormat::or_detect(cli.log_format.map(
        |f| match f {
            LogFormatArg::Json => hris_telemetry::LogFormat::Json,
            LogFormatArg::Pretty => hris_telemetry::LogFormat::Pretty,
        },
    )));
    // Install the recorder before any work: metrics recorded earlier would be lost.
    let _ = hris_telemetry::metrics_handle();
    let result = match cli.command {
        Command::Migrate(db) => commands::migrate::run(db).await,
        Command::Tenant { command } => commands::tenant::run(command).await,
        Command::Sim(args) => commands::sim::run(args).await,
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Probe { url } => probe(&url).await,
        Command::Receiver {
            amqp,
            args,
            metrics_addr,
        } => commands::receiver::run(amqp, args, metrics_addr).await,
        Command::Admin {
            db,
            amqp,
            kombo,
            args,
        } => commands::admin::run(db, amqp, kombo, args).await,
        Command::Worker { entity, role } => commands::worker::run(entity, role).await,
        Command::Scheduler { role, tick } => commands::scheduler::run(role, tick).await,
        Command::All {
            role,
            args,
            console,
            tick,
        } => commands::all::run(role, args, console, tick).await,
        Command::ImportAll {
            tenant,
            dry_run,
            no_wait,
            kombo_sync_wait,
            json,
            role,
        } => {
            commands::import_all::run(tenant, dry_run, !no_wait, json, kombo_sync_wait, role).await
        }
        Command::Dlq { command } => commands::dlq::run(command).await,
        Command::Explain {
            db,
            tenant,
            user,
            json,
        } => commands::explain::run(db, tenant, user, json).await,
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(exit::code(&e))
        }
    }
}

async fn probe(url: &str) -> anyhow::Result<()> {
    let response = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(3))
        .build()?
        .get(url)
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url}: {}",
        response.status()
    );
    Ok(())
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every option of every command says what it is for (`--help` is the
    /// documentation on-call reads at 3 a.m.).
    #[test]
    fn every_option_has_help_text() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in command.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "hris-sync", &mut missing);
        assert!(
            missing.is_empty(),
            "options without help:\n{}",
            missing.join("\n")
        );
    }
}
