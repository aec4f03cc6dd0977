//! HTTP: `POST /webhooks/kombo`, `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hris_bus::{Envelope, Outgoing, Publisher, Trigger};
use hris_kombo::signature::SIGNATURE_HEADER;
use hris_kombo::{WebhookEvent, WebhookSecrets};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::routing::plan;

/// Kombo's events are small; anything larger is refused before it is read whole.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone, Debug)]
pub struct ReceiverConfig {
    pub secrets: WebhookSecrets,
    pub max_body_bytes: usize,
}

#[derive(Clone)]
pub struct AppState {
    pub config: ReceiverConfig,
    pub publisher: Publisher,
    pub metrics: PrometheusHandle,
    /// The admin API, when an `ADMIN_TOKEN` is configured.
    pub admin: Option<Arc<crate::admin::Admin>>,
}

pub fn router(state: Arc<AppState>) -> Router {
    let admin = state.admin.clone();
    let app = Router::new()
        .route("/webhooks/kombo", post(webhook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            )
        })
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .with_state(state);
    match admin {
        Some(admin) => app.merge(crate::admin::router(admin)),
        None => app,
    }
}

/// Serves until `shutdown`: then stops accepting and finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

fn outcome(outcome: &'static str) {
    metrics::counter!("webhook_requests_total", "outcome" => outcome).increment(1);
}

async fn webhook(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body) -> Response {
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        outcome("too_large");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body over {limit} bytes"),
        );
    }
    let Ok(bytes) = axum::body::to_bytes(body, limit).await else {
        outcome("too_large");
        return error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("body over {limit} bytes"),
        );
    };

    // Verify before parsing: an unsigned body is never interpreted.
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = state.config.secrets.verify(signature, &bytes) {
        outcome("bad_signature");
        tracing::warn!(reason = %e, "webhook refused: signature");
        return error(StatusCode::UNAUTHORIZED, "invalid_signature", e.to_string());
    }

    let event = match WebhookEvent::parse(&bytes) {
        Ok(event) => event,
        Err(e) => {
            outcome("malformed");
            tracing::warn!(reason = %e, "webhook refused: malformed");
            return error(StatusCode::BAD_REQUEST, "malformed", e.to_string());
        }
    };
    metrics::counter!("webhook_events_total", "type" => event.event_type.clone()).increment(1);

    let plan = plan(&event);
    for model in &plan.ignored_models {
        metrics::counter!("webhook_models_ignored_total", "model" => model.clone()).increment(1);
    }
    if plan.messages.is_empty() {
        outcome("ignored");
        tracing::info!(event_id = %event.id, event_type = %event.event_type, "webhook accepted; nothing to do");
        return (StatusCode::OK, axum::Json(json!({ "status": "ignored" }))).into_response();
    }

    let trace = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(new_traceparent);
    let raw_event: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let integration_id = event.integration_id().map(str::to_owned);
    let messages: Vec<Outgoing> = plan
        .messages
        .iter()
        .map(|(entity, kind)| {
            let mut envelope = Envelope::new(
                event.id.clone(),
                integration_id.clone(),
                *entity,
                *kind,
                Trigger::Webhook,
            );
            envelope.trace = Some(trace.clone());
            if *entity == hris_bus::Entity::Integrations {
                envelope.event = raw_event.clone();
            }
            Outgoing::event(&state.publisher, envelope)
        })
        .collect();
    let count = messages.len();
    let started = Instant::now();
    match state.publisher.publish_all(messages).await {
        Ok(()) => {
            outcome("accepted");
            metrics::histogram!("webhook_publish_seconds").record(started.elapsed().as_secs_f64());
            tracing::info!(event_id = %event.id, event_type = %event.event_type, integration_id = integration_id.as_deref().unwrap_or("-"), messages = count, trace = %trace, "webhook accepted");
            (
                StatusCode::OK,
                axum::Json(json!({ "status": "accepted", "messages": count })),
            )
                .into_response()
        }
        Err(e) => {
            outcome("unavailable");
            tracing::warn!(event_id = %event.id, error = %e, "webhook not made durable; answering 503 so Kombo retries");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                format!("event not stored: {e}"),
            );
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("5"),
            );
            response
        }
    }
}

/// A fresh W3C trace context for a request that came without one.
fn new_traceparent() -> String {
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let span = &uuid::Uuid::new_v4().simple().to_string()[..16];
    format!("00-{trace}-{span}-01")
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.publisher.connector().is_alive().await {
        (StatusCode::OK, "ready").into_response()
    } else {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "not connected to RabbitMQ",
        )
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> String {
    state.metrics.render()
}
