//! Dead letters published again through the normal path, and purged: the
//! one implementation behind `hris-sync dlq replay|purge` and the console.
//!
//! A replayed message is the archived envelope with its trigger set to
//! `replay` and its attempt count reset; the worker that takes it fetches
//! from the watermark, so replaying is idempotent however often it is done.

use std::time::Duration;

use chrono::SecondsFormat;
use hris_bus::{BusError, Envelope, Publisher, Trigger};
use hris_store::{DeadLetter, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("could not publish dead letter {id}: {source}")]
    Publish { id: i64, source: BusError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a replay did, by dead-letter id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReplayReport {
    pub replayed: Vec<i64>,
    /// Payloads that are no readable message: replaying them would only
    /// dead-letter them again (purge them instead).
    pub skipped: Vec<i64>,
}

/// Publishes `letters` again, at most `per_second` of them a second, and
/// marks each replayed by `actor` once the broker confirmed it (an audit row
/// each). `on_each` is called after every letter (a progress bar, say).
pub async fn replay(
    store: &Store,
    publisher: &Publisher,
    letters: &[DeadLetter],
    per_second: f64,
    actor: &str,
    mut on_each: impl FnMut(),
) -> Result<ReplayReport, ReplayError> {
    let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(0.1)));
    let mut report = ReplayReport::default();
    for letter in letters {
        pace.tick().await;
        match serde_json::from_slice::<Envelope>(&letter.letter.payload) {
            Ok(mut envelope) => {
                envelope.trigger = Trigger::Replay;
                envelope.attempt = 0;
                publisher
                    .publish(envelope)
                    .await
                    .map_err(|source| ReplayError::Publish {
                        id: letter.id,
                        source,
                    })?;
                store.mark_replayed(letter.id, actor).await?;
                report.replayed.push(letter.id);
            }
            Err(_) => report.skipped.push(letter.id),
        }
        on_each();
    }
    tracing::info!(
        replayed = report.replayed.len(),
        skipped = report.skipped.len(),
        actor,
        "dead letters replayed"
    );
    Ok(report)
}

/// Purges `letters` (their payloads, personal data, are dropped; the rows and
/// an audit record each stay); returns their ids.
pub async fn purge(
    store: &Store,
    letters: &[DeadLetter],
    actor: &str,
) -> Result<Vec<i64>, StoreError> {
    for letter in letters {
        store.purge_dead_letter(letter.id, actor).await?;
    }
    tracing::info!(purged = letters.len(), actor, "dead letters purged");
    Ok(letters.iter().map(|l| l.id).collect())
}

/// What replaying `letter` would do, in one sentence.
pub async fn replay_effect(store: &Store, letter: &DeadLetter) -> String {
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
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
    let status = store.fetch_status(&tenant).await.unwrap_or_default();
    let state = status.iter().find(|s| s.entity == envelope.entity.as_str());
    match state.and_then(|s| s.last_fetch_started_at) {
        Some(t) if t > envelope.received_at => format!(
            "nothing: a complete {} fetch for tenant {tenant} started at {} after this message arrived, and covers it",
            envelope.entity,
            time(t)
        ),
        _ => format!(
            "a {:?} fetch of {} for tenant {tenant}{}",
            envelope.kind,
            envelope.entity,
            state
                .and_then(|s| s.watermark)
                .map(|w| format!(", changes since {}", time(w)))
                .unwrap_or_default()
        ),
    }
}
