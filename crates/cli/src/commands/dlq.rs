//! `hris-sync dlq`: on-call's dead-letter tools.

use std::time::Duration;

use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use hris_bus::{AmqpConfig, Connector, Envelope, Publisher, Topology, Trigger};
use hris_store::{DeadLetter, DeadLetterFilter, Store};
use tokio_util::sync::CancellationToken;

use crate::args::{ActorArgs, AmqpArgs, DatabaseArgs};
use crate::exit::Refused;
use crate::output::{Progress, parse_time, table, when};

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// What failed, grouped by error class and tenant (`--messages` for one row each).
    List {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// One row per message instead of the grouped summary.
        #[arg(long)]
        messages: bool,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
        /// At most this many rows.
        #[arg(long, default_value_t = 200)]
        limit: i64,
    },
    /// Everything about one dead letter, and what replaying it would do.
    Show {
        #[command(flatten)]
        db: DatabaseArgs,
        /// The dead letter's id (from `dlq list`).
        id: i64,
        /// JSON on stdout instead of text (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// Publishes dead letters again through the normal path (trigger replay, attempts reset).
    Replay {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        amqp: AmqpArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Say what would be replayed; publish nothing, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replay every pending dead letter: needed when neither ids nor a
        /// filter narrow the replay.
        #[arg(long)]
        all: bool,
        /// Messages per second at most (at least 0.1).
        #[arg(long, default_value_t = 50.0, value_parser = crate::args::at_least(0.1))]
        rate: f64,
        /// The result as JSON on stdout (ids replayed and skipped).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: ActorArgs,
    },
    /// Drops dead letters' payloads for good, leaving an audit record.
    Purge {
        #[command(flatten)]
        db: DatabaseArgs,
        #[command(flatten)]
        filter: FilterArgs,
        /// Required: purging cannot be undone.
        #[arg(long)]
        yes: bool,
        /// The result as JSON on stdout (ids purged).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        actor: ActorArgs,
    },
}

#[derive(Args, Debug, Clone)]
pub struct FilterArgs {
    /// Dead-letter ids (replay and purge: these only).
    #[arg(value_name = "ID")]
    pub ids: Vec<i64>,
    /// The tenant (the platform's customer id).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The queue it failed on.
    #[arg(long, value_parser = PossibleValuesParser::new(["employees", "teams", "locations", "absences", "integrations"]))]
    pub entity: Option<String>,
    /// How it failed: retryable, not_ready, permanent or poison.
    #[arg(long, value_parser = PossibleValuesParser::new(["retryable", "not_ready", "permanent", "poison"]))]
    pub error_class: Option<String>,
    /// Replay and purge default to pending.
    #[arg(long, value_parser = PossibleValuesParser::new(["pending", "replayed", "purged"]))]
    pub state: Option<String>,
    /// Archived at or after: RFC 3339 or a span back from now (90m, 24h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Archived before: RFC 3339 or a span back from now (90m, 24h, 7d).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

impl FilterArgs {
    /// Whether anything narrows the selection (ids or a filter).
    fn narrows(&self) -> bool {
        !self.ids.is_empty()
            || self.tenant.is_some()
            || self.entity.is_some()
            || self.error_class.is_some()
            || self.state.is_some()
            || self.since.is_some()
            || self.until.is_some()
    }

    fn filter(&self, default_state: Option<&str>) -> DeadLetterFilter {
        DeadLetterFilter {
            ids: self.ids.clone(),
            tenant_id: self.tenant.clone(),
            entity: self.entity.clone(),
            error_class: self.error_class.clone(),
            // Named ids are taken in whatever state; a filter defaults to pending.
            state: self.state.clone().or_else(|| {
                default_state
                    .filter(|_| self.ids.is_empty())
                    .map(str::to_owned)
            }),
            since: self.since,
            until: self.until,
        }
    }
}

pub async fn run(command: DlqCommand) -> anyhow::Result<()> {
    match command {
        DlqCommand::List {
            db,
            filter,
            messages,
            json,
            limit,
        } => list(&db.store()?, &filter.filter(None), messages, json, limit).await,
        DlqCommand::Show { db, id, json } => show(&db.store()?, id, json).await,
        DlqCommand::Replay {
            db,
            amqp,
            filter,
            dry_run,
            all,
            rate,
            json,
            actor: who,
        } => {
            let store = db.store()?;
            let letters = store
                .dead_letters(&filter.filter(Some("pending")), 100_000)
                .await?;
            if !filter.narrows() && !all && !dry_run {
                return Err(Refused(format!(
                    "{} pending dead letters: replaying all of them needs --all (or name ids or a filter; --dry-run to see them)",
                    letters.len()
                ))
                .into());
            }
            let mode = Mode { dry_run, json };
            replay(&store, &amqp, letters, mode, rate, &who.actor).await
        }
        DlqCommand::Purge {
            db,
            filter,
            yes,
            json,
            actor: who,
        } => {
            let store = db.store()?;
            let letters = store
                .dead_letters(&filter.filter(Some("pending")), 100_000)
                .await?;
            if !yes {
                return Err(Refused(format!(
                    "{} dead letters match; purging drops their payloads for good: add --yes",
                    letters.len()
                ))
                .into());
            }
            let who = who.actor;
            for letter in &letters {
                store.purge_dead_letter(letter.id, &who).await?;
            }
            let ids: Vec<i64> = letters.iter().map(|l| l.id).collect();
            if json {
                println!("{}", serde_json::json!({ "purged": ids, "actor": who }));
            } else {
                println!("purged {} dead letters (audited as {who})", ids.len());
            }
            Ok(())
        }
    }
}

async fn list(
    store: &Store,
    filter: &DeadLetterFilter,
    messages: bool,
    json: bool,
    limit: i64,
) -> anyhow::Result<()> {
    if messages {
        let letters = store.dead_letters(filter, limit).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&letters)?);
            return Ok(());
        }
        let mut rows = table(&[
            "ID", "STATE", "TENANT", "ENTITY", "CLASS", "ARCHIVED", "TRY", "REASON",
        ]);
        for d in &letters {
            rows.add_row(vec![
                d.id.to_string(),
                d.state.clone(),
                d.letter.tenant_id.clone().unwrap_or_else(|| "-".into()),
                d.letter.entity.clone().unwrap_or_else(|| "-".into()),
                d.letter.error_class.clone(),
                when(Some(d.archived_at)),
                d.letter.attempts.to_string(),
                d.letter
                    .error_code
                    .clone()
                    .unwrap_or_else(|| d.letter.reason.clone()),
            ]);
        }
        println!("{rows}");
        return Ok(());
    }
    let groups = store.dead_letter_summary(filter).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&groups)?);
        return Ok(());
    }
    if groups.is_empty() {
        println!("no dead letters match");
        return Ok(());
    }
    let mut rows = table(&[
        "CLASS",
        "TENANT",
        "COUNT",
        "FIRST SEEN",
        "LAST SEEN",
        "REASONS",
    ]);
    for g in &groups {
        rows.add_row(vec![
            g.error_class.clone(),
            g.tenant_id.clone().unwrap_or_else(|| "-".into()),
            g.count.to_string(),
            when(Some(g.first_seen)),
            when(Some(g.last_seen)),
            g.reasons.join(", "),
        ]);
    }
    println!("{rows}");
    Ok(())
}

/// What replaying a dead letter would do, in one sentence.
async fn replay_effect(store: &Store, letter: &DeadLetter) -> String {
    let Ok(envelope) = serde_json::from_slice::<Envelope>(&letter.letter.payload) else {
        return "nothing useful: the payload is not a readable message, it would be dead-lettered again (purge it)".to_owned();
    };
    let Some(tenant) = letter
        .letter
        .tenant_id
        .clone()
        .or(envelope.tenant_id.clone())
    else {
        return format!(
            "publishes a {:?} {} message for integration {}; the worker resolves the tenant",
            envelope.kind,
            envelope.entity,
            envelope.integration_id.as_deref().unwrap_or("-")
        );
    };
    let status = store.fetch_status(&tenant).await.unwrap_or_default();
    let state = status.iter().find(|s| s.entity == envelope.entity.as_str());
    match state.and_then(|s| s.last_fetch_started_at) {
        Some(t) if t > envelope.received_at => format!(
            "nothing: a complete {} fetch for tenant {tenant} started at {} after this message arrived, and covers it",
            envelope.entity,
            when(Some(t))
        ),
        _ => format!(
            "a {:?} fetch of {} for tenant {tenant}{}",
            envelope.kind,
            envelope.entity,
            state
                .and_then(|s| s.watermark)
                .map(|w| format!(", changes since {}", when(Some(w))))
                .unwrap_or_default()
        ),
    }
}

async fn show(store: &Store, id: i64, json: bool) -> anyhow::Result<()> {
    let letter = store.dead_letter(id).await?;
    let effect = replay_effect(store, &letter).await;
    if json {
        let mut value = serde_json::to_value(&letter)?;
        value["payload"] = serde_json::from_slice(&letter.letter.payload)
            .unwrap_or_else(|_| String::from_utf8_lossy(&letter.letter.payload).into());
        value["replay_would"] = effect.into();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    println!("dead letter {} ({})", letter.id, letter.state);
    let row = |k: &str, v: &str| println!("  {k:<16} {v}");
    row(
        "message id",
        letter.letter.message_id.as_deref().unwrap_or("-"),
    );
    row("tenant", letter.letter.tenant_id.as_deref().unwrap_or("-"));
    row(
        "integration",
        letter.letter.integration_id.as_deref().unwrap_or("-"),
    );
    row("entity", letter.letter.entity.as_deref().unwrap_or("-"));
    row("routing key", &letter.letter.routing_key);
    row("reason", &letter.letter.reason);
    row("error class", &letter.letter.error_class);
    row(
        "error code",
        letter.letter.error_code.as_deref().unwrap_or("-"),
    );
    row(
        "Kombo message",
        letter.letter.error_message.as_deref().unwrap_or("-"),
    );
    row("Kombo log", letter.letter.log_url.as_deref().unwrap_or("-"));
    row("attempts", &letter.letter.attempts.to_string());
    row("first failure", &when(letter.letter.first_failed_at));
    row("last failure", &when(letter.letter.last_failed_at));
    row("archived", &when(Some(letter.archived_at)));
    if letter.replay_count > 0 {
        row(
            "replayed",
            &format!(
                "{} time(s), last {} by {}",
                letter.replay_count,
                when(letter.replayed_at),
                letter.replayed_by.as_deref().unwrap_or("-")
            ),
        );
    }
    println!("  error chain:");
    for part in letter.detail().unwrap_or(&letter.letter.reason).split(": ") {
        println!("    - {part}");
    }
    println!("  replaying would: {effect}");
    println!(
        "  payload: {}",
        String::from_utf8_lossy(&letter.letter.payload)
    );
    Ok(())
}

/// How a replay reports: for real or not, as text or JSON.
#[derive(Debug, Clone, Copy)]
struct Mode {
    dry_run: bool,
    json: bool,
}

async fn replay(
    store: &Store,
    amqp: &AmqpArgs,
    letters: Vec<DeadLetter>,
    mode: Mode,
    rate: f64,
    actor: &str,
) -> anyhow::Result<()> {
    if mode.dry_run {
        let mut effects = Vec::new();
        for letter in &letters {
            let effect = replay_effect(store, letter).await;
            if !mode.json {
                println!("{:>6}  would replay: {effect}", letter.id);
            }
            effects.push(serde_json::json!({ "id": letter.id, "effect": effect }));
        }
        if mode.json {
            println!(
                "{}",
                serde_json::json!({ "dry_run": true, "would_replay": effects })
            );
        } else {
            println!(
                "dry run: {} dead letters would be replayed; nothing was published or changed",
                letters.len()
            );
        }
        return Ok(());
    }
    let shutdown = CancellationToken::new();
    let connector = Connector::new(
        AmqpConfig::new(&amqp.amqp_url, "hris-sync dlq replay"),
        Topology::new(&amqp.amqp_prefix),
    );
    let connection = connector.spawn(shutdown.clone());
    anyhow::ensure!(
        connector.wait_connected(Duration::from_secs(15)).await,
        "cannot reach RabbitMQ at AMQP_URL"
    );
    let publisher = Publisher::new(connector.clone());
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    let mut progress = Progress::new(letters.len() as u64, "replaying");
    let (mut replayed, mut skipped) = (Vec::new(), Vec::new());
    for letter in &letters {
        pace.tick().await;
        match serde_json::from_slice::<Envelope>(&letter.letter.payload) {
            Ok(mut envelope) => {
                envelope.trigger = Trigger::Replay;
                envelope.attempt = 0;
                publisher.publish(envelope).await?;
                store.mark_replayed(letter.id, actor).await?;
                replayed.push(letter.id);
            }
            Err(_) => {
                eprintln!(
                    "{}: not replayed, the payload is not a readable message (purge it)",
                    letter.id
                );
                skipped.push(letter.id);
            }
        }
        progress.inc();
    }
    progress.finish();
    if mode.json {
        println!(
            "{}",
            serde_json::json!({ "replayed": replayed, "skipped": skipped, "actor": actor })
        );
    } else {
        println!(
            "replayed {}, skipped {} (as {actor})",
            replayed.len(),
            skipped.len()
        );
    }
    shutdown.cancel();
    let _ = connection.await;
    Ok(())
}
