//! What a handler says when it could not finish: the class decides between
//! "try again later" and "this will never work, dead-letter it now".

use hris_types::TenantId;
use std::fmt;
use std::time::Duration;

/// The class of a failure, decided where the error was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// A blip (Kombo 429/5xx, database or broker hiccup): retry with backoff.
    Retryable,
    /// Not possible yet (Kombo's initial sync still running): retry, slowly.
    NotReady,
    /// Will fail the same way until a person changes something (revoked key,
    /// mapping bug): dead-letter on the first failure, no hot retries.
    Permanent,
    /// The message itself is unreadable: dead-letter on the first failure.
    Poison,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Retryable => "retryable",
            FailureClass::NotReady => "not_ready",
            FailureClass::Permanent => "permanent",
            FailureClass::Poison => "poison",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A handler's failure: its class, a reason for on-call (ids only, no personal
/// data), and what Kombo said when Kombo was the cause.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub class: FailureClass,
    pub reason: String,
    /// Kombo's `error.code`, e.g. `INTEGRATION.AUTHENTICATION_INVALID`.
    pub code: Option<String>,
    /// What Kombo said, when Kombo was the cause (boxed: most failures have
    /// none, and every handler returns this type).
    pub kombo: Option<Box<KomboSaid>>,
    /// Wait at least this long before the next attempt (Kombo's `Retry-After`).
    pub retry_after: Option<Duration>,
    /// The tenant concerned, once the handler knew it (dead-letter header).
    pub tenant_id: Option<TenantId>,
}

/// Kombo's own account of a failure: kept because its request logs are
/// deleted after 30 days.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KomboSaid {
    /// Kombo's log link for the failing request.
    pub log_url: Option<String>,
    /// Kombo's `error.message`, personal data masked.
    pub message: Option<String>,
}

impl KomboSaid {
    /// `None` when Kombo said nothing.
    pub fn of(log_url: Option<String>, message: Option<String>) -> Option<Box<Self>> {
        (log_url.is_some() || message.is_some()).then(|| Box::new(Self { log_url, message }))
    }
}

impl Failure {
    pub fn new(class: FailureClass, reason: impl Into<String>) -> Self {
        Self {
            class,
            reason: reason.into(),
            code: None,
            kombo: None,
            retry_after: None,
            tenant_id: None,
        }
    }

    /// The error's code for on-call: Kombo's `error.code`, or a SQLSTATE.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn with_tenant(mut self, tenant_id: &TenantId) -> Self {
        self.tenant_id.get_or_insert_with(|| tenant_id.to_owned());
        self
    }

    pub fn retryable(reason: impl Into<String>) -> Self {
        Self::new(FailureClass::Retryable, reason)
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        Self::new(FailureClass::Permanent, reason)
    }

    pub fn poison(reason: impl Into<String>) -> Self {
        Self::new(FailureClass::Poison, reason)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure: {}", self.class, self.reason)?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Failure {}

/// Any layer's classified error becomes a failure with `?`: one conversion,
/// the class decided where the error was made. (`Failure` is not itself
/// `Classified`, so this does not overlap `From<Failure> for Failure`.)
impl<E: hris_types::Classified> From<E> for Failure {
    fn from(e: E) -> Self {
        let (class, retry_after) = match e.class() {
            hris_types::ErrorClass::Retryable { retry_after } => {
                (FailureClass::Retryable, retry_after)
            }
            hris_types::ErrorClass::NotReady => (FailureClass::NotReady, None),
            hris_types::ErrorClass::Permanent => (FailureClass::Permanent, None),
        };
        Failure {
            class,
            reason: e.to_string(),
            code: e.code(),
            kombo: KomboSaid::of(e.log_url().map(str::to_owned), e.message()),
            retry_after,
            tenant_id: None,
        }
    }
}
