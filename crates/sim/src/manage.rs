//! Kombo's integration management endpoints as the simulator serves them:
//! `GET /v1/integrations/{id}` (status, setup status, data_expired_at),
//! `POST …/relink`, `POST …/setup-link` and `PUT …/enabled`. Each call is
//! counted (`/_sim/actions`) so tests can tell a relink from a new link.

// Handlers return the error `Response` itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hris_kombo::envelope::{EnabledRequest, LinkRequest, SuccessEnvelope};
use serde_json::json;

use crate::api::{action, error};
use crate::company::timestamp;
use crate::ids::kombo_id;
use crate::state::{Integration, SimState, read, write};

fn not_found(id: &str) -> Response {
    error(
        "PLATFORM.INTEGRATION_NOT_FOUND",
        format!("No integration with id {id}."),
    )
}

/// The integration as `GetIntegrationsIntegrationIdPositiveResponse` has it.
fn describe(i: &Integration) -> serde_json::Value {
    let tool = &i.tool;
    json!({
        "id": i.id,
        "tool": {
            "id": tool, "label": tool, "internal_label": null,
            "logo_url": format!("https://storage.googleapis.com/kombo-assets/integrations/{tool}/logo.svg"),
            "icon_url": format!("https://storage.googleapis.com/kombo-assets/integrations/{tool}/icon.svg"),
        },
        "category": "HRIS",
        "status": i.health.status,
        "setup_status": i.health.setup_status,
        "end_user": i.end_user,
        "scope_config": { "id": "sim-scope", "name": null },
        "data_expired_at": i.health.data_expired_at.map(timestamp),
        "created_at": timestamp(i.created_at),
        "beta": false,
        "read_models": [],
        "write_actions": [],
    })
}

pub async fn integration(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = action(&s, &headers, "integration") {
        return r;
    }
    match read(&s.integrations).get(&id) {
        Some(i) => axum::Json(SuccessEnvelope::new(describe(i))).into_response(),
        None => not_found(&id),
    }
}

/// A link into the simulator's connection flow for an existing integration.
fn link(s: &SimState, kind: &str, id: &str) -> Response {
    if !read(&s.integrations).contains_key(id) {
        return not_found(id);
    }
    let token = kombo_id(&mut rand::rng());
    let url = format!(
        "{}/connect?token={token}&{kind}={id}",
        read(&s.config).public_url
    );
    axum::Json(SuccessEnvelope::new(json!({ "link": url }))).into_response()
}

fn link_body(body: &[u8]) -> Result<LinkRequest, Response> {
    serde_json::from_slice::<LinkRequest>(body)
        .ok()
        .filter(|r| r.link_type == "EMBEDDED" || r.link_type == "MAGIC_LINK")
        .ok_or_else(|| {
            error(
                "PLATFORM.INPUT_INVALID",
                "link_type must be EMBEDDED or MAGIC_LINK.",
            )
        })
}

pub async fn relink(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    // Relink's body is optional (link_type defaults to EMBEDDED).
    serve_link(&s, &headers, &id, &body, "relink", true)
}

pub async fn setup_link(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    serve_link(&s, &headers, &id, &body, "setup-link", false)
}

/// A relink or setup link: counted, its body checked, the link made.
fn serve_link(
    s: &SimState,
    headers: &HeaderMap,
    id: &str,
    body: &[u8],
    endpoint: &str,
    body_optional: bool,
) -> Response {
    if let Err(r) = action(s, headers, endpoint) {
        return r;
    }
    if !(body_optional && body.is_empty())
        && let Err(r) = link_body(body)
    {
        return r;
    }
    let kind = if endpoint == "relink" {
        "relink"
    } else {
        "setup"
    };
    link(s, kind, id)
}

pub async fn enabled(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = action(&s, &headers, "enabled") {
        return r;
    }
    let Ok(request) = serde_json::from_slice::<EnabledRequest>(&body) else {
        return error("PLATFORM.INPUT_INVALID", "value (boolean) is required.");
    };
    match write(&s.integrations).get_mut(&id) {
        Some(i) => {
            i.health.enabled = request.value;
            i.health.status = if request.value { "ACTIVE" } else { "INACTIVE" }.to_owned();
            axum::Json(SuccessEnvelope::new(json!({}))).into_response()
        }
        None => not_found(&id),
    }
}
