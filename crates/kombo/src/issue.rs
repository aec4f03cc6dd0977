//! `issue-status-changed` webhooks: Kombo raises an issue when an integration
//! (or the whole environment) needs attention and resolves it later. Newer than
//! the OpenAPI copy; the shape follows Kombo's docs and its TypeScript SDK.

use serde::{Deserialize, Serialize};

use crate::webhook::EndUser;

/// The issue type of a failed connection test or token refresh: while it is
/// open, nothing Kombo serves is fresh news about people.
pub const AUTHENTICATION_FAILED: &str = "integration.authentication_failed";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueStatusChanged {
    /// `raised` | `resolved` (kept as a string: an open set).
    pub change: String,
    pub issue: Issue,
    /// `None` for issues of the whole Kombo environment.
    #[serde(default)]
    pub integration: Option<IssueIntegration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Issue {
    pub id: String,
    /// e.g. `integration.authentication_failed`; an open set.
    #[serde(rename = "type")]
    pub issue_type: String,
    #[serde(default)]
    pub title: Option<String>,
    /// OPEN | RESOLVED.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub markdown_message: Option<String>,
    #[serde(default)]
    pub first_observed_at: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssueIntegration {
    pub id: String,
    #[serde(default)]
    pub tool: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub end_user: Option<EndUser>,
}

impl IssueStatusChanged {
    /// Whether the event opens the issue (else it closes it). `status`
    /// decides when given, `change` otherwise: the two always agree in
    /// Kombo's events, and the status is the state to keep.
    pub fn is_open(&self) -> bool {
        match self.issue.status.as_deref() {
            Some(status) => status.eq_ignore_ascii_case("OPEN"),
            None => self.change.eq_ignore_ascii_case("raised"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::webhook::{EventPayload, WebhookEvent};

    #[test]
    fn raised_and_environment_wide_issues_parse() {
        let body = br#"{"id":"E","type":"issue-status-changed","data":{"change":"raised","issue":{"id":"I1","type":"integration.authentication_failed","title":"Auth failed","status":"OPEN","markdown_message":"x","first_observed_at":"2026-01-01T00:00:00.000Z","resolved_at":null},"integration":{"id":"personio:X","tool":"personio","category":"HRIS","end_user":{"origin_id":"t1"}}}}"#;
        let event = WebhookEvent::parse(body).expect("parses");
        assert_eq!(event.integration_id(), Some("personio:X"));
        let EventPayload::IssueStatusChanged(issue) = event.payload else {
            panic!("wrong payload")
        };
        assert!(issue.is_open());
        assert_eq!(issue.issue.issue_type, super::AUTHENTICATION_FAILED);

        let body = br#"{"id":"E2","type":"issue-status-changed","data":{"change":"resolved","issue":{"id":"I2","type":"environment.something","status":"RESOLVED"},"integration":null}}"#;
        let event = WebhookEvent::parse(body).expect("parses");
        assert_eq!(event.integration_id(), None);
        let EventPayload::IssueStatusChanged(issue) = event.payload else {
            panic!("wrong payload")
        };
        assert!(!issue.is_open());
        assert_eq!(issue.integration, None);
    }
}
