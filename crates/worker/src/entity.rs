//! The handler of the employees, teams, locations and absences queues: resolve
//! the tenant, coalesce, fetch, apply.

use chrono::Utc;
use hris_bus::{
    Entity, Envelope, Failure, Handler, Incoming, SyncedEntity, envelope::ENVELOPE_VERSION,
};
use hris_store::{Claim, IntegrationState, Lease, RunStatus, Tenant};
use tracing::Instrument;
use uuid::Uuid;

use crate::context::WorkerContext;
use crate::fetch;

pub struct EntityHandler {
    pub ctx: WorkerContext,
    pub entity: SyncedEntity,
}

/// Reads the envelope; anything unreadable can never succeed (poison).
pub fn decode(message: &Incoming) -> Result<Envelope, Failure> {
    let envelope: Envelope = hris_kombo::decode::decode(&message.data)
        .map_err(|e| Failure::poison(format!("unreadable envelope: {e}")))?;
    if envelope.v != ENVELOPE_VERSION {
        return Err(Failure::poison(format!(
            "envelope version {} is not {ENVELOPE_VERSION}",
            envelope.v
        )));
    }
    Ok(envelope)
}

impl Handler for EntityHandler {
    async fn handle(&self, message: &Incoming) -> Result<(), Failure> {
        let envelope = decode(message)?;
        if envelope.entity != Entity::from(self.entity) {
            return Err(Failure::poison(format!(
                "a {} message on the {} queue",
                envelope.entity, self.entity
            )));
        }
        // The webhook's trace context follows the work into this span.
        let span = tracing::info_span!(
            "sync",
            entity = %self.entity,
            event_id = %envelope.event_id,
            traceparent = envelope.trace.as_deref().unwrap_or("-"),
            tenant_id = tracing::field::Empty,
        );
        async {
            let Some(tenant) = self.resolve_tenant(&envelope).await? else {
                return Ok(());
            };
            tracing::Span::current().record("tenant_id", tenant.id.as_str());
            self.sync(&tenant, &envelope)
                .await
                .map_err(|f| f.with_tenant(&tenant.id))
        }
        .instrument(span)
        .await
    }
}

impl EntityHandler {
    /// The tenant a message is for; `None` (ack, logged, counted) when no
    /// tenant claims the integration: a crash loop would help nobody, and the
    /// first full sync after linking covers whatever this message was about.
    async fn resolve_tenant(&self, envelope: &Envelope) -> Result<Option<Tenant>, Failure> {
        let store = &self.ctx.store;
        let tenant = match (&envelope.tenant_id, &envelope.integration_id) {
            (Some(id), _) => match store.tenant(id).await {
                Ok(t) => Some(t),
                Err(hris_store::StoreError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            },
            (None, Some(integration)) => store.tenant_by_integration(integration).await?,
            (None, None) => {
                return Err(Failure::poison(
                    "message names neither tenant nor integration",
                ));
            }
        };
        if tenant.is_none() {
            metrics::counter!("messages_unknown_integration_total", "entity" => self.entity.as_str()).increment(1);
            tracing::warn!(event_id = %envelope.event_id, integration_id = envelope.integration_id.as_deref().unwrap_or("-"), "no tenant for this integration; message dropped");
        }
        Ok(tenant)
    }

    async fn sync(&self, tenant: &Tenant, envelope: &Envelope) -> Result<(), Failure> {
        let store = &self.ctx.store;
        let kind = envelope.kind;
        match tenant.integration_state {
            IntegrationState::Active => {}
            IntegrationState::Paused => {
                // Waits in the database; resuming the tenant fetches it.
                store
                    .request_fetch(&tenant.id, self.entity.as_str(), kind)
                    .await?;
                tracing::info!(tenant_id = %tenant.id, entity = %self.entity, "tenant paused; fetch deferred");
                return Ok(());
            }
            state => {
                tracing::info!(tenant_id = %tenant.id, entity = %self.entity, %state, "tenant not connected; message dropped");
                return Ok(());
            }
        }
        let settings = &self.ctx.settings;
        // One owner per claim, not per process: two messages handled at once by
        // the same process must not both believe they hold the lease.
        let owner = format!("{}/{}", settings.owner, Uuid::new_v4().simple());
        let claim = store
            .claim_fetch(
                &tenant.id,
                self.entity.as_str(),
                &owner,
                kind,
                envelope.received_at,
                settings.lease_ttl,
            )
            .await?;
        let mut lease = match claim {
            Claim::Covered => {
                metrics::counter!("notifications_coalesced_total", "entity" => self.entity.as_str(), "how" => "covered").increment(1);
                return Ok(());
            }
            Claim::Queued => {
                metrics::counter!("notifications_coalesced_total", "entity" => self.entity.as_str(), "how" => "queued").increment(1);
                return Ok(());
            }
            Claim::Acquired(lease) => lease,
        };
        let parent = envelope
            .sync_run_id
            .as_deref()
            .and_then(|s| Uuid::parse_str(s).ok());
        loop {
            let run_id = Uuid::now_v7();
            self.run_fetch(tenant, envelope, &lease, run_id, parent)
                .await?;
            match store
                .complete_fetch(&lease, settings.watermark_overlap, settings.lease_ttl)
                .await
            {
                Ok(Some(next)) => lease = next,
                Ok(None) => {
                    if envelope.trigger == hris_bus::Trigger::Webhook {
                        // From Kombo's webhook reaching us to its effect committed.
                        let lag = (Utc::now() - envelope.received_at)
                            .num_milliseconds()
                            .max(0);
                        metrics::histogram!("webhook_to_commit_seconds", "entity" => self.entity.as_str())
                            .record(lag as f64 / 1000.0);
                    }
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// One fetch under `lease`, recorded as a sync run. On failure the lease
    /// is released so the retry (or another notification) can take it.
    async fn run_fetch(
        &self,
        tenant: &Tenant,
        envelope: &Envelope,
        lease: &Lease,
        run_id: Uuid,
        parent: Option<Uuid>,
    ) -> Result<(), Failure> {
        let store = &self.ctx.store;
        store
            .start_run(
                run_id,
                parent,
                &tenant.id,
                Some(self.entity),
                lease.kind,
                envelope.trigger,
                false,
            )
            .await?;
        let started = std::time::Instant::now();
        let result = fetch::run(
            &self.ctx,
            self.entity,
            tenant,
            lease,
            &envelope.event_id,
            run_id,
        )
        .await;
        let (status, error) = match &result {
            Ok(()) => (RunStatus::Succeeded, None),
            Err(f) => (RunStatus::Failed, Some(f.to_string())),
        };
        if let Err(e) = store.finish_run(run_id, status, error.as_deref()).await {
            tracing::warn!(error = %e, "could not record the end of a sync run");
        }
        metrics::histogram!("fetch_seconds", "entity" => self.entity.as_str(), "outcome" => status.as_str())
            .record(started.elapsed().as_secs_f64());
        if let Some(error) = error {
            tracing::warn!(tenant_id = %tenant.id, entity = %self.entity, sync_run_id = %run_id, %error, "fetch failed");
            if let Err(e) = store.fail_fetch(lease, &error).await {
                tracing::warn!(error = %e, "could not release a fetch lease; it expires by itself");
            }
        } else {
            tracing::info!(tenant_id = %tenant.id, entity = %self.entity, sync_run_id = %run_id, kind = lease.kind.as_str(), elapsed_ms = started.elapsed().as_millis() as u64, at = %Utc::now(), "fetch complete");
        }
        result
    }
}
