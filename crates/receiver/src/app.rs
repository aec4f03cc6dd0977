//! HTTP: `POST /webhooks/kombo` on the public port and nothing else;
//! `/healthz`, `/readyz` and `/metrics` on their own (`METRICS_ADDR`), which
//! stays inside the cluster.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hris_bus::{Envelope, Outgoing, Publisher, Trigger};
use hris_kombo::signature::SIGNATURE_HEADER;
use hris_kombo::{WebhookEvent, WebhookSecrets};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::sync::Semaphore;
use tower_http::timeout::TimeoutLayer;

use crate::body::{BodyRead, read_bounded};
use crate::routing::plan;
use crate::server::HttpLimits;

/// What a 503 tells Kombo to wait before retrying, in seconds.
const RETRY_AFTER_SECS: &str = "5";

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
}

pub fn router(state: Arc<AppState>) -> Router {
    router_with(state, &HttpLimits::default())
}

/// What every webhook request shares: the limits and the publishing slots.
struct Webhooks {
    limits: HttpLimits,
    /// Webhooks publishing at once. Taken only once the body is read and
    /// verified, and never waited for (beyond it, an immediate 503 rather than
    /// a queue that grows while Kombo waits): slow or unsigned clients, which
    /// the connection cap and the body timeout bound, cannot take the slots of
    /// real webhooks. (A tower concurrency limit around the handler would count
    /// them too.)
    publishing: Semaphore,
}

/// The receiver's routes with the request limits of `limits`: a limit on the
/// webhooks publishing at once and a timeout over every request.
pub fn router_with(state: Arc<AppState>, limits: &HttpLimits) -> Router {
    let webhooks = Arc::new(Webhooks {
        limits: limits.clone(),
        publishing: Semaphore::new(limits.max_concurrent_requests.max(1)),
    });
    let webhook_route = post(
        move |State(state): State<Arc<AppState>>, headers: HeaderMap, body: Body| {
            let webhooks = webhooks.clone();
            async move { webhook(&state, &webhooks, &headers, body).await }
        },
    );
    Router::new()
        .route("/webhooks/kombo", webhook_route)
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "use POST",
            )
        })
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .with_state(state)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            limits.request_timeout,
        ))
}

/// `/healthz`, `/readyz` (connected to RabbitMQ) and `/metrics`: the probes'
/// and Prometheus's port, never the public one.
pub fn ops_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves [`ops_router`] until `shutdown`.
pub async fn serve_ops(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, ops_router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves until `shutdown` with the default limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, HttpLimits::default(), shutdown).await
}

/// Serves until `shutdown`: then stops accepting and finishes in-flight requests.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    limits: HttpLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router_with(state, &limits);
    crate::server::serve_router(listener, app, limits, shutdown).await
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (
        status,
        axum::Json(json!({ "error": { "code": code, "message": message.into() } })),
    )
        .into_response()
}

/// 503 with `Retry-After`: Kombo retries later; nothing was accepted.
fn unavailable(code: &str, message: impl Into<String>) -> Response {
    let mut response = error(StatusCode::SERVICE_UNAVAILABLE, code, message);
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

/// An answer after which the connection is closed (its body was not, or not
/// entirely, read: the connection cannot carry another request).
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn outcome(outcome: &'static str) {
    metrics::counter!("webhook_requests_total", "outcome" => outcome).increment(1);
}

async fn webhook(
    state: &AppState,
    webhooks: &Webhooks,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let limits = &webhooks.limits;
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let read = read_bounded(
        body,
        declared,
        limit,
        limits.drain_max_bytes,
        limits.body_read_timeout,
    )
    .await;
    let bytes = match read {
        BodyRead::Complete(bytes) => bytes,
        BodyRead::TooLarge { .. } => {
            outcome("too_large");
            return closing(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("body over {limit} bytes"),
            ));
        }
        BodyRead::TimedOut => {
            outcome("body_timeout");
            return closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the body did not arrive within {} s",
                    limits.body_read_timeout.as_secs_f64()
                ),
            ));
        }
        BodyRead::Broken => {
            outcome("body_broken");
            return closing(error(
                StatusCode::BAD_REQUEST,
                "malformed",
                "the body could not be read",
            ));
        }
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
            // serde quotes the offending value; only its category and place go out.
            let reason = crate::redact::webhook_error(&e);
            outcome("malformed");
            tracing::warn!(reason = %reason, "webhook refused: malformed");
            return error(StatusCode::BAD_REQUEST, "malformed", reason);
        }
    };
    publish(state, webhooks, headers, &bytes, event).await
}

/// Publishes the event's messages and answers 200 only once all are confirmed,
/// within the webhook deadline.
async fn publish(
    state: &AppState,
    webhooks: &Webhooks,
    headers: &HeaderMap,
    bytes: &[u8],
    event: WebhookEvent,
) -> Response {
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
    let raw_event: Option<serde_json::Value> = serde_json::from_slice(bytes).ok();
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
    let Ok(_slot) = webhooks.publishing.try_acquire() else {
        outcome("overloaded");
        tracing::warn!(event_id = %event.id, "too many webhooks publishing at once; answering 503 so Kombo retries");
        return unavailable("overloaded", "too many webhooks at once");
    };
    let limits = &webhooks.limits;
    if state.publisher.connector().is_blocked() {
        // A memory or disk alarm: the broker takes no message until it clears.
        outcome("unavailable");
        tracing::warn!(event_id = %event.id, "broker alarm: publishing blocked; answering 503 so Kombo retries");
        return unavailable(
            "unavailable",
            "event not stored: the broker refuses messages (resource alarm)",
        );
    }
    let started = Instant::now();
    let published = tokio::time::timeout(
        limits.webhook_deadline,
        state.publisher.publish_all(messages),
    )
    .await;
    match published {
        Ok(Ok(())) => {
            outcome("accepted");
            metrics::histogram!("webhook_publish_seconds").record(started.elapsed().as_secs_f64());
            tracing::info!(event_id = %event.id, event_type = %event.event_type, integration_id = integration_id.as_deref().unwrap_or("-"), messages = count, trace = %trace, "webhook accepted");
            (
                StatusCode::OK,
                axum::Json(json!({ "status": "accepted", "messages": count })),
            )
                .into_response()
        }
        Ok(Err(e)) => {
            outcome("unavailable");
            tracing::warn!(event_id = %event.id, error = %e, "webhook not made durable; answering 503 so Kombo retries");
            unavailable("unavailable", format!("event not stored: {e}"))
        }
        Err(_) => {
            // Confirms that arrive later only duplicate the event, which
            // every consumer tolerates; claiming it now could lose it.
            outcome("deadline");
            tracing::warn!(event_id = %event.id, deadline = ?limits.webhook_deadline, "no broker confirm within the webhook deadline; answering 503 so Kombo retries");
            unavailable(
                "unavailable",
                format!(
                    "event not stored: no broker confirm within {} s",
                    limits.webhook_deadline.as_secs_f64()
                ),
            )
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
    hris_telemetry::collect_process_metrics();
    state.metrics.render()
}
