//! "Import all": ask Kombo to refresh from the HR system, and start a full sync
//! of every entity now under one umbrella sync run.

use hris_bus::{BusError, FetchKind, Trigger};
use hris_store::{IntegrationState, StoreError, Tenant};
use uuid::Uuid;

use crate::context::WorkerContext;
use crate::integrations::sync_messages;

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

#[derive(Debug, Clone, PartialEq)]
pub struct ImportStarted {
    pub sync_run_id: Uuid,
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// Kombo's answer to the refresh request (`Err`: the sync still runs on
    /// what Kombo has; its `sync-finished` catch-up will not come).
    pub force_sync: Result<(), RefreshRefused>,
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
        .force_sync(&integration)
        .await
        .map(|_| ())
        .map_err(|e| RefreshRefused::from(&e));
    if let Err(e) = &force_sync {
        tracing::warn!(tenant_id = %tenant.id, error = %e, "Kombo refused the refresh; syncing what it has");
    }
    let messages = sync_messages(
        ctx,
        &tenant.id,
        Some(&integration),
        &format!("import-all:{run}"),
        FetchKind::Full,
        Trigger::ImportAll,
        Some(run),
    );
    ctx.publisher.publish_all(messages).await?;
    tracing::info!(tenant_id = %tenant.id, sync_run_id = %run, "import-all started");
    Ok(ImportStarted {
        sync_run_id: run,
        started_at,
        force_sync,
    })
}
