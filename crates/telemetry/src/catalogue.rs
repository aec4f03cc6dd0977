//! Every metric the service records, with its `# HELP`. A test
//! (`tests/tests/metrics_catalogue.rs`) fails when code records a metric that
//! is not listed here, and alert rules may name only metrics listed here.
//! Names are without the `hris_sync_` prefix, which one layer adds.

/// What kind of metric a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// (name without prefix, kind, help).
pub const METRICS: &[(&str, Kind, &str)] = &[
    // Webhooks (receiver)
    (
        "webhook_requests_total",
        Kind::Counter,
        "Webhook requests answered, by HTTP status.",
    ),
    (
        "webhook_events_total",
        Kind::Counter,
        "Kombo events received, by type and outcome.",
    ),
    (
        "webhook_models_ignored_total",
        Kind::Counter,
        "Changed Kombo models no worker syncs.",
    ),
    (
        "webhook_publish_seconds",
        Kind::Histogram,
        "From a webhook's body read to RabbitMQ's confirm.",
    ),
    (
        "webhook_to_commit_seconds",
        Kind::Histogram,
        "From a webhook's arrival to the commit of its change.",
    ),
    (
        "http_open_connections",
        Kind::Gauge,
        "Open connections to the webhook port.",
    ),
    (
        "http_max_connections",
        Kind::Gauge,
        "The webhook port's connection cap.",
    ),
    (
        "http_connections_closed_total",
        Kind::Counter,
        "Webhook connections the server closed, by reason.",
    ),
    (
        "http_accept_errors_total",
        Kind::Counter,
        "Errors accepting webhook connections (file descriptors).",
    ),
    (
        "process_open_files_limit",
        Kind::Gauge,
        "The process's limit of open files.",
    ),
    // RabbitMQ
    (
        "amqp_connects_total",
        Kind::Counter,
        "Connections made to RabbitMQ, first ones and reconnects.",
    ),
    (
        "amqp_close_timeouts_total",
        Kind::Counter,
        "RabbitMQ connection closes that passed their bound.",
    ),
    (
        "amqp_publish_seconds",
        Kind::Histogram,
        "From publish to RabbitMQ's confirm.",
    ),
    (
        "amqp_publish_failures_total",
        Kind::Counter,
        "Publishes not confirmed: nacked, returned, timed out or failed.",
    ),
    // Workers
    (
        "messages_total",
        Kind::Counter,
        "Messages consumed, by queue and outcome.",
    ),
    (
        "message_seconds",
        Kind::Histogram,
        "Handling time of one message, by queue.",
    ),
    (
        "message_failures_total",
        Kind::Counter,
        "Messages whose handling failed, by queue and error class.",
    ),
    (
        "messages_unknown_integration_total",
        Kind::Counter,
        "Messages for an integration no tenant has.",
    ),
    (
        "notifications_coalesced_total",
        Kind::Counter,
        "Change notifications folded into a fetch running or queued.",
    ),
    (
        "fetch_seconds",
        Kind::Histogram,
        "One fetch of an entity from Kombo, list to last commit.",
    ),
    (
        "pages_applied_total",
        Kind::Counter,
        "Pages of Kombo records applied, by endpoint.",
    ),
    (
        "records_applied_total",
        Kind::Counter,
        "Records applied, by endpoint and outcome (created, updated, conflict, …).",
    ),
    (
        "records_set_aside_total",
        Kind::Counter,
        "Records set aside as record issues, by entity.",
    ),
    (
        "page_splits_total",
        Kind::Counter,
        "Pages split to set aside a record PostgreSQL refused.",
    ),
    (
        "dead_letters_archived_total",
        Kind::Counter,
        "Dead letters archived into PostgreSQL, by error class.",
    ),
    // Kombo
    (
        "kombo_request_seconds",
        Kind::Histogram,
        "Kombo API calls, by endpoint.",
    ),
    (
        "kombo_errors_total",
        Kind::Counter,
        "Failed Kombo API calls, by error class.",
    ),
    (
        "kombo_tenants_auth_issue_open",
        Kind::Gauge,
        "Tenants with an open Kombo authentication issue.",
    ),
    (
        "kombo_tenants_data_expired",
        Kind::Gauge,
        "Tenants whose Kombo data expired (a filter or scope change).",
    ),
    (
        "kombo_tenants_setup_incomplete",
        Kind::Gauge,
        "Tenants whose Kombo setup is not complete.",
    ),
    (
        "kombo_tenants_integration_invalid",
        Kind::Gauge,
        "Tenants whose Kombo integration is INVALID.",
    ),
    (
        "kombo_environment_issues_open",
        Kind::Gauge,
        "Open Kombo issues of the whole environment.",
    ),
    // Scheduler, and the state in PostgreSQL it reports (no tenant label)
    (
        "scheduled_full_syncs_total",
        Kind::Counter,
        "Full syncs the scheduler enqueued.",
    ),
    (
        "scheduler_last_tick_timestamp_seconds",
        Kind::Gauge,
        "When the scheduler last finished a tick (Unix time).",
    ),
    (
        "dead_letters_pending",
        Kind::Gauge,
        "Dead letters waiting for on-call, by error class.",
    ),
    (
        "held_changes_pending",
        Kind::Gauge,
        "Deactivations the guard holds for approval.",
    ),
    (
        "identity_conflicts_open",
        Kind::Gauge,
        "HR records that matched ambiguously, waiting for a fix.",
    ),
    ("tenants", Kind::Gauge, "Tenants, by integration state."),
    (
        "tenants_with_error",
        Kind::Gauge,
        "Connected tenants whose last fetch of an entity failed.",
    ),
    (
        "full_sync_oldest_age_seconds",
        Kind::Gauge,
        "Age of the oldest last full sync of a connected tenant.",
    ),
    (
        "build_info",
        Kind::Gauge,
        "Always 1; the version as a label.",
    ),
];

/// Registers every description with the recorder (the `# HELP` lines).
pub fn describe() {
    for (name, kind, help) in METRICS {
        match kind {
            Kind::Counter => metrics::describe_counter!(*name, *help),
            Kind::Gauge => metrics::describe_gauge!(*name, *help),
            Kind::Histogram => metrics::describe_histogram!(*name, *help),
        }
    }
}
