//! `dlq replay`: dead letters published again through the normal path (the
//! publishing itself is `hris_worker::replay`, shared with the console).

use secrecy::ExposeSecret;
use std::time::Duration;

use hris_bus::{AmqpConfig, Connector, Publisher, Topology};
use hris_store::{DeadLetter, Store};
use hris_worker::replay::replay_effect;
use tokio_util::sync::CancellationToken;

use crate::args::AmqpArgs;
use crate::output::Progress;

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
    let mut progress = Progress::new(letters.len() as u64, "replaying");
    let report =
        hris_worker::replay::replay(store, &publisher, &letters, rate, actor, || progress.inc())
            .await?;
    progress.finish();
    for id in &report.skipped {
        eprintln!("{id}: not replayed, the payload is not a readable message (purge it)");
    }
    if mode.json {
        println!(
            "{}",
            serde_json::json!({ "replayed": report.replayed, "skipped": report.skipped, "actor": actor })
        );
    } else {
        println!(
            "replayed {}, skipped {} (as {actor})",
            report.replayed.len(),
            report.skipped.len()
        );
    }
    shutdown.cancel();
    let _ = connection.await;
    Ok(())
}
