//! The dead-letters consumer: archives every dead letter into PostgreSQL, then
//! acks it. If the archive fails the message goes back to the queue (after a
//! pause): a dead letter has nowhere further to go and must not be lost.
//!
//! Archiving is idempotent on a key derived from the dead letter itself, so a
//! crash between the insert and the ack (the broker redelivers) adds no second
//! row. The end-to-end test makes that crash real with a failpoint: with
//! `HRIS_FAILPOINT_EXIT_AFTER_ARCHIVE` set, the process exits (status
//! [`FAILPOINT_EXIT_CODE`]) right after its first insert commits, before the
//! ack. Unset in production; it costs one environment lookup per dead letter.

use hris_bus::incoming::header;
use hris_bus::{Envelope, Failure, Handler, Incoming};
use hris_store::NewDeadLetter;
use hris_types::TenantId;
use sha2::{Digest, Sha256};

use crate::context::WorkerContext;

/// Test-only crash point between the archive insert and the ack (see above).
pub const FAILPOINT: &str = "HRIS_FAILPOINT_EXIT_AFTER_ARCHIVE";
/// The exit status the failpoint ends the process with, so a test can tell it
/// from any other death.
pub const FAILPOINT_EXIT_CODE: i32 = 86;

pub struct DeadLetterArchiver {
    pub ctx: WorkerContext,
}

impl Handler for DeadLetterArchiver {
    async fn handle(&self, message: &Incoming) -> Result<(), Failure> {
        let letter = describe(message);
        let fresh = self.ctx.store.archive_dead_letter(&letter).await?;
        if std::env::var_os(FAILPOINT).is_some() {
            tracing::error!(
                failpoint = FAILPOINT,
                "exiting after the archive insert, before the ack"
            );
            std::process::exit(FAILPOINT_EXIT_CODE);
        }
        metrics::counter!("dead_letters_archived_total", "class" => letter.error_class.clone(), "fresh" => fresh.to_string())
            .increment(1);
        tracing::warn!(
            message_id = letter.message_id.as_deref().unwrap_or("-"),
            tenant_id = letter.tenant_id.as_ref().map_or("-", TenantId::as_str),
            entity = letter.entity.as_deref().unwrap_or("-"),
            reason = %letter.reason,
            error_class = %letter.error_class,
            error_code = letter.error_code.as_deref().unwrap_or("-"),
            fresh,
            "dead letter archived"
        );
        Ok(())
    }
}

/// Everything the archive records about a dead letter, from our headers or,
/// for one the broker dead-lettered itself, from `x-death`.
pub fn describe(message: &Incoming) -> NewDeadLetter {
    let envelope: Option<Envelope> = serde_json::from_slice(&message.data).ok();
    let ours = message.header_str(header::REASON);
    let (reason, error_class) = match (&ours, message.x_death()) {
        (Some(reason), _) => (
            reason.clone(),
            message
                .header_str(header::ERROR_CLASS)
                .unwrap_or_else(|| "unknown".to_owned()),
        ),
        // Rejected after our own dead-letter publish failed, or over the
        // queue's delivery limit (a consumer crashing on it again and again).
        (None, Some((why, _))) => (format!("broker_{why}"), "poison".to_owned()),
        (None, None) => ("unknown".to_owned(), "unknown".to_owned()),
    };
    let routing_key = message
        .header_str(header::ROUTING_KEY)
        .unwrap_or_else(|| message.routing_key.clone());
    let time = |name: &str| {
        message
            .header_str(name)
            .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&chrono::Utc))
    };
    let attempts = message
        .header_int(header::ATTEMPTS)
        .or_else(|| message.header_int("x-delivery-count").map(|n| n + 1))
        .unwrap_or(1);
    NewDeadLetter {
        dedupe_key: dedupe_key(message),
        message_id: message.message_id(),
        tenant_id: message
            .header_str(header::TENANT)
            .map(TenantId::from)
            .or_else(|| envelope.as_ref().and_then(|e| e.tenant_id.clone())),
        integration_id: message
            .header_str("integration_id")
            .or_else(|| envelope.as_ref().and_then(|e| e.integration_id.clone())),
        entity: message
            .header_str("entity")
            .or_else(|| envelope.as_ref().map(|e| e.entity.as_str().to_owned()))
            .or_else(|| Some(routing_key.clone()).filter(|r| !r.is_empty())),
        routing_key,
        reason,
        error_class,
        error_code: message.header_str(header::ERROR_CODE),
        log_url: message.header_str(header::LOG_URL),
        error_message: message.header_str(header::ERROR_MESSAGE),
        attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
        first_failed_at: time(header::FIRST_FAILED_AT),
        last_failed_at: time(header::LAST_FAILED_AT),
        headers: message.headers_json(),
        payload: message.data.clone(),
    }
}

/// The same dead letter redelivered gives the same key; the same message dead-
/// lettered again later (after a replay) gives another.
fn dedupe_key(message: &Incoming) -> String {
    let mut hash = Sha256::new();
    for part in [
        message.message_id(),
        message.header_str(header::LAST_FAILED_AT),
        message.header_str(header::ROUTING_KEY),
        message.header_int(header::ATTEMPTS).map(|n| n.to_string()),
        message.header_str("x-first-death-reason"),
        message
            .headers()
            .and_then(|h| h.inner().get("x-death"))
            .map(|d| format!("{d:?}")),
    ] {
        hash.update(part.unwrap_or_default().as_bytes());
        hash.update([0]);
    }
    hash.update(&message.data);
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}
