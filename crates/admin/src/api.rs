//! The admin API (bearer `ADMIN_TOKEN`): the platform's "Import all" button,
//! tenant status, connection links and the mass-change guard's decisions.
//! Unlike the webhook path it uses the database and Kombo, which is why it is
//! a role of its own and not part of the receiver.

use hris_types::TenantId;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use hris_kombo::envelope::CreateLinkRequest;
use hris_store::{DeadLetterFilter, StoreError};
use hris_worker::WorkerContext;
use hris_worker::import::ImportError;
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::json;

use crate::console::auth::ConsoleAuth;
use crate::token::{AdminToken, digest};

/// An unauthenticated request's body is read and dropped up to this size and
/// time before the 401 (see `require_token`).
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

pub struct Admin {
    token_digest: [u8; 32],
    pub ctx: WorkerContext,
    /// The console's tokens and sessions.
    pub(crate) console: ConsoleAuth,
    /// One console replay at a time (each is paced too).
    pub(crate) replaying: tokio::sync::Mutex<()>,
}

impl Admin {
    /// The admin API and the console behind `token`; the console also
    /// admits `read_only` (`ADMIN_READONLY_TOKEN`) to look without acting.
    pub fn new(token: &AdminToken, read_only: Option<&AdminToken>, ctx: WorkerContext) -> Self {
        Self {
            token_digest: token.digest(),
            ctx,
            console: ConsoleAuth::new(token, read_only),
            replaying: tokio::sync::Mutex::new(()),
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
        digest(given.trim()) == self.token_digest
    }
}

/// Every route checks the token in a route layer, which runs before any of the
/// handler's extractors: an unauthenticated caller learns nothing from how its
/// body or path is parsed (no 413 or 400 before the 401), and its body is
/// never read.
pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route("/admin/tenants/{id}/import-all", post(import_all))
        .route("/admin/tenants/{id}/status", get(status))
        .route("/admin/tenants/{id}/connect", post(connect))
        .route("/admin/tenants/{id}/relink", post(crate::links::relink))
        .route(
            "/admin/tenants/{id}/setup-link",
            post(crate::links::setup_link),
        )
        .route("/admin/tenants/{id}/held/{decision}", post(decide))
        .route_layer(middleware::from_fn_with_state(admin.clone(), require_token))
        .with_state(admin)
}

async fn require_token(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    if !admin.authorised(request.headers()) {
        // The body is discarded unparsed, up to a cap: a client still sending
        // would otherwise see a connection reset instead of the 401.
        discard(request.into_body()).await;
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "unauthorised",
            "a valid bearer ADMIN_TOKEN is required",
        );
        // Nothing more from this client on this connection.
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    }
    next.run(request).await
}

/// Reads and drops `body` until its end, `DRAIN_MAX_BYTES` or `DRAIN_TIMEOUT`,
/// whichever comes first.
async fn discard(mut body: Body) {
    let read = async {
        let mut seen = 0;
        while seen <= DRAIN_MAX_BYTES {
            match body.frame().await {
                Some(Ok(frame)) => seen += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => return,
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, read).await;
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

pub(crate) fn store_error(e: &StoreError) -> Response {
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

async fn import_all(State(admin): State<Arc<Admin>>, Path(id): Path<TenantId>) -> Response {
    let tenant = match admin.ctx.store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    match start_import_all(&admin, tenant).await {
        Ok(started) => {
            let body = json!({
                "sync_run_id": started.sync_run_id,
                "kombo_refresh": started.force_sync.as_ref().map(|_| "requested").unwrap_or("refused"),
                "kombo_sync_id": started.force_sync.as_ref().ok().map(|s| s.sync_id.clone()),
                "already_queued": started.force_sync.as_ref().ok().map(|s| s.already_queued),
            });
            (StatusCode::ACCEPTED, axum::Json(body)).into_response()
        }
        Err(ImportError::NotActive { .. }) => error(
            StatusCode::CONFLICT,
            "not_connected",
            "the tenant is not connected",
        ),
        Err(ImportError::Store(e)) => store_error(&e),
        Err(e @ ImportError::Bus(_)) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            e.to_string(),
        ),
    }
}

/// "Import all" for the admin API and the console: Kombo's refresh is asked
/// for now; its wait and the read go on after the answer (Kombo's sync takes
/// minutes), bounded by the settings' `kombo_sync_wait`.
pub(crate) async fn start_import_all(
    admin: &Admin,
    tenant: hris_store::Tenant,
) -> Result<hris_worker::import::ImportStarted, ImportError> {
    let started = hris_worker::import::start(&admin.ctx, &tenant).await?;
    tokio::spawn(hris_worker::import::finish_in_background(
        admin.ctx.clone(),
        tenant,
        started.clone(),
        admin.ctx.settings.kombo_sync_wait,
    ));
    Ok(started)
}

async fn status(State(admin): State<Arc<Admin>>, Path(id): Path<TenantId>) -> Response {
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
    let (entities, held, dead, health) = match tokio::try_join!(
        store.fetch_status(&id),
        store.held_changes(&id),
        store.dead_letter_summary(&filter),
        store.tenant_health(&id)
    ) {
        Ok(x) => x,
        Err(e) => return store_error(&e),
    };
    axum::Json(json!({
        "tenant": tenant.id, "state": tenant.integration_state, "integration_id": tenant.kombo_integration_id,
        "entities": entities, "held_changes": held.len(),
        "pending_dead_letters": dead.iter().map(|g| g.count).sum::<i64>(),
        "kombo": health,
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
    Path(id): Path<TenantId>,
    body: Bytes,
) -> Response {
    let tenant = match admin.ctx.store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    if let Some(refusal) = hris_worker::links::connect_refusal(&tenant) {
        return error(StatusCode::CONFLICT, "already_connected", refusal);
    }
    // Parsed by hand: axum's JSON rejection quotes the offending value (the
    // admin's email, say) in its answer.
    let body: ConnectRequest = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                crate::redact::serde_error(&e),
            );
        }
    };
    let request = CreateLinkRequest {
        end_user_email: body.admin_email,
        end_user_organization_name: tenant.name.clone(),
        end_user_origin_id: Some(tenant.id.to_string()),
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
    Path((id, decision)): Path<(TenantId, String)>,
) -> Response {
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return error(StatusCode::NOT_FOUND, "not_found", "approve or reject"),
    };
    // Deciding "nothing held" for a tenant that does not exist is a 404, not
    // a 200 that lets a typo pass for a decision.
    if let Err(e) = admin.ctx.store.tenant(&id).await {
        return store_error(&e);
    }
    match admin
        .ctx
        .store
        .decide_held(&id, approve, "admin-api", None)
        .await
    {
        Ok(n) => axum::Json(json!({ "decided": n, "approved": approve })).into_response(),
        Err(e) => store_error(&e),
    }
}
