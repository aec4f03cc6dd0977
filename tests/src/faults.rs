//! Bad HR data and broken listings: a stack whose simulator serves faults
//! before any worker reads it, and the record issues a tenant has.

use std::time::Duration;

use hris_bus::Entity;
use serde_json::Value;

use crate::stack::Stack;

/// `hris-sync tenant issues --json` (open ones; every one with `all`).
pub async fn issues(stack: &Stack, tenant: &str, all: bool) -> anyhow::Result<Vec<Value>> {
    let mut args = vec!["tenant", "issues", "--tenant", tenant, "--json"];
    if all {
        args.push("--all");
    }
    let out: Value = serde_json::from_str(&stack.cli(&args).await?)?;
    Ok(out.as_array().cloned().unwrap_or_default())
}

/// Starts an in-process worker for every entity once Kombo serves `faults`
/// for the integration.
pub async fn with_faults(
    stack: &mut Stack,
    integration: &str,
    faults: Value,
) -> anyhow::Result<()> {
    stack.sim.set_faults(integration, faults).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await
}

/// The error of the tenant's latest employees sync run.
pub async fn last_run_error(stack: &Stack, tenant: &str) -> anyhow::Result<Option<String>> {
    Ok(stack
        .store
        .client()
        .await?
        .query_opt(
            "SELECT error FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees' ORDER BY started_at DESC LIMIT 1",
            &[&tenant],
        )
        .await?
        .and_then(|r| r.get("error")))
}

/// Dead letters anywhere: waiting in the queue (taken off it) or archived.
pub async fn dead_letters(stack: &Stack) -> anyhow::Result<usize> {
    let archived = stack
        .scalar("SELECT count(*) FROM dead_letters", &[])
        .await?;
    Ok(stack.inspector.dead_letters().await?.len() + usize::try_from(archived)?)
}
