//! The integrations queue: Kombo's lifecycle events change which tenants sync.

use hris_bus::{
    Entity, Envelope, Failure, FetchKind, Handler, Incoming, Outgoing, SyncedEntity, Trigger,
};
use hris_kombo::webhook::{EventPayload, WebhookEvent};
use hris_store::IntegrationState;
use hris_store::{Link, Tenant};
use hris_types::TenantId;

use crate::context::WorkerContext;
use crate::entity::decode;

/// The entities a tenant syncs (the registry's).
pub const SYNCED: &[SyncedEntity] = SyncedEntity::ALL;

pub struct IntegrationsHandler {
    pub ctx: WorkerContext,
}

impl Handler for IntegrationsHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), Failure> {
        let envelope = decode(message)?;
        let raw = envelope
            .event
            .as_ref()
            .ok_or_else(|| Failure::poison("integrations message without its event"))?;
        let bytes = serde_json::to_vec(raw).map_err(|e| Failure::poison(e.to_string()))?;
        let event = WebhookEvent::parse(&bytes)
            .map_err(|e| Failure::poison(format!("unreadable event: {e}")))?;
        let store = &self.ctx.store;
        match &event.payload {
            EventPayload::IntegrationCreated(created) => {
                let Some(origin) = created
                    .end_user
                    .origin_id
                    .as_deref()
                    .filter(|o| !o.is_empty())
                else {
                    return Err(Failure::permanent(
                        "integration-created without end_user.origin_id: link the tenant by hand",
                    ));
                };
                let origin = TenantId::from(origin);
                match store
                    .link_integration(&origin, &created.id)
                    .await
                    .map_err(|e| Failure::from(e).with_tenant(&origin))?
                {
                    // Published on every delivery (a redelivery may follow a
                    // failed publish); full syncs of one tenant coalesce.
                    Link::Linked(tenant) | Link::AlreadyLinked(tenant) => {
                        tracing::info!(tenant_id = %tenant.id, integration_id = %created.id, "integration linked; first full sync requested");
                        self.publish_syncs(&tenant, &envelope, FetchKind::Full)
                            .await
                    }
                    Link::UnknownTenant => {
                        tracing::warn!(integration_id = %created.id, origin_id = %origin, "integration-created for an unregistered tenant; kept until it is registered");
                        store
                            .park_integration_event(
                                &event.id,
                                &created.id,
                                Some(origin.as_str()),
                                &event.event_type,
                                raw,
                            )
                            .await
                            .map_err(Failure::from)
                    }
                }
            }
            EventPayload::IntegrationDeleted(deleted) => {
                let Some(tenant) = self.tenant_of(&deleted.id).await? else {
                    return Ok(());
                };
                tracing::info!(tenant_id = %tenant.id, integration_id = %deleted.id, "integration deleted; syncing stopped, data kept");
                store
                    .set_integration_state(
                        &tenant.id,
                        IntegrationState::Disconnected,
                        Some("integration-deleted"),
                    )
                    .await
                    .map_err(Failure::from)
            }
            EventPayload::IntegrationStateChanged(changed) => {
                let Some(tenant) = self.tenant_of(&changed.integration_id).await? else {
                    return Ok(());
                };
                if tenant.integration_state == IntegrationState::Disconnected {
                    return Ok(());
                }
                store
                    .record_integration_state(
                        &tenant.id,
                        &changed.state,
                        changed.setup_status.as_deref(),
                    )
                    .await?;
                match changed.state.as_str() {
                    "ACTIVE" => {
                        store
                            .set_integration_state(&tenant.id, IntegrationState::Active, None)
                            .await?;
                        tracing::info!(tenant_id = %tenant.id, "integration active again; catching up");
                        // Deferred full-sync requests are merged in when claimed.
                        self.publish_syncs(&tenant, &envelope, FetchKind::Incremental)
                            .await
                    }
                    state @ ("INVALID" | "INACTIVE") => {
                        tracing::warn!(tenant_id = %tenant.id, state, "integration not usable; tenant paused");
                        store
                            .set_integration_state(
                                &tenant.id,
                                IntegrationState::Paused,
                                Some(state),
                            )
                            .await
                            .map_err(Failure::from)
                    }
                    other => {
                        tracing::info!(tenant_id = %tenant.id, state = other, "integration state recorded, nothing to do");
                        Ok(())
                    }
                }
            }
            EventPayload::SyncFinished(finished) => {
                let tenant = self.tenant_of(&finished.integration_id).await?;
                store
                    .record_kombo_sync(
                        &event.id,
                        tenant.as_ref().map(|t| &t.id),
                        &finished.integration_id,
                        Some(&finished.sync_id),
                        finished.sync_state.as_deref(),
                        raw,
                    )
                    .await?;
                // An "Import all" that waits for this sync reads everything
                // now, even if the process that started it is gone.
                let awaiting = match &tenant {
                    Some(t) => store.imports_awaiting(&t.id, &finished.sync_id).await?,
                    None => Vec::new(),
                };
                if let Some(t) = &tenant {
                    for run in &awaiting {
                        crate::import::enqueue_read(
                            &self.ctx,
                            &t.id,
                            &finished.integration_id,
                            *run,
                        )
                        .await
                        .map_err(Failure::from)?;
                    }
                }
                match tenant {
                    Some(_) if !awaiting.is_empty() => Ok(()),
                    // Kombo just refreshed from the HR system: catch up.
                    Some(t) if t.integration_state == IntegrationState::Active => {
                        self.publish_syncs(&t, &envelope, FetchKind::Incremental)
                            .await
                    }
                    _ => Ok(()),
                }
            }
            EventPayload::IssueStatusChanged(changed) => {
                let tenant = match &changed.integration {
                    Some(i) => self.tenant_of(&i.id).await?,
                    None => None,
                };
                let tenant_id = tenant.as_ref().map(|t| t.id.as_str());
                let issue = crate::health::issue_event(&event.id, changed, tenant_id);
                store.record_issue(&issue).await?;
                tracing::info!(tenant_id = tenant_id.unwrap_or("-"), issue_type = %changed.issue.issue_type, open = issue.open, "Kombo issue recorded");
                crate::health::update_gauges(store).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl IntegrationsHandler {
    async fn tenant_of(&self, integration_id: &str) -> Result<Option<Tenant>, Failure> {
        let tenant = self.ctx.store.tenant_by_integration(integration_id).await?;
        if tenant.is_none() {
            tracing::warn!(
                integration_id,
                "lifecycle event for an integration no tenant holds; ignored"
            );
        }
        Ok(tenant)
    }

    async fn publish_syncs(
        &self,
        tenant: &Tenant,
        cause: &Envelope,
        kind: FetchKind,
    ) -> Result<(), Failure> {
        let messages = sync_messages(
            &self.ctx,
            &tenant.id,
            tenant.kombo_integration_id.as_deref(),
            &cause.event_id,
            kind,
            Trigger::Webhook,
            None,
        );
        self.ctx
            .publisher
            .publish_all(messages)
            .await
            .map_err(|e| Failure::from(e).with_tenant(&tenant.id))
    }
}

/// One message per synced entity of a tenant.
pub fn sync_messages(
    ctx: &WorkerContext,
    tenant_id: &TenantId,
    integration_id: Option<&str>,
    cause: &str,
    kind: FetchKind,
    trigger: Trigger,
    sync_run_id: Option<uuid::Uuid>,
) -> Vec<Outgoing> {
    SYNCED
        .iter()
        .map(|entity| {
            let mut envelope = Envelope::new(
                format!("{cause}:{entity}"),
                integration_id.map(str::to_owned),
                Entity::from(*entity),
                kind,
                trigger,
            );
            envelope.tenant_id = Some(tenant_id.to_owned());
            envelope.sync_run_id = sync_run_id.map(|id| id.to_string());
            Outgoing::event(&ctx.publisher, envelope)
        })
        .collect()
}
