//! `POST /v1/force-sync` as Kombo runs it: one sync per integration may run or
//! be queued (asking again answers `already_queued` with its id), Kombo's copy
//! changes only when the sync ends, and `sync-finished` with the same id
//! follows. HR changes staged for the sync (`/_sim/.../staged`) become
//! visible at that moment and not before, so a client that reads early reads
//! the old copy, as it would from Kombo.

// Handlers return the error `Response` itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use hris_kombo::envelope::{ForceSyncRequest, SuccessEnvelope};
use serde_json::json;

use crate::api::{action, error, integration_id};
use crate::ids::kombo_id;
use crate::state::{SimState, write};
use crate::webhooks;

pub async fn force_sync(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = action(&s, &headers, "force-sync") {
        return r;
    }
    let id = match integration_id(&headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    // The body is optional; FULL is the default.
    let requested = if body.is_empty() {
        "FULL".to_owned()
    } else {
        match serde_json::from_slice::<ForceSyncRequest>(&body) {
            Ok(r) if r.sync_type == "FULL" || r.sync_type == "DELTA" => r.sync_type,
            _ => return error("PLATFORM.INPUT_INVALID", "type must be FULL or DELTA."),
        }
    };
    let (sync_id, already_queued, delay) = {
        let mut integrations = write(&s.integrations);
        let Some(integration) = integrations.get_mut(&id) else {
            return error(
                "PLATFORM.INTEGRATION_NOT_FOUND",
                format!("No integration with id {id}."),
            );
        };
        match &integration.sync.queued {
            Some(queued) => (queued.clone(), true, integration.sync.finish_delay),
            None => {
                let sync_id = kombo_id(&mut rand::rng());
                integration.sync.queued = Some(sync_id.clone());
                (sync_id, false, integration.sync.finish_delay)
            }
        }
    };
    if !already_queued {
        let state = s.clone();
        let (sid, iid) = (sync_id.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            finish(&state, &iid, &sid, delay).await;
        });
    }
    axum::Json(SuccessEnvelope::new(json!({
        "already_queued": already_queued, "sync_id": sync_id, "type": requested,
    })))
    .into_response()
}

/// Ends a sync: its staged changes become Kombo's copy, `data_expired_at`
/// clears (a successful sync), and only then `sync-finished` is sent.
async fn finish(state: &SimState, integration_id: &str, sync_id: &str, took: std::time::Duration) {
    let end_user = {
        let mut integrations = write(&state.integrations);
        let Some(integration) = integrations.get_mut(integration_id) else {
            return;
        };
        if integration.sync.queued.as_deref() != Some(sync_id) {
            return;
        }
        let now = Utc::now();
        for mutation in std::mem::take(&mut integration.sync.staged) {
            if let Err(e) = integration.company.apply(mutation, now) {
                tracing::warn!(error = %e, "a staged change did not apply");
            }
        }
        integration.health.data_expired_at = None;
        integration.sync.queued = None;
        integration.end_user.clone()
    };
    let ended = Utc::now();
    let started = ended - chrono::Duration::from_std(took).unwrap_or_default();
    let data = json!({
        "sync_id": sync_id, "sync_state": "SUCCEEDED",
        "sync_started_at": crate::company::timestamp(started),
        "sync_ended_at": crate::company::timestamp(ended),
        "sync_duration_seconds": took.as_secs_f64(),
        "integration_id": integration_id,
        "integration_tool": integration_id.split(':').next().unwrap_or("personio"),
        "integration_category": "HRIS", "end_user": end_user,
        "log_url": format!("https://app.kombo.dev/logs/{sync_id}"),
    });
    webhooks::send_event(state, "sync-finished", data).await;
}
