//! The admin API (bearer `ADMIN_TOKEN`): the platform's "Import all" button,
//! tenant status, connection links and the mass-change guard's decisions.
//! Unlike the webhook path it uses the database; it is off without a token.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hris_kombo::envelope::CreateLinkRequest;
use hris_store::{DeadLetterFilter, StoreError};
use hris_worker::WorkerContext;
use hris_worker::import::ImportError;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

pub struct Admin {
    /// SHA-256 of the token: comparing digests keeps the comparison from
    /// revealing how much of a guessed token was right.
    token_digest: [u8; 32],
    pub ctx: WorkerContext,
}

impl Admin {
    pub fn new(token: &str, ctx: WorkerContext) -> Self {
        Self {
            token_digest: Sha256::digest(token.as_bytes()).into(),
            ctx,
        }
    }

    fn authorised(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let digest: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        digest == self.token_digest
    }
}

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/admin/tenants/{id}/import-all", post(import_all))
        .route("/admin/tenants/{id}/status", get(status))
        .route("/admin/tenants/{id}/connect", post(connect))
        .route("/admin/tenants/{id}/held/{decision}", post(decide))
        .with_state(admin)
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

fn store_error(e: &StoreError) -> Response {
    match e {
        StoreError::NotFound(what) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        ),
        e if e.is_retryable() => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
        e => error(StatusCode::BAD_REQUEST, "invalid", e.to_string()),
    }
}

macro_rules! authorise {
    ($admin:expr, $headers:expr) => {
        if !$admin.authorised(&$headers) {
            return error(
                StatusCode::UNAUTHORIZED,
                "unauthorised",
                "a valid bearer ADMIN_TOKEN is required",
            );
        }
    };
}

async fn import_all(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    authorise!(admin, headers);
    let tenant = match admin.ctx.store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    match hris_worker::import::start(&admin.ctx, &tenant).await {
        Ok(started) => (
            StatusCode::ACCEPTED,
            axum::Json(json!({
                "sync_run_id": started.sync_run_id,
                "kombo_refresh": started.force_sync.as_ref().map(|_| "requested").unwrap_or("refused"),
            })),
        )
            .into_response(),
        Err(ImportError::NotActive { .. }) => error(StatusCode::CONFLICT, "not_connected", "the tenant is not connected"),
        Err(ImportError::Store(e)) => store_error(&e),
        Err(e @ ImportError::Bus(_)) => error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string()),
    }
}

async fn status(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    authorise!(admin, headers);
    let store = &admin.ctx.store;
    let tenant = match store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    let filter = DeadLetterFilter {
        tenant_id: Some(id.clone()),
        state: Some("pending".into()),
        ..DeadLetterFilter::default()
    };
    let (entities, held, dead) = match tokio::try_join!(
        store.fetch_status(&id),
        store.held_changes(&id),
        store.dead_letter_summary(&filter)
    ) {
        Ok(x) => x,
        Err(e) => return store_error(&e),
    };
    axum::Json(json!({
        "tenant": tenant.id, "state": tenant.integration_state, "integration_id": tenant.kombo_integration_id,
        "entities": entities, "held_changes": held.len(),
        "pending_dead_letters": dead.iter().map(|g| g.count).sum::<i64>(),
    }))
    .into_response()
}

#[derive(Deserialize)]
struct ConnectRequest {
    tool: String,
    admin_email: String,
}

async fn connect(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    axum::Json(body): axum::Json<ConnectRequest>,
) -> Response {
    authorise!(admin, headers);
    let tenant = match admin.ctx.store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    let request = CreateLinkRequest {
        end_user_email: body.admin_email,
        end_user_organization_name: tenant.name.clone(),
        end_user_origin_id: Some(tenant.id.clone()),
        integration_category: Some("HRIS".into()),
        integration_tool: Some(body.tool),
        ..CreateLinkRequest::default()
    };
    match admin.ctx.kombo.create_link(&request).await {
        Ok(link) => axum::Json(json!({ "link": link })).into_response(),
        Err(e) => error(StatusCode::BAD_GATEWAY, "kombo", e.to_string()),
    }
}

async fn decide(
    State(admin): State<Arc<Admin>>,
    headers: HeaderMap,
    Path((id, decision)): Path<(String, String)>,
) -> Response {
    authorise!(admin, headers);
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return error(StatusCode::NOT_FOUND, "not_found", "approve or reject"),
    };
    match admin.ctx.store.decide_held(&id, approve, "admin-api").await {
        Ok(n) => axum::Json(json!({ "decided": n, "approved": approve })).into_response(),
        Err(e) => store_error(&e),
    }
}
