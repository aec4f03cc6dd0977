//! Links for the customer's admin, shared by the CLI and the admin API: a new
//! connection only for a tenant without an integration (Kombo does not
//! deduplicate, so a second create-link makes a second integration), a relink
//! to repair the credentials of the one it has, a setup link to redo Kombo's
//! setup steps, and Kombo's syncing switch for pause and resume.

use hris_kombo::{KomboClient, KomboError};
use hris_store::{IntegrationState, Tenant};
use hris_types::TenantId;
use hris_types::{Classified, ErrorClass};

/// Why a link or switch could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("tenant {0} has no Kombo integration: connect it first (tenant connect)")]
    NotConnected(TenantId),
    #[error("Kombo refused: {0}")]
    Kombo(#[from] KomboError),
}

impl Classified for LinkError {
    fn class(&self) -> ErrorClass {
        match self {
            LinkError::NotConnected(_) => ErrorClass::Permanent,
            LinkError::Kombo(e) => e.class(),
        }
    }

    fn code(&self) -> Option<String> {
        match self {
            LinkError::NotConnected(_) => None,
            LinkError::Kombo(e) => e.code().map(str::to_owned),
        }
    }
}

/// The integration a relink, setup link or switch concerns: the tenant's
/// own, unless Kombo deleted it (then there is nothing to repair).
fn integration_of(tenant: &Tenant) -> Option<&str> {
    let deleted = tenant.integration_state == IntegrationState::Disconnected
        && tenant.integration_state_reason.as_deref() == Some("integration-deleted");
    tenant.kombo_integration_id.as_deref().filter(|_| !deleted)
}

/// Why a new connection link must not be made for `tenant`, if it must not:
/// it has an integration already, which a relink repairs.
pub fn connect_refusal(tenant: &Tenant) -> Option<String> {
    integration_of(tenant).map(|integration| {
        format!(
            "tenant {} already has Kombo integration {integration}: a new connection would make a second one. \
             To repair its credentials: hris-sync tenant relink --tenant {}",
            tenant.id, tenant.id
        )
    })
}

fn require(tenant: &Tenant) -> Result<&str, LinkError> {
    integration_of(tenant).ok_or_else(|| LinkError::NotConnected(tenant.id.clone()))
}

/// Which link the customer's admin gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// Re-enter the credentials of the same integration.
    Relink,
    /// Back into Kombo's setup steps (filters, field mapping, webhooks).
    Setup,
}

impl LinkKind {
    /// What the link does, for whoever hands it on.
    pub fn purpose(self) -> &'static str {
        match self {
            LinkKind::Relink => {
                "it repairs the credentials of the integration (valid about an hour)"
            }
            LinkKind::Setup => "it reopens Kombo's setup steps (filters, field mapping)",
        }
    }
}

/// A link of `kind` for the tenant's own integration.
pub async fn link(
    kombo: &KomboClient,
    tenant: &Tenant,
    kind: LinkKind,
) -> Result<String, LinkError> {
    let integration = require(tenant)?;
    Ok(match kind {
        LinkKind::Relink => kombo.relink(integration).await?,
        LinkKind::Setup => kombo.setup_link(integration).await?,
    })
}

/// Kombo's syncing switch (pause: false, resume: true).
pub async fn set_enabled(
    kombo: &KomboClient,
    tenant: &Tenant,
    enabled: bool,
) -> Result<(), LinkError> {
    let integration = require(tenant)?;
    Ok(kombo.set_enabled(integration, enabled).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(integration: Option<&str>, state: IntegrationState, reason: Option<&str>) -> Tenant {
        Tenant {
            id: "acme".into(),
            name: "Acme".to_owned(),
            kombo_integration_id: integration.map(str::to_owned),
            integration_state: state,
            integration_state_reason: reason.map(str::to_owned),
            settings: hris_store::TenantSettings::default(),
        }
    }

    #[test]
    fn a_connected_tenant_is_pointed_to_relink() {
        let t = tenant(Some("personio:A"), IntegrationState::Active, None);
        let refusal = connect_refusal(&t).expect("refused");
        assert!(refusal.contains("personio:A"), "{refusal}");
        assert!(refusal.contains("tenant relink --tenant acme"), "{refusal}");
        // Paused or disconnected by an operator: the integration still exists.
        let paused = tenant(
            Some("personio:A"),
            IntegrationState::Paused,
            Some("INVALID"),
        );
        assert!(connect_refusal(&paused).is_some());
    }

    #[test]
    fn a_tenant_without_a_live_integration_may_connect() {
        assert_eq!(
            connect_refusal(&tenant(None, IntegrationState::Unconnected, None)),
            None
        );
        let deleted = tenant(
            Some("personio:A"),
            IntegrationState::Disconnected,
            Some("integration-deleted"),
        );
        assert_eq!(connect_refusal(&deleted), None);
        assert!(matches!(require(&deleted), Err(LinkError::NotConnected(_))));
    }
}
