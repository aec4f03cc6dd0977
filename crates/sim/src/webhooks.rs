//! Signed webhooks, as Kombo sends them: `data-changed` debounced per integration
//! (at most one per debounce window, naming every model that changed), lifecycle
//! events right away.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use serde_json::{Value, json};

use crate::ids::kombo_id;
use crate::state::{SimState, lock, read};

/// Notes that `models` of `integration_id` changed; a `data-changed` follows
/// once the debounce window has passed.
pub fn enqueue_models(state: &SimState, integration_id: &str, models: &[&str]) {
    let debounce = read(&state.config).debounce;
    let mut pending = lock(&state.pending_webhooks);
    let entry = pending.entry(integration_id.to_owned()).or_default();
    entry.models.extend(models.iter().map(|m| (*m).to_owned()));
    entry.due.get_or_insert_with(|| Instant::now() + debounce);
    drop(pending);
    state.wake_flusher.notify_one();
}

/// Sends every pending `data-changed` now, whatever its debounce.
pub async fn flush_now(state: &SimState) {
    let due: Vec<(String, Vec<String>)> = {
        let mut pending = lock(&state.pending_webhooks);
        pending
            .drain()
            .filter(|(_, p)| !p.models.is_empty())
            .map(|(id, p)| (id, p.models.into_iter().collect()))
            .collect()
    };
    for (integration_id, models) in due {
        send_data_changed(state, &integration_id, models).await;
    }
}

pub fn spawn_flusher(state: Arc<SimState>) {
    tokio::spawn(async move {
        loop {
            let next_due = {
                let pending = lock(&state.pending_webhooks);
                pending.values().filter_map(|p| p.due).min()
            };
            let wait = next_due
                .map(|due| due.saturating_duration_since(Instant::now()))
                .unwrap_or(Duration::from_secs(3600));
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = state.wake_flusher.notified() => continue,
            }
            let now = Instant::now();
            let due: Vec<(String, Vec<String>)> = {
                let mut pending = lock(&state.pending_webhooks);
                let ids: Vec<String> = pending
                    .iter()
                    .filter(|(_, p)| p.due.is_some_and(|d| d <= now))
                    .map(|(id, _)| id.clone())
                    .collect();
                ids.into_iter()
                    .filter_map(|id| {
                        pending
                            .remove(&id)
                            .map(|p| (id, p.models.into_iter().collect()))
                    })
                    .collect()
            };
            for (integration_id, models) in due {
                send_data_changed(&state, &integration_id, models).await;
            }
        }
    });
}

async fn send_data_changed(state: &SimState, integration_id: &str, models: Vec<String>) {
    let tool = integration_id
        .split(':')
        .next()
        .unwrap_or("personio")
        .to_owned();
    let data = json!({
        "integration_id": integration_id,
        "integration_tool": tool,
        "integration_category": "HRIS",
        "changed_models": models.iter().map(|m| json!({ "name": m })).collect::<Vec<_>>(),
    });
    send_event(state, "data-changed", data).await;
}

/// Sends one signed event to the configured URL; returns the event id.
pub async fn send_event(state: &SimState, event_type: &str, data: Value) -> String {
    let id = kombo_id(&mut rand::rngs::StdRng::from_rng(&mut rand::rng()));
    let body = json!({ "id": id, "type": event_type, "data": data });
    deliver(state, &body).await;
    id
}

/// Posts an already-built event body, signed; retried a few times like Kombo.
pub async fn deliver(state: &SimState, body: &Value) -> bool {
    let config = state.config();
    let Some(url) = config.webhook_url else {
        lock(&state.webhook_stats).sent += 1;
        return true;
    };
    let bytes = match serde_json::to_vec(body) {
        Ok(b) => b,
        Err(_) => return false,
    };
    let signature = hris_kombo::sign(&config.webhook_secret, &bytes);
    for attempt in 0..5u32 {
        let answer = state
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("X-Kombo-Signature", &signature)
            .body(bytes.clone())
            .send()
            .await;
        match answer {
            Ok(r) if r.status().is_success() => {
                lock(&state.webhook_stats).sent += 1;
                return true;
            }
            other => {
                tracing::debug!(attempt, status = ?other.as_ref().map(|r| r.status()).ok(), "webhook delivery failed");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
        }
    }
    lock(&state.webhook_stats).failed += 1;
    false
}
