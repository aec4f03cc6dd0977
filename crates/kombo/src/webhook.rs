//! Kombo webhook payloads (`components.schemas.*WebhookPayload`).
//!
//! The event type list is open: an unknown type parses to [`EventPayload::Other`]
//! and is accepted by the receiver, never failed. For the types we act on, the
//! fields we need are required (a payload without them is malformed: 400); every
//! other field is optional and unknown fields are ignored.

use crate::decode::{DecodeError, decode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One model named in a `data-changed` event, e.g. `hris_employees`. Open set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Model {
    pub name: String,
}

/// `{ "id", "type", "data" }` with `data` typed by `type`.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// Kombo's event id: the only key to deduplicate on.
    pub id: String,
    pub event_type: String,
    pub payload: EventPayload,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventPayload {
    DataChanged(DataChanged),
    SyncFinished(SyncFinished),
    IntegrationCreated(IntegrationLifecycle),
    IntegrationDeleted(IntegrationLifecycle),
    IntegrationStateChanged(IntegrationStateChanged),
    ConnectionFlowFailed(ConnectionFlowFailed),
    IssueStatusChanged(crate::issue::IssueStatusChanged),
    /// A type this build does not act on (ATS, assessment, a future one).
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataChanged {
    pub integration_id: String,
    #[serde(default)]
    pub integration_tool: Option<String>,
    #[serde(default)]
    pub integration_category: Option<String>,
    pub changed_models: Vec<Model>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndUser {
    #[serde(default)]
    pub organization_name: Option<String>,
    #[serde(default)]
    pub creator_email: Option<String>,
    /// The id the platform passed when the customer connected: our tenant id.
    #[serde(default)]
    pub origin_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncFinished {
    pub sync_id: String,
    #[serde(default)]
    pub sync_state: Option<String>,
    #[serde(default)]
    pub sync_started_at: Option<String>,
    #[serde(default)]
    pub sync_ended_at: Option<String>,
    /// Typed integer in the document, fractional in practice.
    #[serde(default)]
    pub sync_duration_seconds: Option<f64>,
    pub integration_id: String,
    #[serde(default)]
    pub integration_tool: Option<String>,
    #[serde(default)]
    pub integration_category: Option<String>,
    #[serde(default)]
    pub end_user: Option<EndUser>,
    #[serde(default)]
    pub log_url: Option<String>,
}

/// `integration-created` / `integration-deleted`: note `id`, not `integration_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationLifecycle {
    pub id: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    pub end_user: EndUser,
    #[serde(default)]
    pub deleted_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationStateChanged {
    pub integration_id: String,
    #[serde(default)]
    pub integration_tool: Option<String>,
    #[serde(default)]
    pub integration_category: Option<String>,
    #[serde(default)]
    pub end_user: Option<EndUser>,
    /// ACTIVE | INVALID | INACTIVE (open: kept as a string).
    pub state: String,
    #[serde(default)]
    pub qa_status: Option<String>,
    #[serde(default)]
    pub setup_status: Option<String>,
    #[serde(default)]
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionFlowFailed {
    #[serde(default)]
    pub integration_tool: Option<String>,
    #[serde(default)]
    pub end_user: Option<EndUser>,
    #[serde(default)]
    pub log_url: Option<String>,
}

/// Why a webhook body was refused; the text quotes no value from the body
/// (it is answered to the sender and logged).
#[derive(Debug, thiserror::Error)]
pub enum WebhookParseError {
    #[error("body is not JSON: {0}")]
    NotJson(DecodeError),
    #[error("missing or invalid field `{0}`")]
    MissingField(&'static str),
    #[error("`data` of a `{event_type}` event is invalid: {error}")]
    InvalidData {
        event_type: String,
        error: DecodeError,
    },
}

#[derive(Deserialize)]
struct RawEvent {
    id: Option<Value>,
    #[serde(rename = "type")]
    event_type: Option<Value>,
    data: Option<Value>,
}

impl WebhookEvent {
    /// Parses a webhook body (after its signature was verified).
    pub fn parse(body: &[u8]) -> Result<Self, WebhookParseError> {
        let raw: RawEvent = decode(body).map_err(WebhookParseError::NotJson)?;
        let id = non_empty_string(raw.id).ok_or(WebhookParseError::MissingField("id"))?;
        let event_type =
            non_empty_string(raw.event_type).ok_or(WebhookParseError::MissingField("type"))?;
        let data = raw.data.ok_or(WebhookParseError::MissingField("data"))?;
        let typed = |data: Value| -> Result<_, WebhookParseError> {
            Ok(match event_type.as_str() {
                "data-changed" => EventPayload::DataChanged(from(&event_type, data)?),
                "sync-finished" => EventPayload::SyncFinished(from(&event_type, data)?),
                "integration-created" => EventPayload::IntegrationCreated(from(&event_type, data)?),
                "integration-deleted" => EventPayload::IntegrationDeleted(from(&event_type, data)?),
                "integration-state-changed" => {
                    EventPayload::IntegrationStateChanged(from(&event_type, data)?)
                }
                "connection-flow-failed" => {
                    EventPayload::ConnectionFlowFailed(from(&event_type, data)?)
                }
                "issue-status-changed" => {
                    EventPayload::IssueStatusChanged(from(&event_type, data)?)
                }
                _ => EventPayload::Other,
            })
        };
        let payload = typed(data)?;
        Ok(WebhookEvent {
            id,
            event_type,
            payload,
        })
    }

    /// The integration the event concerns, whatever its type calls the field.
    pub fn integration_id(&self) -> Option<&str> {
        match &self.payload {
            EventPayload::DataChanged(d) => Some(&d.integration_id),
            EventPayload::SyncFinished(d) => Some(&d.integration_id),
            EventPayload::IntegrationCreated(d) | EventPayload::IntegrationDeleted(d) => {
                Some(&d.id)
            }
            EventPayload::IntegrationStateChanged(d) => Some(&d.integration_id),
            EventPayload::IssueStatusChanged(d) => d.integration.as_ref().map(|i| i.id.as_str()),
            EventPayload::ConnectionFlowFailed(_) | EventPayload::Other => None,
        }
    }
}

fn non_empty_string(value: Option<Value>) -> Option<String> {
    match value {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        _ => None,
    }
}

fn from<T: serde::de::DeserializeOwned>(
    event_type: &str,
    data: Value,
) -> Result<T, WebhookParseError> {
    serde_path_to_error::deserialize(data).map_err(|e| {
        let path = e.path().to_string();
        WebhookParseError::InvalidData {
            event_type: event_type.to_owned(),
            error: DecodeError::from_serde(e.inner(), path),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_changed_parses_with_unknown_models_and_fields() {
        let body = br#"{"id":"E1","type":"data-changed","extra":1,"data":{"integration_id":"personio:X","integration_tool":"personio","integration_category":"HRIS","changed_models":[{"name":"hris_employees"},{"name":"hris_something_new"}],"new_field":true}}"#;
        let event = WebhookEvent::parse(body).expect("parses");
        assert_eq!(event.id, "E1");
        let EventPayload::DataChanged(d) = event.payload else {
            panic!("wrong payload")
        };
        assert_eq!(d.changed_models.len(), 2);
        assert_eq!(d.integration_id, "personio:X");
    }

    #[test]
    fn unknown_type_is_other() {
        let event =
            WebhookEvent::parse(br#"{"id":"E2","type":"ai-apply-something","data":{"x":1}}"#)
                .expect("parses");
        assert_eq!(event.payload, EventPayload::Other);
        assert_eq!(event.integration_id(), None);
    }

    #[test]
    fn fractional_sync_duration_is_accepted() {
        let body = br#"{"id":"E3","type":"sync-finished","data":{"sync_id":"S","sync_state":"SUCCEEDED","sync_started_at":"2026-01-01T00:00:00.000Z","sync_ended_at":"2026-01-01T00:00:01.500Z","sync_duration_seconds":1.5,"integration_id":"personio:X","integration_tool":"personio","integration_category":"HRIS","end_user":{"organization_name":"Acme","creator_email":"a@b.c","origin_id":"t1"},"log_url":"https://x"}}"#;
        let event = WebhookEvent::parse(body).expect("parses");
        let EventPayload::SyncFinished(d) = event.payload else {
            panic!("wrong payload")
        };
        assert_eq!(d.sync_duration_seconds, Some(1.5));
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        assert!(matches!(
            WebhookEvent::parse(b"nope"),
            Err(WebhookParseError::NotJson(_))
        ));
        assert!(matches!(
            WebhookEvent::parse(br#"{"type":"data-changed","data":{}}"#),
            Err(WebhookParseError::MissingField("id"))
        ));
        assert!(matches!(
            WebhookEvent::parse(
                br#"{"id":"E","type":"data-changed","data":{"changed_models":[]}}"#
            ),
            Err(WebhookParseError::InvalidData { .. })
        ));
        assert!(matches!(
            WebhookEvent::parse(br#"{"id":"E","type":"data-changed"}"#),
            Err(WebhookParseError::MissingField("data"))
        ));
    }

    #[test]
    fn created_uses_id_not_integration_id() {
        let body = br#"{"id":"E4","type":"integration-created","data":{"id":"personio:Y","tool":"personio","category":"HRIS","end_user":{"organization_name":"Acme","creator_email":"a@b.c","origin_id":"tenant-1"}}}"#;
        let event = WebhookEvent::parse(body).expect("parses");
        assert_eq!(event.integration_id(), Some("personio:Y"));
    }

    use proptest::prelude::*;

    fn any_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
            prop::sample::select(vec![
                "data-changed",
                "sync-finished",
                "integration-created",
                "integration-deleted",
                "integration-state-changed",
                "connection-flow-failed"
            ])
            .prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "id",
                        "type",
                        "data",
                        "integration_id",
                        "changed_models",
                        "name",
                        "end_user",
                        "origin_id",
                        "state",
                        "sync_id"
                    ])
                    .prop_map(str::to_owned),
                    inner,
                    0..6
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = WebhookEvent::parse(&body);
        }

        #[test]
        fn any_json_parses_or_fails_cleanly(value in any_json()) {
            let body = serde_json::to_vec(&value).unwrap_or_default();
            if let Ok(event) = WebhookEvent::parse(&body) {
                prop_assert!(!event.id.trim().is_empty());
                prop_assert!(!event.event_type.trim().is_empty());
            }
        }

        #[test]
        fn any_json_page_decodes_or_fails_cleanly(value in any_json()) {
            let body = serde_json::to_vec(&serde_json::json!({"status": "success", "data": {"next": null, "results": [value]}})).unwrap_or_default();
            let _ = serde_json::from_slice::<crate::SuccessEnvelope<crate::Page<crate::records::Employee>>>(&body);
            let _ = serde_json::from_slice::<crate::SuccessEnvelope<crate::Page<crate::records::Absence>>>(&body);
        }
    }
}
