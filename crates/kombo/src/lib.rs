//! Kombo, as hris-sync needs it: the HRIS records we read, the webhook payloads we
//! receive, the webhook signature, and a paging HTTP client whose every error is
//! classified (retryable, not ready, permanent) where it is made.
//!
//! The types follow `shared/kombo/openapi.json`: nullable fields are `Option`,
//! enum-like fields are plain strings (Kombo passes the HR system's raw string
//! through when it has no mapping), unknown fields are ignored.

pub mod client;
pub mod decode;
pub mod envelope;
pub mod error;
pub mod integration;
pub mod issue;
pub mod query;
pub mod records;
pub mod redact;
pub mod repair;
pub mod sanitize;
pub mod signature;
pub mod webhook;

pub use client::{KomboClient, KomboClientConfig};
pub use decode::{BadRecord, DecodeError, DecodeKind, RecordPage};
pub use envelope::{ErrorBody, ErrorEnvelope, Page, SuccessEnvelope};
pub use error::{ErrorClass, KomboError};
pub use integration::SyncType;
pub use query::{Endpoint, ListQuery};
pub use signature::{SignatureError, WebhookSecrets, sign};
pub use webhook::{Model, WebhookEvent, WebhookParseError};
