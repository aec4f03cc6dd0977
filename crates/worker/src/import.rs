//! "Import all", in Kombo's order: ask Kombo to refresh from the HR system
//! (`force-sync` FULL, reusing the sync already queued), wait for that sync's
//! `sync-finished` (recorded by the integrations worker; polled here, bounded),
//! and only then read everything under one umbrella sync run. Reading before
//! the sync ends would read Kombo's old copy.

use std::time::Duration;

use hris_bus::{BusError, FetchKind, Trigger};
use hris_kombo::SyncType;
use hris_store::{IntegrationState, StoreError, Tenant};
use uuid::Uuid;

use crate::context::WorkerContext;
use crate::integrations::sync_messages;

/// How often the database is asked whether Kombo's sync finished.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("tenant {tenant} is {state}: only a connected, active tenant can be imported")]
    NotActive {
        tenant: String,
        state: hris_store::IntegrationState,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not enqueue the sync: {0}")]
    Bus(#[from] BusError),
}

/// The Kombo sync an import waits for.
#[derive(Debug, Clone, PartialEq)]
pub struct KomboSync {
    pub sync_id: String,
    /// Kombo had one queued or running already: this is its id.
    pub already_queued: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImportStarted {
    pub sync_run_id: Uuid,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub integration_id: String,
    /// Kombo's answer to the refresh request (`Err`: the import reads what
    /// Kombo has, without waiting).
    pub force_sync: Result<KomboSync, RefreshRefused>,
}

/// Kombo refused the refresh (`force-sync`): its error code and the error as
/// on-call reads it (no record values).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct RefreshRefused {
    pub reason: String,
    pub code: Option<String>,
}

impl From<&hris_kombo::KomboError> for RefreshRefused {
    fn from(e: &hris_kombo::KomboError) -> Self {
        Self {
            reason: e.to_string(),
            code: e.code().map(str::to_owned),
        }
    }
}

/// How the wait for Kombo's sync ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Waited {
    /// `sync-finished` arrived, with Kombo's sync state.
    Finished { state: Option<String> },
    /// Not within the bound: the import reads what Kombo has.
    TimedOut(Duration),
    /// No sync to wait for (Kombo refused the refresh).
    Skipped,
}

/// Opens the umbrella run and asks Kombo for a FULL sync. Reads nothing yet.
pub async fn start(ctx: &WorkerContext, tenant: &Tenant) -> Result<ImportStarted, ImportError> {
    let integration = match (&tenant.kombo_integration_id, tenant.integration_state) {
        (Some(i), IntegrationState::Active) => i.clone(),
        _ => {
            return Err(ImportError::NotActive {
                tenant: tenant.id.clone(),
                state: tenant.integration_state,
            });
        }
    };
    let run = Uuid::now_v7();
    let started_at = chrono::Utc::now();
    ctx.store
        .start_run(
            run,
            None,
            &tenant.id,
            None,
            FetchKind::Full,
            Trigger::ImportAll,
            false,
        )
        .await?;
    let force_sync = ctx
        .kombo
        .force_sync_of(&integration, SyncType::Full)
        .await
        .map(|answer| KomboSync {
            sync_id: answer.sync_id,
            already_queued: answer.already_queued,
        })
        .map_err(|e| RefreshRefused::from(&e));
    if let Ok(sync) = &force_sync {
        ctx.store.await_kombo_sync(run, &sync.sync_id).await?;
    }
    match &force_sync {
        Ok(sync) => {
            tracing::info!(tenant_id = %tenant.id, sync_run_id = %run, sync_id = %sync.sync_id, already_queued = sync.already_queued, "import-all: Kombo sync requested")
        }
        Err(e) => {
            tracing::warn!(tenant_id = %tenant.id, error = %e, "Kombo refused the refresh; reading what it has")
        }
    }
    Ok(ImportStarted {
        sync_run_id: run,
        started_at,
        integration_id: integration,
        force_sync,
    })
}

/// Waits, at most `bound`, for the `sync-finished` of the sync the import
/// asked for.
pub async fn wait_for_kombo(
    ctx: &WorkerContext,
    started: &ImportStarted,
    bound: Duration,
) -> Result<Waited, ImportError> {
    let Ok(sync) = &started.force_sync else {
        return Ok(Waited::Skipped);
    };
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        if let Some(state) = ctx
            .store
            .kombo_sync_finished(&started.integration_id, &sync.sync_id)
            .await?
        {
            return Ok(Waited::Finished { state });
        }
        if tokio::time::Instant::now() >= deadline {
            tracing::warn!(sync_id = %sync.sync_id, waited_secs = bound.as_secs(), "Kombo's sync did not finish in time; importing what Kombo has");
            return Ok(Waited::TimedOut(bound));
        }
        tokio::time::sleep(POLL.min(bound)).await;
    }
}

/// Reads everything: a full sync of every entity under the umbrella run.
pub async fn read_all(
    ctx: &WorkerContext,
    tenant: &Tenant,
    started: &ImportStarted,
) -> Result<(), ImportError> {
    let run = started.sync_run_id;
    let messages = sync_messages(
        ctx,
        &tenant.id,
        Some(&started.integration_id),
        &format!("import-all:{run}"),
        FetchKind::Full,
        Trigger::ImportAll,
        Some(run),
    );
    ctx.publisher.publish_all(messages).await?;
    tracing::info!(tenant_id = %tenant.id, sync_run_id = %run, "import-all: full read enqueued");
    Ok(())
}

/// The whole import in the background (the admin API answers at once):
/// wait for Kombo's sync within `bound`, then read.
pub async fn finish_in_background(
    ctx: WorkerContext,
    tenant: Tenant,
    started: ImportStarted,
    bound: Duration,
) {
    // A database that does not answer ends the wait early: the read is what
    // the admin asked for, so it goes on.
    if let Err(e) = wait_for_kombo(&ctx, &started, bound).await {
        tracing::warn!(tenant_id = %tenant.id, error = %e, "import-all stopped waiting for Kombo's sync");
    }
    if let Err(e) = read_all(&ctx, &tenant, &started).await {
        tracing::error!(tenant_id = %tenant.id, sync_run_id = %started.sync_run_id, error = %e, "import-all could not enqueue its full read");
    }
}
