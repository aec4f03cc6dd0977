//! `hris-sync`: one binary, one subcommand per role. Configuration comes from the
//! environment (each variable is listed in `--help`); `anyhow` lives only here.

mod args;
mod commands;
mod output;

use clap::{Parser, Subcommand};

use crate::args::{
    AmqpArgs, DatabaseArgs, KomboArgs, ReceiverArgs, SimArgs, TenantCommand, WorkerArgs,
};

#[derive(Parser)]
#[command(
    name = "hris-sync",
    version,
    about = "Keeps a learning platform's people directory in step with each customer's HR system, through Kombo."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Applies the migrations in `migrations/`, idempotently (safe from several processes at once).
    Migrate(DatabaseArgs),
    /// The webhook endpoint and the admin API on HTTP_ADDR.
    Receiver {
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        args: ReceiverArgs,
    },
    /// Consumes one entity's queue: employees, teams, locations, absences, integrations, dead-letters or all.
    Worker {
        #[arg(long)]
        entity: String,
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        kombo: KomboArgs,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Periodic full syncs, due invites and deactivations.
    Scheduler,
    /// Receiver, every worker and the scheduler in one process (development, demo).
    All,
    /// Registers and inspects tenants.
    Tenant {
        #[command(subcommand)]
        command: TenantCommand,
    },
    /// The "Import all" button: a full sync of every entity now.
    ImportAll {
        #[arg(long)]
        tenant: String,
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
        #[arg(long)]
        tenant: String,
        /// Kombo employee id or email.
        #[arg(long)]
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// The Kombo simulator (API and signed webhooks).
    Sim(SimArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    hris_telemetry::init_logging(hris_telemetry::LogFormat::from_env());
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Migrate(db) => commands::migrate::run(db).await,
        Command::Tenant { command } => commands::tenant::run(command).await,
        Command::Sim(args) => commands::sim::run(args).await,
        Command::Receiver { amqp, args } => commands::receiver::run(amqp, args).await,
        Command::Worker {
            entity,
            db,
            amqp,
            kombo,
            worker,
        } => commands::worker::run(entity, db, amqp, kombo, worker).await,
        Command::Scheduler => not_yet("scheduler"),
        Command::All => not_yet("all"),
        Command::ImportAll { .. } => not_yet("import-all"),
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
            std::process::ExitCode::FAILURE
        }
    }
}

fn not_yet(command: &str) -> anyhow::Result<()> {
    anyhow::bail!("`hris-sync {command}` is not built yet")
}
