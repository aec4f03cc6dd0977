//! `dlq replay`: dead letters published again through the normal path.

use secrecy::ExposeSecret;
use std::time::Duration;

use hris_bus::{AmqpConfig, Connector, Envelope, Publisher, Topology, Trigger};
use hris_store::{DeadLetter, Store};
use tokio_util::sync::CancellationToken;

use crate::args::AmqpArgs;
use crate::output::{Progress, when};

pub(super) async fn replay_effect(store: &Store, letter: &DeadLetter) -> String {
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

/// How a replay reports: for real or not, as text or JSON.
#[derive(Debug, Clone, Copy)]
pub(super) struct Mode {
    pub(super) dry_run: bool,
    pub(super) json: bool,
}

pub(super) async fn replay(
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
        AmqpConfig::new(amqp.amqp_url.expose_secret(), "hris-sync dlq replay"),
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
