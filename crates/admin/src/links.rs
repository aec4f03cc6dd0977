//! The admin API's integration links: relink (repair the credentials of the
//! tenant's integration) and setup link, the same calls as `tenant relink`
//! and `tenant setup-link`.

use hris_types::TenantId;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hris_worker::links::{self, LinkError, LinkKind};
use serde_json::json;

use crate::api::{Admin, error, store_error};

async fn link(admin: &Admin, id: &TenantId, kind: LinkKind) -> Response {
    let tenant = match admin.ctx.store.tenant(id).await {
        Ok(t) => t,
        Err(e) => return store_error(&e),
    };
    match links::link(&admin.ctx.kombo, &tenant, kind).await {
        Ok(link) => axum::Json(json!({ "link": link })).into_response(),
        Err(e @ LinkError::NotConnected(_)) => {
            error(StatusCode::CONFLICT, "not_connected", e.to_string())
        }
        Err(LinkError::Kombo(e)) => {
            let code = e.code().unwrap_or("unreachable").to_owned();
            error(StatusCode::BAD_GATEWAY, "kombo", format!("{code}: {e}"))
        }
    }
}

pub async fn relink(State(admin): State<Arc<Admin>>, Path(id): Path<TenantId>) -> Response {
    link(&admin, &id, LinkKind::Relink).await
}

pub async fn setup_link(State(admin): State<Arc<Admin>>, Path(id): Path<TenantId>) -> Response {
    link(&admin, &id, LinkKind::Setup).await
}
