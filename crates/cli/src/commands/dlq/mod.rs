//! `hris-sync dlq`: on-call's dead-letter tools.

mod args;
mod replay;

pub use args::DlqCommand;

use hris_store::{DeadLetterFilter, Store};
use hris_types::TenantId;

use crate::exit::Refused;
use crate::output::{table, when};
use hris_worker::replay::replay_effect;
use replay::{Mode, replay};

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
            let letters = filter.pending(&store).await?;
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
            let letters = filter.pending(&store).await?;
            if !yes {
                return Err(Refused(format!(
                    "{} dead letters match; purging drops their payloads for good: add --yes",
                    letters.len()
                ))
                .into());
            }
            let who = who.actor;
            let ids = hris_worker::replay::purge(&store, &letters, &who).await?;
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
                d.letter
                    .tenant_id
                    .as_ref()
                    .map_or_else(|| "-".into(), ToString::to_string),
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
            g.tenant_id
                .as_ref()
                .map_or_else(|| "-".into(), ToString::to_string),
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
    row(
        "tenant",
        letter
            .letter
            .tenant_id
            .as_ref()
            .map_or("-", TenantId::as_str),
    );
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
