//! The simulator's control API (`/_sim/...`): create integrations, change their
//! data, inject faults, read counters, finish connection flows, send webhooks.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::company::{Company, CompanySpec};
use crate::faults::Faults;
use crate::ids::kombo_id;
use crate::mutate::MutationRequest;
use crate::state::{EndUserInfo, Integration, SimState, lock, read, write};
use crate::webhooks;

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/_sim/integrations", post(create).get(list))
        .route("/_sim/integrations/{id}/faults", put(set_faults))
        .route("/_sim/integrations/{id}/stats", get(stats))
        .route("/_sim/integrations/{id}/mutations", post(mutate))
        .route("/_sim/integrations/{id}/events", post(send_event))
        .route("/_sim/webhooks/flush", post(flush))
        .route("/_sim/webhooks/stats", get(webhook_stats))
        .route("/_sim/config", put(configure))
        .route("/_sim/connect/complete", post(complete_connection))
        .route("/connect", get(connect_page))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(state)
}

fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": message.into() })),
    )
        .into_response()
}

fn not_found(id: &str) -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": format!("no integration {id}") })),
    )
        .into_response()
}

#[derive(Debug, Deserialize)]
pub struct CreateIntegration {
    #[serde(default)]
    pub integration_id: Option<String>,
    #[serde(default = "default_tool")]
    pub tool: String,
    #[serde(default)]
    pub origin_id: Option<String>,
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub company: CompanySpec,
}

fn default_tool() -> String {
    "personio".to_owned()
}

/// Creates an integration with a generated company; no webhook is sent.
pub fn add_integration(state: &SimState, request: CreateIntegration) -> String {
    let id = request
        .integration_id
        .unwrap_or_else(|| format!("{}:{}", request.tool, kombo_id(&mut rand::rng())));
    let company = Company::generate(request.company.clone(), Utc::now());
    let end_user = EndUserInfo {
        origin_id: request.origin_id.unwrap_or_default(),
        organization_name: request
            .organization_name
            .unwrap_or_else(|| "Acme".to_owned()),
        creator_email: format!("admin@{}.example", request.company.domain),
    };
    let integration = Integration::new(id.clone(), request.tool, end_user, company);
    write(&state.integrations).insert(id.clone(), integration);
    id
}

async fn create(
    State(s): State<Arc<SimState>>,
    Json(request): Json<CreateIntegration>,
) -> Response {
    let size = request.company.employees;
    if !(1..=1_000_000).contains(&size) {
        return bad_request("company.employees must be from 1 to 1000000");
    }
    let state = s.clone();
    // Generating a million people takes a while: keep it off the async workers.
    match tokio::task::spawn_blocking(move || add_integration(&state, request)).await {
        Ok(id) => Json(json!({ "integration_id": id })).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

#[derive(Serialize)]
struct Summary {
    integration_id: String,
    origin_id: String,
    employees: usize,
}

async fn list(State(s): State<Arc<SimState>>) -> Json<Vec<Summary>> {
    let integrations = read(&s.integrations);
    Json(
        integrations
            .values()
            .map(|i| Summary {
                integration_id: i.id.clone(),
                origin_id: i.end_user.origin_id.clone(),
                employees: i.company.employees.len(),
            })
            .collect(),
    )
}

async fn set_faults(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(faults): Json<Faults>,
) -> Response {
    match write(&s.integrations).get_mut(&id) {
        Some(i) => {
            i.faults = faults;
            StatusCode::NO_CONTENT.into_response()
        }
        None => not_found(&id),
    }
}

async fn stats(State(s): State<Arc<SimState>>, Path(id): Path<String>) -> Response {
    match read(&s.integrations).get(&id) {
        Some(i) => Json(lock(&i.stats).clone()).into_response(),
        None => not_found(&id),
    }
}

async fn mutate(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(request): Json<MutationRequest>,
) -> Response {
    let outcome = {
        let mut integrations = write(&s.integrations);
        let Some(integration) = integrations.get_mut(&id) else {
            return not_found(&id);
        };
        match integration.company.apply(request.mutation, Utc::now()) {
            Ok(o) => o,
            Err(e) => return bad_request(e.0),
        }
    };
    if !request.silent && !outcome.models.is_empty() {
        let models: Vec<&str> = outcome.models.iter().map(String::as_str).collect();
        webhooks::enqueue_models(&s, &id, &models);
    }
    Json(outcome).into_response()
}

#[derive(Deserialize)]
struct EventRequest {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(default)]
    data: Value,
}

/// Sends a lifecycle event for an integration now (`integration-state-changed`…);
/// `end_user` and the integration fields are filled in.
async fn send_event(
    State(s): State<Arc<SimState>>,
    Path(id): Path<String>,
    Json(request): Json<EventRequest>,
) -> Response {
    let (tool, end_user) = match read(&s.integrations).get(&id) {
        Some(i) => (i.tool.clone(), i.end_user.clone()),
        None => return not_found(&id),
    };
    let mut data = json!({
        "integration_id": id, "integration_tool": tool, "integration_category": "HRIS",
        "end_user": end_user,
    });
    if let (Some(obj), Value::Object(extra)) = (data.as_object_mut(), request.data) {
        obj.extend(extra);
    }
    let event_id = webhooks::send_event(&s, &request.event_type, data).await;
    Json(json!({ "event_id": event_id })).into_response()
}

async fn flush(State(s): State<Arc<SimState>>) -> StatusCode {
    webhooks::flush_now(&s).await;
    StatusCode::NO_CONTENT
}

async fn webhook_stats(State(s): State<Arc<SimState>>) -> Response {
    Json(lock(&s.webhook_stats).clone()).into_response()
}

#[derive(Deserialize)]
struct ConfigUpdate {
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    debounce_ms: Option<u64>,
}

async fn configure(State(s): State<Arc<SimState>>, Json(update): Json<ConfigUpdate>) -> StatusCode {
    let mut config = write(&s.config);
    if let Some(url) = update.webhook_url {
        config.webhook_url = Some(url).filter(|u| !u.is_empty());
    }
    if let Some(ms) = update.debounce_ms {
        config.debounce = Duration::from_millis(ms);
    }
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct CompleteConnection {
    token: String,
    #[serde(default)]
    company: CompanySpec,
}

/// The admin finishes Kombo's connection flow: the integration exists and Kombo
/// sends `integration-created` with the tenant's `origin_id`.
async fn complete_connection(
    State(s): State<Arc<SimState>>,
    Json(request): Json<CompleteConnection>,
) -> Response {
    let Some(link) = lock(&s.links).remove(&request.token) else {
        return bad_request("unknown or already used connection token");
    };
    let state = s.clone();
    let create = CreateIntegration {
        integration_id: None,
        tool: link.tool.clone(),
        origin_id: Some(link.end_user.origin_id.clone()),
        organization_name: Some(link.end_user.organization_name.clone()),
        company: request.company,
    };
    let id = match tokio::task::spawn_blocking(move || add_integration(&state, create)).await {
        Ok(id) => id,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    let data =
        json!({ "id": id, "tool": link.tool, "category": "HRIS", "end_user": link.end_user });
    let event_id = webhooks::send_event(&s, "integration-created", data).await;
    Json(json!({ "integration_id": id, "event_id": event_id })).into_response()
}

#[derive(Deserialize)]
struct ConnectQuery {
    token: String,
}

async fn connect_page(Query(q): Query<ConnectQuery>) -> String {
    format!(
        "Kombo simulator connection flow.\nTo finish it as the customer's admin would: POST /_sim/connect/complete {{\"token\":\"{}\"}}\n",
        q.token
    )
}
