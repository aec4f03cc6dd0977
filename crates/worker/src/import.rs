//! "Import all", in Kombo's order: ask Kombo to refresh from the HR system
//! (`force-sync` FULL, reusing the sync already queued), wait for that sync's
//! `sync-finished` (recorded by the integrations worker; polled here, bounded),
//! and only then read everything under one umbrella sync run. Reading before
//! the sync ends would read Kombo's old copy.

use hris_types::TenantId;
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
        tenant: TenantId,
        state: hris_store::IntegrationState,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not enqueue the sync: {0}")]
    Bus(#[from] BusError),
}

impl hris_types::Classified for ImportError {
    fn class(&self) -> hris_types::ErrorClass {
        match self {
            ImportError::NotActive { .. } => hris_types::ErrorClass::Permanent,
            ImportError::Store(e) => e.class(),
            ImportError::Bus(e) => e.class(),
        }
    }

    fn code(&self) -> Option<String> {
        match self {
            ImportError::Store(e) => e.code(),
            _ => None,
        }
    }
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
    enqueue_read(
        ctx,
        &tenant.id,
        &started.integration_id,
        started.sync_run_id,
    )
    .await?;
    Ok(())
}

/// Enqueues the full read of the import `run`, once whoever calls first: the
/// process that waited, the integrations worker on `sync-finished`, or the
/// scheduler once the wait is overdue. Returns whether this call enqueued it.
pub async fn enqueue_read(
    ctx: &WorkerContext,
    tenant_id: &TenantId,
    integration_id: &str,
    run: Uuid,
) -> Result<bool, ImportError> {
    if !ctx.store.claim_import_read(run).await? {
        return Ok(false);
    }
    let messages = sync_messages(
        ctx,
        tenant_id,
        Some(integration_id),
        &format!("import-all:{run}"),
        FetchKind::Full,
        Trigger::ImportAll,
        Some(run),
    );
    if let Err(e) = ctx.publisher.publish_all(messages).await {
        // Not enqueued: let the next one who sees it try again.
        ctx.store.release_import_read(run).await?;
        return Err(e.into());
    }
    tracing::info!(%tenant_id, sync_run_id = %run, "import-all: full read enqueued");
    Ok(true)
}

/// Reads the imports whose Kombo sync did not finish within `bound` (the
/// process that waited is gone, or Kombo never sent `sync-finished`): what
/// Kombo has is better than nothing. Returns how many were enqueued.
pub async fn read_overdue(ctx: &WorkerContext, bound: Duration) -> Result<usize, ImportError> {
    let mut enqueued = 0;
    for (run, tenant_id) in ctx.store.imports_overdue(bound).await? {
        let tenant = ctx.store.tenant(&tenant_id).await?;
        let Some(integration) = tenant.kombo_integration_id.as_deref() else {
            continue;
        };
        if enqueue_read(ctx, &tenant.id, integration, run).await? {
            tracing::warn!(tenant_id = %tenant.id, sync_run_id = %run, "import-all: Kombo's sync did not finish in time; reading what Kombo has");
            enqueued += 1;
        }
    }
    Ok(enqueued)
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
