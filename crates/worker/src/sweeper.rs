//! Finds notifications whose fetcher died (its lease expired with a rerun
//! request pending) and publishes them again. Every worker process runs one;
//! two publishing the same request is harmless, the fetches coalesce.

use std::time::Duration;

use hris_bus::{Entity, Envelope, Outgoing, Trigger};
use tokio_util::sync::CancellationToken;

use crate::context::WorkerContext;
use crate::error::WorkerError;

pub async fn run(ctx: WorkerContext, shutdown: CancellationToken) {
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(ctx.settings.sweep_interval) => {}
        }
        if let Err(e) = sweep_once(&ctx).await {
            tracing::warn!(error = %e, "sweep failed; trying again later");
        }
    }
}

pub async fn sweep_once(ctx: &WorkerContext) -> Result<usize, WorkerError> {
    let orphans = ctx
        .store
        .orphaned_requests(Duration::from_secs(2), 200)
        .await?;
    let mut published = 0;
    for orphan in orphans {
        let Ok(entity) = orphan.entity.parse::<Entity>() else {
            continue;
        };
        let kind = orphan.kind;
        let mut envelope = Envelope::new(
            format!(
                "sweep:{}:{}:{}",
                orphan.tenant_id,
                entity,
                uuid::Uuid::now_v7()
            ),
            orphan.integration_id.clone(),
            entity,
            kind,
            Trigger::Sweep,
        );
        envelope.tenant_id = Some(orphan.tenant_id.clone());
        ctx.publisher
            .publish_all(vec![Outgoing::event(&ctx.publisher, envelope)])
            .await?;
        ctx.store.clear_request(&orphan).await?;
        tracing::info!(tenant_id = %orphan.tenant_id, entity = %entity, "re-published a notification left by a stopped fetch");
        published += 1;
    }
    Ok(published)
}
