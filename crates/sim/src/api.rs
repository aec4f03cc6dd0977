//! Kombo's API as the simulator serves it: `/v1/hris/*` listings with cursor
//! pagination and filters, `/v1/connect/create-link` and
//! `DELETE /v1/integrations/{id}`, with Kombo's error envelope; force-sync
//! (`sync.rs`) and the integration management calls (`manage.rs`) beside.

// Handlers return the error `Response` itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use chrono::Utc;
use hris_kombo::envelope::{CreateLinkRequest, ErrorEnvelope, Page, SuccessEnvelope};
use serde::Serialize;
use serde_json::json;

use crate::company::Company;
use crate::faults::{Injected, status_for};
use crate::ids::kombo_id;
use crate::render;
use crate::state::{EndUserInfo, Integration, PendingLink, SimState, lock, read, write};
use crate::webhooks;

use crate::listing::{Filters, Params, list_param, page, parse_filters};

pub fn router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/v1/hris/employees", get(employees))
        .route("/v1/hris/groups", get(groups))
        .route("/v1/hris/locations", get(locations))
        .route("/v1/hris/legal-entities", get(legal_entities))
        .route("/v1/hris/absence-types", get(absence_types))
        .route("/v1/hris/absences", get(absences))
        .route("/v1/force-sync", post(crate::sync::force_sync))
        .route("/v1/connect/create-link", post(create_link))
        .route(
            "/v1/integrations/{integration_id}",
            delete(delete_integration).get(crate::manage::integration),
        )
        .route(
            "/v1/integrations/{integration_id}/relink",
            post(crate::manage::relink),
        )
        .route(
            "/v1/integrations/{integration_id}/setup-link",
            post(crate::manage::setup_link),
        )
        .route(
            "/v1/integrations/{integration_id}/enabled",
            put(crate::manage::enabled),
        )
        .with_state(state)
}

/// A Kombo error answer.
pub fn error(code: &str, message: impl Into<String>) -> Response {
    let status = StatusCode::from_u16(status_for(code)).unwrap_or(StatusCode::BAD_REQUEST);
    let log_url = format!("https://app.kombo.dev/logs/{}", kombo_id(&mut rand::rng()));
    let title = code
        .split('.')
        .nth(1)
        .unwrap_or(code)
        .replace('_', " ")
        .to_lowercase();
    (
        status,
        axum::Json(ErrorEnvelope::new(code, &title, message, Some(log_url))),
    )
        .into_response()
}

fn authorised(state: &SimState, headers: &HeaderMap) -> Result<(), Response> {
    let expected = format!("Bearer {}", read(&state.config).api_key);
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(given) if given == expected => Ok(()),
        _ => Err(error(
            "PLATFORM.AUTHENTICATION_INVALID",
            "The API key is missing or invalid.",
        )),
    }
}

/// An authorised call of a non-listing endpoint, counted under `endpoint`.
pub(crate) fn action(
    state: &SimState,
    headers: &HeaderMap,
    endpoint: &str,
) -> Result<(), Response> {
    authorised(state, headers)?;
    state.count_action(endpoint);
    Ok(())
}

pub(crate) fn integration_id(headers: &HeaderMap) -> Result<String, Response> {
    headers
        .get("x-integration-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| {
            error(
                "PLATFORM.INPUT_INVALID",
                "The X-Integration-Id header is required.",
            )
        })
}

/// Runs a listing for the integration named in the headers, with faults applied.
async fn serve_list<T: Serialize>(
    state: &SimState,
    headers: &HeaderMap,
    params: &Params,
    endpoint: &'static str,
    build: impl Fn(&Company, &Filters, &Params) -> Page<T>,
) -> Response {
    if let Err(r) = authorised(state, headers) {
        return r;
    }
    let id = match integration_id(headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let filters = match parse_filters(params) {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (injected, delay, (cursor_loop, cursor_cycle), corrupt, message) = {
        let integrations = read(&state.integrations);
        let Some(integration) = integrations.get(&id) else {
            return error(
                "PLATFORM.INTEGRATION_NOT_FOUND",
                format!("No integration with id {id}."),
            );
        };
        count(integration, endpoint, filters.after_id.is_none());
        let injected = integration.faults.draw(&mut *lock(&integration.fault_rng));
        if injected != Injected::None {
            lock(&integration.stats).faults_injected += 1;
        }
        (
            injected,
            integration.faults.delay(),
            (
                integration.faults.cursor_loop,
                integration.faults.cursor_cycle,
            ),
            integration.faults.corrupt.clone(),
            integration.faults.error_message.clone(),
        )
    };
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    match injected {
        Injected::RateLimited { retry_after } => {
            let mut r = error("PLATFORM.RATE_LIMIT_EXCEEDED", "Rate limit exceeded.");
            if let Ok(v) = retry_after.to_string().parse() {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return r;
        }
        Injected::Unavailable => {
            return error(
                "REMOTE.SERVICE_UNAVAILABLE",
                "The HR system is unavailable.",
            );
        }
        Injected::Error { code } => {
            return error(
                &code,
                message.unwrap_or_else(|| "Injected failure.".to_owned()),
            );
        }
        Injected::Malformed => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html>upstream hiccup</html>",
            )
                .into_response();
        }
        Injected::Truncated | Injected::None => {}
    }
    let body = {
        let integrations = read(&state.integrations);
        let Some(integration) = integrations.get(&id) else {
            return error(
                "PLATFORM.INTEGRATION_NOT_FOUND",
                format!("No integration with id {id}."),
            );
        };
        let mut page = build(&integration.company, &filters, params);
        if cursor_loop
            && page.next.is_some()
            && let Some(asked) = params.get("cursor")
        {
            page.next = Some(asked.clone());
        }
        if cursor_cycle && let Some(asked) = params.get("cursor") {
            // A page asked for by any cursor but the first points back at
            // the first: A → B → A.
            let mut first = filters.clone();
            first.after_id = None;
            let a = build(&integration.company, &first, params).next;
            if a.as_ref() != Some(asked) {
                page.next = a;
            }
        }
        if corrupt.is_empty() {
            serde_json::to_vec(&SuccessEnvelope::new(page)).unwrap_or_default()
        } else {
            let value = serde_json::to_value(SuccessEnvelope::new(page)).unwrap_or_default();
            crate::faults::render_corrupted(value, &corrupt)
        }
    };
    let body = if injected == Injected::Truncated {
        body[..body.len() * 2 / 3].to_vec()
    } else {
        body
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

fn count(integration: &Integration, endpoint: &str, first_page: bool) {
    let mut stats = lock(&integration.stats);
    if integration.sync.queued.is_some() {
        stats.reads_while_syncing += 1;
    }
    *stats.requests.entry(endpoint.to_owned()).or_default() += 1;
    if first_page {
        *stats.first_pages.entry(endpoint.to_owned()).or_default() += 1;
    }
}

async fn employees(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "employees", |c, f, p| {
        let statuses = list_param(p, "employment_statuses");
        let groups = list_param(p, "group_ids");
        let locations = list_param(p, "work_location_ids");
        let emails = list_param(p, "work_emails")
            .map(|v| v.into_iter().map(|e| e.to_lowercase()).collect::<Vec<_>>());
        page(
            &c.employees,
            f,
            |e| {
                statuses
                    .as_ref()
                    .is_none_or(|s| s.contains(&e.employment_status))
                    && groups
                        .as_ref()
                        .is_none_or(|g| e.group_ids.iter().any(|id| g.contains(id)))
                    && locations
                        .as_ref()
                        .is_none_or(|l| e.location_id.as_ref().is_some_and(|id| l.contains(id)))
                    && emails.as_ref().is_none_or(|m| {
                        e.work_email
                            .as_ref()
                            .is_some_and(|w| m.contains(&w.to_lowercase()))
                    })
            },
            |e| render::employee(c, e),
        )
    })
    .await
}

async fn groups(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "groups", |c, f, p| {
        let types = list_param(p, "types");
        let name = p.get("name_contains").map(|n| n.to_lowercase());
        page(
            &c.groups,
            f,
            |g| {
                types
                    .as_ref()
                    .is_none_or(|t| g.group_type.as_ref().is_some_and(|gt| t.contains(gt)))
                    && name
                        .as_ref()
                        .is_none_or(|n| g.name.to_lowercase().contains(n))
            },
            render::group,
        )
    })
    .await
}

async fn locations(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "locations", |c, f, _| {
        page(&c.locations, f, |_| true, render::location)
    })
    .await
}

async fn legal_entities(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "legal-entities", |c, f, _| {
        page(&c.legal_entities, f, |_| true, render::legal_entity)
    })
    .await
}

async fn absence_types(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "absence-types", |c, f, _| {
        page(&c.absence_types, f, |_| true, render::absence_type)
    })
    .await
}

async fn absences(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Query(p): Query<Params>,
) -> Response {
    serve_list(&s, &headers, &p, "absences", |c, f, p| {
        let employee = p.get("employee_id").cloned();
        let types = list_param(p, "type_ids");
        page(
            &c.absences,
            f,
            |a| {
                employee.as_ref().is_none_or(|e| &a.employee_id == e)
                    && types.as_ref().is_none_or(|t| t.contains(&a.type_id))
            },
            |a| render::absence(c, a),
        )
    })
    .await
}

async fn create_link(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Err(r) = action(&s, &headers, "create-link") {
        return r;
    }
    let Ok(request) = serde_json::from_slice::<CreateLinkRequest>(&body) else {
        return error(
            "PLATFORM.INPUT_INVALID",
            "end_user_email and end_user_organization_name are required.",
        );
    };
    let token = kombo_id(&mut rand::rng());
    let link = PendingLink {
        tool: request
            .integration_tool
            .unwrap_or_else(|| "personio".to_owned()),
        end_user: EndUserInfo {
            origin_id: request.end_user_origin_id.unwrap_or_default(),
            organization_name: request.end_user_organization_name,
            creator_email: request.end_user_email,
        },
    };
    lock(&s.links).insert(token.clone(), link);
    let url = format!("{}/connect?token={token}", read(&s.config).public_url);
    axum::Json(SuccessEnvelope::new(json!({ "link": url }))).into_response()
}

async fn delete_integration(
    State(s): State<Arc<SimState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    if let Err(r) = authorised(&s, &headers) {
        return r;
    }
    let Some(removed) = write(&s.integrations).remove(&id) else {
        return error(
            "PLATFORM.INTEGRATION_NOT_FOUND",
            format!("No integration with id {id}."),
        );
    };
    let data = json!({
        "id": id, "tool": removed.tool, "category": "HRIS", "end_user": removed.end_user,
        "deleted_at": crate::company::timestamp(Utc::now()),
    });
    webhooks::send_event(&s, "integration-deleted", data).await;
    axum::Json(SuccessEnvelope::new(json!({}))).into_response()
}
