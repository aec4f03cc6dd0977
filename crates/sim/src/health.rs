//! Control of what Kombo says about an integration's health (`/_sim/...`):
//! its status and setup status, a filter change that marks people deleted
//! and sets `data_expired_at`, issues raised and resolved (the
//! `issue-status-changed` webhook), and force-syncs: how long they run and
//! which HR changes they bring.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;

use crate::ids::kombo_id;
use crate::mutate::MutationRequest;
use crate::state::{SimState, lock, read, write};
use crate::webhooks;

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/_sim/integrations/{id}/health", put(set_health))
        .route("/_sim/integrations/{id}/sync", put(set_sync))
        .route("/_sim/integrations/{id}/staged", post(stage))
        .route("/_sim/integrations/{id}/filter-change", post(filter_change))
        .route("/_sim/issues", post(issue))
        .route("/_sim/actions", get(actions))
        .with_state(state)
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no integration {id}") })),
    )
        .into_response()
}

#[derive(Deserialize)]
struct HealthUpdate {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    setup_status: Option<String>,
    /// true: the configuration changed now; false: cleared.
    #[serde(default)]
    data_expired: Option<bool>,
}

async fn set_health(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(update): Json<HealthUpdate>,
) -> Response {
    let mut integrations = write(&s.integrations);
    let Some(i) = integrations.get_mut(&id) else {
        return not_found(&id);
    };
    if let Some(status) = update.status {
        i.health.status = status;
    }
    if let Some(setup) = update.setup_status {
        i.health.setup_status = setup;
    }
    if let Some(expired) = update.data_expired {
        i.health.data_expired_at = expired.then(Utc::now);
    }
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct SyncUpdate {
    finish_delay_ms: u64,
}

async fn set_sync(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(update): Json<SyncUpdate>,
) -> Response {
    match write(&s.integrations).get_mut(&id) {
        Some(i) => {
            i.sync.finish_delay = Duration::from_millis(update.finish_delay_ms);
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(&id),
    }
}

/// An HR change Kombo has not synced yet: it shows with the next force-sync's end.
async fn stage(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(request): Json<MutationRequest>,
) -> Response {
    match write(&s.integrations).get_mut(&id) {
        Some(i) => {
            i.sync.staged.push(request.mutation);
            Json(json!({ "staged": i.sync.staged.len() })).into_response()
        }
        None => not_found(&id),
    }
}

#[derive(Deserialize)]
struct FilterChange {
    /// Share of the people still employed that the new filter leaves out.
    deleted_percent: f64,
}

/// The customer narrows Kombo's filters: the people left out get
/// `remote_deleted_at`, `data_expired_at` is set, and a `data-changed` follows.
async fn filter_change(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(change): Json<FilterChange>,
) -> Response {
    let deleted = {
        let mut integrations = write(&s.integrations);
        let Some(i) = integrations.get_mut(&id) else {
            return not_found(&id);
        };
        let now = Utc::now();
        let employed: Vec<String> = i
            .company
            .employees
            .values()
            .filter(|e| e.deleted_at.is_none() && e.employment_status == "ACTIVE")
            .map(|e| e.id.clone())
            .collect();
        let share = change.deleted_percent.clamp(0.0, 100.0) / 100.0;
        let n = (employed.len() as f64 * share).round() as usize;
        for id in employed.iter().take(n) {
            if let Some(e) = i.company.employees.get_mut(id) {
                e.deleted_at = Some(now);
                e.updated_at = now;
                e.changed_at = now;
            }
        }
        i.health.data_expired_at = Some(now);
        employed.into_iter().take(n).collect::<Vec<_>>()
    };
    webhooks::enqueue_models(&s, &id, &["hris_employees"]);
    Json(json!({ "deleted": deleted })).into_response()
}

#[derive(Deserialize)]
struct IssueRequest {
    /// `raised` or `resolved`.
    change: String,
    #[serde(rename = "type", default = "auth_failed")]
    issue_type: String,
    /// The issue to resolve (a new one is made when raising without it).
    #[serde(default)]
    issue_id: Option<String>,
    /// None: an issue of the whole environment.
    #[serde(default)]
    integration_id: Option<String>,
}

fn auth_failed() -> String {
    hris_kombo::issue::AUTHENTICATION_FAILED.to_owned()
}

/// Sends `issue-status-changed` as Kombo does when it raises or resolves one.
async fn issue(State(s): State<Arc<SimState>>, Json(request): Json<IssueRequest>) -> Response {
    let integration = match &request.integration_id {
        None => serde_json::Value::Null,
        Some(id) => match read(&s.integrations).get(id) {
            Some(i) => json!({
                "id": i.id, "tool": i.tool, "category": "HRIS", "end_user": i.end_user,
            }),
            None => return not_found(id),
        },
    };
    let raised = request.change == "raised";
    let issue_id = request
        .issue_id
        .unwrap_or_else(|| kombo_id(&mut rand::rng()));
    let now = crate::company::timestamp(Utc::now());
    let data = json!({
        "change": request.change,
        "issue": {
            "id": issue_id, "type": request.issue_type,
            "title": "Simulated issue",
            "status": if raised { "OPEN" } else { "RESOLVED" },
            "markdown_message": "Simulated by the Kombo simulator.",
            "first_observed_at": now,
            "resolved_at": if raised { serde_json::Value::Null } else { json!(now) },
        },
        "integration": integration,
    });
    let event_id = webhooks::send_event(&s, "issue-status-changed", data).await;
    Json(json!({ "issue_id": issue_id, "event_id": event_id })).into_response()
}

async fn actions(State(s): State<Arc<SimState>>) -> Response {
    Json(lock(&s.actions).clone()).into_response()
}
