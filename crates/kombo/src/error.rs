//! Every Kombo failure, classified where it is made.
//!
//! Kombo asks clients to decide on `error.code`, not on the HTTP status; the status
//! is only the fallback for bodies without a code (a bare 502 from a proxy, say).

use std::time::Duration;

use crate::decode::{DecodeError, DecodeKind};
use crate::envelope::ErrorBody;

pub use hris_types::ErrorClass;

#[derive(Debug, thiserror::Error)]
pub enum KomboError {
    #[error("Kombo answered HTTP {status} with code {code}: {message}", code = body.code.as_deref().unwrap_or("none"), message = crate::redact::redact_message(&body.message))]
    Api {
        status: u16,
        body: ErrorBody,
        retry_after: Option<Duration>,
    },
    #[error("could not reach Kombo: {0}")]
    Transport(#[source] reqwest::Error),
    #[error("Kombo did not answer within {0:?}")]
    Timeout(Duration),
    /// The body is not what Kombo's schema promises. The text names the field
    /// and the kind of problem, never a value (see `decode`).
    #[error("Kombo's answer could not be read ({context}): {error}")]
    Decode {
        context: &'static str,
        error: DecodeError,
    },
    /// The listing handed back a cursor it had already handed back: following
    /// it would read the same pages forever.
    #[error("Kombo's listing of {endpoint} repeated a cursor after {pages} pages")]
    CursorLoop {
        endpoint: &'static str,
        pages: usize,
    },
    /// More pages than any real company has: a runaway listing.
    #[error("Kombo's listing of {endpoint} passed the cap of {pages} pages")]
    TooManyPages {
        endpoint: &'static str,
        pages: usize,
    },
    #[error("invalid Kombo configuration: {0}")]
    Config(String),
}

impl KomboError {
    pub fn class(&self) -> ErrorClass {
        match self {
            KomboError::Api {
                status,
                body,
                retry_after,
            } => classify(*status, body.code.as_deref(), *retry_after),
            KomboError::Transport(_) | KomboError::Timeout(_) => {
                ErrorClass::Retryable { retry_after: None }
            }
            KomboError::Decode { error, .. } => decode_class(error),
            KomboError::CursorLoop { .. }
            | KomboError::TooManyPages { .. }
            | KomboError::Config(_) => ErrorClass::Permanent,
        }
    }

    /// Kombo's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            KomboError::Api { body, .. } => body.code.as_deref(),
            _ => None,
        }
    }

    /// Kombo's error message without personal data (see `redact`): kept
    /// because Kombo's log behind `log_url` is gone after 30 days.
    pub fn message(&self) -> Option<String> {
        match self {
            KomboError::Api { body, .. } if !body.message.is_empty() => {
                Some(crate::redact::redact_message(&body.message))
            }
            _ => None,
        }
    }

    /// Kombo's log link for this failure, when it gave one (for on-call).
    pub fn log_url(&self) -> Option<&str> {
        match self {
            KomboError::Api { body, .. } => body.log_url.as_deref(),
            _ => None,
        }
    }
}

impl hris_types::Classified for KomboError {
    fn class(&self) -> ErrorClass {
        KomboError::class(self)
    }

    fn code(&self) -> Option<String> {
        KomboError::code(self).map(str::to_owned)
    }

    fn log_url(&self) -> Option<&str> {
        KomboError::log_url(self)
    }

    fn message(&self) -> Option<String> {
        KomboError::message(self)
    }
}

/// A body cut off in transit, or one that is not JSON at all (a proxy's HTML
/// error page answered with 200), may come whole next time. JSON of the wrong
/// shape, or broken in the middle, is what Kombo holds: the same bytes come
/// back on every retry, so retrying for hours helps nobody.
fn decode_class(error: &DecodeError) -> ErrorClass {
    let not_json_at_all = error.kind == DecodeKind::Syntax && error.line <= 1 && error.column <= 1;
    match error.kind {
        DecodeKind::Truncated | DecodeKind::Io => ErrorClass::Retryable { retry_after: None },
        DecodeKind::Syntax if not_json_at_all => ErrorClass::Retryable { retry_after: None },
        DecodeKind::Syntax | DecodeKind::Shape => ErrorClass::Permanent,
    }
}

/// Classifies an error answer by its code, falling back to the HTTP status.
pub fn classify(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> ErrorClass {
    let retryable = ErrorClass::Retryable { retry_after };
    match code {
        Some(
            "PLATFORM.RATE_LIMIT_EXCEEDED"
            | "REMOTE.RATE_LIMIT_EXCEEDED"
            | "REMOTE.SERVICE_UNAVAILABLE"
            | "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED"
            | "PLATFORM.TASK_TIMED_OUT"
            | "PLATFORM.UNKNOWN_ERROR"
            | "REMOTE.UNKNOWN_HTTP_ERROR",
        ) => retryable,
        Some("INTEGRATION.SETUP_SYNC_PENDING") => ErrorClass::NotReady,
        Some(
            "PLATFORM.AUTHENTICATION_INVALID"
            | "PLATFORM.INTEGRATION_NOT_FOUND"
            | "PLATFORM.INPUT_INVALID"
            | "PLATFORM.IP_NOT_WHITELISTED"
            | "INTEGRATION.AUTHENTICATION_INVALID"
            | "INTEGRATION.PERMISSION_MISSING"
            | "INTEGRATION.QA_FAILED"
            | "INTEGRATION.SETUP_INCOMPLETE"
            | "INTEGRATION.INACTIVE"
            | "INTEGRATION.MODEL_NOT_AVAILABLE"
            | "INTEGRATION.MODEL_DISABLED"
            | "INTEGRATION.ACTION_NOT_AVAILABLE"
            | "INTEGRATION.ACTION_DISABLED"
            | "REMOTE.INPUT_INVALID",
        ) => ErrorClass::Permanent,
        // No code, or one this build does not know: the status decides.
        _ => match status {
            429 | 500 | 502 | 503 | 504 => retryable,
            408 => retryable,
            _ if status >= 500 => retryable,
            _ => ErrorClass::Permanent,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_wins_over_status() {
        assert_eq!(
            classify(400, Some("REMOTE.RATE_LIMIT_EXCEEDED"), None),
            ErrorClass::Retryable { retry_after: None }
        );
        assert_eq!(
            classify(503, Some("INTEGRATION.AUTHENTICATION_INVALID"), None),
            ErrorClass::Permanent
        );
        assert_eq!(
            classify(409, Some("INTEGRATION.SETUP_SYNC_PENDING"), None),
            ErrorClass::NotReady
        );
    }

    #[test]
    fn a_malformed_body_is_permanent_a_cut_off_or_foreign_one_is_not() {
        let decode = |body: &[u8]| {
            let error = crate::decode::decode::<crate::envelope::ErrorEnvelope>(body)
                .expect_err("not an envelope");
            KomboError::Decode {
                context: "test",
                error,
            }
            .class()
        };
        let retry = ErrorClass::Retryable { retry_after: None };
        // JSON of the wrong shape comes back the same on every retry.
        assert_eq!(
            decode(br#"{"status": 1, "error": []}"#),
            ErrorClass::Permanent
        );
        // Cut off in transit, or a proxy's HTML page: a retry may get it whole.
        assert_eq!(decode(br#"{"status": "error", "err"#), retry);
        assert_eq!(decode(b"<html>bad gateway</html>"), retry);
        // A cursor loop or a runaway listing never heals by retrying.
        let looped = KomboError::CursorLoop {
            endpoint: "/hris/employees",
            pages: 2,
        };
        assert_eq!(looped.class(), ErrorClass::Permanent);
    }

    #[test]
    fn bare_gateway_errors_are_retryable_and_keep_retry_after() {
        let after = Some(Duration::from_secs(7));
        for status in [502, 503, 504, 429] {
            assert_eq!(
                classify(status, None, after),
                ErrorClass::Retryable { retry_after: after }
            );
        }
        assert_eq!(classify(404, None, None), ErrorClass::Permanent);
        assert_eq!(
            classify(401, Some("SOMETHING.NEW"), None),
            ErrorClass::Permanent
        );
    }
}
