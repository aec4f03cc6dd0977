//! Kombo's integration management calls: read an integration's health, hand
//! the customer's admin a relink or setup link, pause or resume syncing.
//! None of these is retried in process: each is one admin action or one
//! bounded health read, and its caller decides what a failure means.

use crate::client::{INTEGRATION_HEADER, KomboClient};
use crate::envelope::{
    CreateLinkResponse, EnabledRequest, ForceSyncRequest, ForceSyncResponse, IntegrationDetails,
    LinkRequest,
};
use crate::error::KomboError;

/// Kind of Kombo sync `POST /force-sync` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncType {
    Full,
    Delta,
}

impl SyncType {
    pub fn as_str(self) -> &'static str {
        match self {
            SyncType::Full => "FULL",
            SyncType::Delta => "DELTA",
        }
    }
}

/// The path segment of an integration id (ids hold a `:`, which is fine in a
/// path, but nothing else a URL would misread may pass through).
fn segment(integration_id: &str) -> String {
    integration_id
        .chars()
        .map(|c| match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | ':' | '~' => c.to_string(),
            other => {
                let mut buf = [0u8; 4];
                other
                    .encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

impl KomboClient {
    /// `POST /force-sync` with `{type}`: only for a user's explicit "Import
    /// all". `already_queued` answers carry the id of the sync already queued.
    pub async fn force_sync_of(
        &self,
        integration_id: &str,
        sync_type: SyncType,
    ) -> Result<ForceSyncResponse, KomboError> {
        let request = self
            .http()
            .post(self.url("/force-sync"))
            .header(INTEGRATION_HEADER, integration_id)
            .json(&ForceSyncRequest {
                sync_type: sync_type.as_str().to_owned(),
            });
        self.send(request, "/force-sync").await
    }

    /// `GET /integrations/{id}`: status, setup status, data_expired_at.
    pub async fn integration(
        &self,
        integration_id: &str,
    ) -> Result<IntegrationDetails, KomboError> {
        let path = format!("/integrations/{}", segment(integration_id));
        let request = self.http().get(self.url(&path));
        self.send(request, "/integrations/{id}").await
    }

    /// `POST /integrations/{id}/relink`: a link for the customer's admin to
    /// re-enter the credentials of this same integration.
    pub async fn relink(&self, integration_id: &str) -> Result<String, KomboError> {
        self.link(integration_id, "relink", "/integrations/{id}/relink")
            .await
    }

    /// `POST /integrations/{id}/setup-link`: back into Kombo's setup steps.
    pub async fn setup_link(&self, integration_id: &str) -> Result<String, KomboError> {
        self.link(
            integration_id,
            "setup-link",
            "/integrations/{id}/setup-link",
        )
        .await
    }

    async fn link(
        &self,
        integration_id: &str,
        action: &str,
        label: &'static str,
    ) -> Result<String, KomboError> {
        let path = format!("/integrations/{}/{action}", segment(integration_id));
        let request = self
            .http()
            .post(self.url(&path))
            .json(&LinkRequest::default());
        let answer: CreateLinkResponse = self.send(request, label).await?;
        Ok(answer.link)
    }

    /// `PUT /integrations/{id}/enabled`: false pauses Kombo's syncing and
    /// keeps the credentials; true resumes it.
    pub async fn set_enabled(&self, integration_id: &str, value: bool) -> Result<(), KomboError> {
        let path = format!("/integrations/{}/enabled", segment(integration_id));
        let request = self
            .http()
            .put(self.url(&path))
            .json(&EnabledRequest { value });
        let _: serde_json::Value = self.send(request, "/integrations/{id}/enabled").await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_ids_stay_one_path_segment() {
        assert_eq!(segment("personio:CBNMt7dS"), "personio:CBNMt7dS");
        assert_eq!(segment("a/b?c"), "a%2Fb%3Fc");
    }

    #[test]
    fn sync_types_are_kombos_words() {
        assert_eq!(SyncType::Full.as_str(), "FULL");
        assert_eq!(SyncType::Delta.as_str(), "DELTA");
    }
}
