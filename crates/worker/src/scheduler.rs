//! `hris-sync scheduler`: enqueues each tenant's full sync when due, releases
//! due invitations and deactivates leavers at the end of their last day. All
//! of it is claims and atomic updates in the database, so any number of
//! replicas may run.

use std::time::Duration;

use hris_bus::{FetchKind, Trigger};
use tokio_util::sync::CancellationToken;

use crate::context::WorkerContext;
use crate::error::WorkerError;
use crate::integrations::sync_messages;

#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    pub owner: String,
    pub tick: Duration,
    /// Tenants claimed per transaction.
    pub batch: i64,
}

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tick {
    pub full_syncs: usize,
    pub invitations_due: u64,
    pub deactivated: i64,
    /// Leave-date deactivations the mass-change guard held for approval.
    pub held: i64,
    /// Change log entries, dead letter payloads and run errors past their
    /// tenant's retention.
    pub expired: i64,
}

/// Rows of each kind one retention batch expires, and the batches one tick
/// may run: a backlog (retention just shortened) drains over several ticks
/// instead of holding a tick, and its locks, for long.
const RETENTION_BATCH: i64 = 1_000;
const RETENTION_BATCHES_PER_TICK: usize = 10;

pub async fn run(ctx: WorkerContext, config: SchedulerConfig, shutdown: CancellationToken) {
    loop {
        match tick(&ctx, &config).await {
            Ok(t) if t != Tick::default() => {
                tracing::info!(
                    full_syncs = t.full_syncs,
                    invitations_due = t.invitations_due,
                    deactivated = t.deactivated,
                    held = t.held,
                    expired = t.expired,
                    "scheduler tick"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "scheduler tick failed; trying again next tick"),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.tick) => {}
        }
    }
}

pub async fn tick(ctx: &WorkerContext, config: &SchedulerConfig) -> Result<Tick, WorkerError> {
    let store = &ctx.store;
    store.ensure_schedules().await?;
    let mut report = Tick::default();
    loop {
        let claimed = store
            .claim_due_full_syncs(&config.owner, config.batch, |due| async move {
                let mut messages = Vec::new();
                for tenant in &due {
                    messages.extend(sync_messages(
                        ctx,
                        &tenant.tenant_id,
                        tenant.integration_id.as_deref(),
                        &format!("schedule:{}", uuid::Uuid::now_v7()),
                        FetchKind::Full,
                        Trigger::Schedule,
                        None,
                    ));
                }
                match ctx.publisher.publish_all(messages).await {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not enqueue scheduled full syncs; they stay due");
                        false
                    }
                }
            })
            .await?;
        report.full_syncs += claimed;
        if claimed < config.batch as usize {
            break;
        }
    }
    report.invitations_due = store.release_due_invitations().await?;
    (report.deactivated, report.held) = store.apply_due_deactivations().await?;
    // An "Import all" whose Kombo sync never finished (or whose waiting
    // process is gone) reads what Kombo has once its wait is over.
    if let Err(e) = crate::import::read_overdue(ctx, ctx.settings.kombo_sync_wait).await {
        tracing::warn!(error = %e, "could not enqueue overdue imports; the next tick tries again");
    }
    for _ in 0..RETENTION_BATCHES_PER_TICK {
        let expired = store.expire_batch(RETENTION_BATCH).await?;
        report.expired += expired.total();
        if !expired.full(RETENTION_BATCH) {
            break;
        }
    }
    // Health gauges stay current even when no webhook or fetch moves them.
    crate::health::update_gauges(store).await;
    metrics::counter!("scheduled_full_syncs_total").increment(report.full_syncs as u64);
    publish_gauges(store).await?;
    Ok(report)
}

/// What the alert rules need from PostgreSQL, as gauges: every tenant's
/// together (a tenant label would make one series per customer), refreshed
/// each tick, with the tick's time so that a silent scheduler alerts too.
async fn publish_gauges(store: &hris_store::Store) -> Result<(), hris_store::StoreError> {
    let g = store.ops_gauges().await?;
    for class in ["retryable", "not_ready", "permanent", "poison"] {
        let n = g
            .dead_letters_pending
            .iter()
            .find(|(c, _)| c == class)
            .map_or(0, |(_, n)| *n);
        metrics::gauge!("dead_letters_pending", "class" => class).set(n as f64);
    }
    for (state, n) in &g.tenants {
        metrics::gauge!("tenants", "state" => state.clone()).set(*n as f64);
    }
    metrics::gauge!("held_changes_pending").set(g.held_changes_pending as f64);
    metrics::gauge!("identity_conflicts_open").set(g.identity_conflicts_open as f64);
    metrics::gauge!("tenants_with_error").set(g.tenants_with_error as f64);
    metrics::gauge!("full_sync_oldest_age_seconds").set(g.full_sync_oldest_age_seconds);
    metrics::gauge!("scheduler_last_tick_timestamp_seconds")
        .set(chrono::Utc::now().timestamp() as f64);
    Ok(())
}
