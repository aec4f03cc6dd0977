//! Every layer's error says, where it is made, whether trying again can help;
//! the bus turns any such error into its dead-letter decision with one `From`.

use std::time::Duration;

/// What the caller should do about a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// A blip: try again soon (after `retry_after` when the other side said so).
    Retryable { retry_after: Option<Duration> },
    /// Not possible yet (Kombo's first sync of an integration still runs): try
    /// much later.
    NotReady,
    /// Will fail the same way until somebody changes something: never hot-retry.
    Permanent,
}

impl ErrorClass {
    /// Retryable (with no hint of when) or permanent: for errors whose only
    /// question is whether the same call can succeed later.
    pub fn retryable_if(retryable: bool) -> Self {
        if retryable {
            ErrorClass::Retryable { retry_after: None }
        } else {
            ErrorClass::Permanent
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorClass::Retryable { .. } => "retryable",
            ErrorClass::NotReady => "not_ready",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// An error that knows its class. Its `Display` must hold ids and codes only,
/// never a value from a record: it is logged and stored.
pub trait Classified: std::error::Error {
    fn class(&self) -> ErrorClass;

    /// A code on-call can look up: Kombo's `error.code`, a SQLSTATE.
    fn code(&self) -> Option<String> {
        None
    }

    /// Where the other side logged the failing request (Kombo's log link).
    fn log_url(&self) -> Option<&str> {
        None
    }

    /// The other side's own explanation (Kombo's `error.message`), without
    /// personal data: it outlives the other side's logs.
    fn message(&self) -> Option<String> {
        None
    }
}
