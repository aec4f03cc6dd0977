//! The operations console: server-rendered pages on the admin role's
//! address (`/console/…`), usable without JavaScript. Tenants and their
//! health, one tenant (runs, held changes, "Import all", the directory), one
//! user (what `explain` shows), and dead letters (grouped, replay, purge).
//! Every action calls what the CLI and the admin API call, audited with the
//! console's actor. Pages may show names and emails to the operators who
//! logged in; logs never do.

pub mod auth;
mod dead_letters;
mod form;
mod layout;
mod replay;
mod tenant;
mod tenants;
mod user;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hris_store::StoreError;
use http_body_util::BodyExt;
use maud::{Markup, html};

use crate::api::Admin;
use auth::Viewer;
pub(crate) use form::FormData;
use layout::page;

/// The most a console form may send.
const FORM_MAX_BYTES: usize = 256 * 1024;

pub fn router(admin: Arc<Admin>) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/tenants") }),
        )
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/tenants", get(tenants::page))
        .route("/console/tenants/{id}", get(tenant::page))
        .route("/console/tenants/{id}/held", post(tenant::decide))
        .route("/console/tenants/{id}/import-all", post(tenant::import_all))
        .route("/console/tenants/{id}/users/{who}", get(user::page))
        .route("/console/dead-letters", get(dead_letters::page))
        .route("/console/dead-letters/{id}", get(dead_letters::show))
        .route(
            "/console/dead-letters/replay",
            get(replay::confirm_replay).post(replay::replay),
        )
        .route(
            "/console/dead-letters/purge",
            get(replay::confirm_purge).post(replay::purge),
        )
        .layer(middleware::from_fn_with_state(admin.clone(), guard_posts))
        .with_state(admin)
}

/// Every POST but the login's is checked here, before its handler: the
/// viewer must hold the write token (logging out excepted) and, with a
/// session, send that session's CSRF token. The form is read once, bounded,
/// and handed on.
async fn guard_posts(State(admin): State<Arc<Admin>>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST || request.uri().path() == "/console/login" {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = http_body_util::Limited::new(body, FORM_MAX_BYTES)
        .collect()
        .await
        .map(|b| b.to_bytes())
    else {
        return refused(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large.");
    };
    let form = FormData::parse(&bytes);
    let csrf = form.get("csrf");
    let allowed = if parts.uri.path() == "/console/logout" {
        admin.console.csrf_matches(&parts.headers, csrf)
    } else {
        admin.console.may_act(&parts.headers, csrf)
    };
    if !allowed {
        tracing::warn!(path = %parts.uri.path(), "console: action refused (read-only, no session or bad CSRF token)");
        return refused(
            StatusCode::FORBIDDEN,
            "Refused: this action needs the write token (ADMIN_TOKEN) and a form of this session.",
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

impl FromRequestParts<Arc<Admin>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        admin: &Arc<Admin>,
    ) -> Result<Self, Self::Rejection> {
        admin
            .console
            .viewer(&parts.headers)
            .ok_or_else(|| Redirect::to("/console/login").into_response())
    }
}

async fn login_page() -> Markup {
    login_form(None)
}

fn login_form(error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            h1 { "Operations console" }
            p.muted { "Give the admin token to act, or the read-only token to look." }
            @if let Some(error) = error { p.err #login-error { (error) } }
            form method="post" action="/console/login" {
                input #token type="password" name="token" autocomplete="off" placeholder="token" required;
                " "
                button #login type="submit" { "Log in" }
            }
        },
    )
}

async fn login(State(admin): State<Arc<Admin>>, body: axum::body::Bytes) -> Response {
    let form = FormData::parse(&body);
    let Some(access) = form
        .get("token")
        .and_then(|t| admin.console.access_for_token(t))
    else {
        tracing::warn!("console: login refused");
        return (
            StatusCode::UNAUTHORIZED,
            login_form(Some("That token is not recognised.")),
        )
            .into_response();
    };
    tracing::info!(access = access.label(), "console: login");
    let cookie = auth::set_cookie(Some(&admin.console.new_session(access)));
    with_cookie(Redirect::to("/console/tenants").into_response(), &cookie)
}

async fn logout() -> Response {
    with_cookie(
        Redirect::to("/console/login").into_response(),
        &auth::set_cookie(None),
    )
}

fn with_cookie(mut response: Response, cookie: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// A page that says no, with `status`.
fn refused(status: StatusCode, why: &str) -> Response {
    (
        status,
        page(
            "Refused",
            None,
            html! { h1 { "Refused" } p #refused { (why) } },
        ),
    )
        .into_response()
}

/// A store failure as a page: 404 for what does not exist, else 503.
fn store_failure(viewer: &Viewer, e: &StoreError) -> Response {
    let (status, what) = match e {
        StoreError::NotFound(what) => (StatusCode::NOT_FOUND, format!("{what} not found")),
        e => {
            tracing::warn!(error = %e, "console: store error");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database did not answer; try again.".to_owned(),
            )
        }
    };
    (status, page("Error", Some(viewer), html! { h1 { (what) } })).into_response()
}

/// A redirect after an action, with its outcome as a notice on the next page.
fn done(path: &str, notice: &str) -> Response {
    let mut url = format!("{path}?notice=");
    url.push_str(&form::encode(notice));
    Redirect::to(&url).into_response()
}
