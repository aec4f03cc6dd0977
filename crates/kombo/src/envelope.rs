//! Kombo's response envelopes: `{status: "success", data}` and
//! `{status: "error", error: {code, title, message, log_url}}`.

use serde::{Deserialize, Serialize};

/// `{ "status": "success", "data": … }`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SuccessEnvelope<T> {
    pub status: String,
    pub data: T,
}

impl<T> SuccessEnvelope<T> {
    pub fn new(data: T) -> Self {
        Self {
            status: "success".to_owned(),
            data,
        }
    }
}

/// One page of a list endpoint: `{ "next": cursor | null, "results": [...] }`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Page<T> {
    pub next: Option<String>,
    pub results: Vec<T>,
}

/// `{ "status": "error", "error": … }`
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub status: String,
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub log_url: Option<String>,
}

impl ErrorEnvelope {
    pub fn new(
        code: &str,
        title: &str,
        message: impl Into<String>,
        log_url: Option<String>,
    ) -> Self {
        Self {
            status: "error".to_owned(),
            error: ErrorBody {
                code: Some(code.to_owned()),
                title: Some(title.to_owned()),
                message: message.into(),
                log_url,
            },
        }
    }
}

/// `POST /connect/create-link` request body.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CreateLinkRequest {
    pub end_user_email: String,
    pub end_user_organization_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_user_origin_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_tool: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_type: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CreateLinkResponse {
    pub link: String,
}

/// `POST /force-sync` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForceSyncResponse {
    pub already_queued: bool,
    pub sync_id: String,
    #[serde(rename = "type")]
    pub sync_type: String,
}

/// `POST /force-sync` request body. FULL re-reads everything from the HR
/// system (what "Import all" promises); DELTA only changes since the last sync.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ForceSyncRequest {
    #[serde(rename = "type")]
    pub sync_type: String,
}

/// `POST /integrations/{id}/relink` and `/setup-link` request body. Both links
/// are opened by an admin right away, so the one-hour embedded kind is enough.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    pub link_type: String,
}

impl Default for LinkRequest {
    fn default() -> Self {
        Self {
            language: None,
            link_type: "EMBEDDED".to_owned(),
        }
    }
}

/// `PUT /integrations/{id}/enabled` request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EnabledRequest {
    pub value: bool,
}

/// What `GET /integrations/{id}` says about an integration's health (the
/// fields we act on; the rest of the answer is ignored).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationDetails {
    pub id: String,
    /// ACTIVE | INVALID | INACTIVE (kept as a string: an open set in practice).
    pub status: String,
    /// INCOMPLETE | FINAL_SYNC_PENDING | COMPLETED.
    #[serde(default)]
    pub setup_status: Option<String>,
    /// Set when the customer changed filters or scope: deletions since then
    /// are not news about people leaving.
    #[serde(default)]
    pub data_expired_at: Option<String>,
}
