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
