//! What the mass-change guard's tests share: a scheduler ticking as in
//! production, the counts they assert, a mass termination in the simulator.

use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::stack::Stack;

/// A scheduler ticking every 2 s in the background, as in production.
pub fn spawn_scheduler(stack: &Stack) -> CancellationToken {
    let shutdown = CancellationToken::new();
    let ctx = stack.worker_context("scheduler", Duration::from_secs(10));
    let config = hris_worker::scheduler::SchedulerConfig {
        owner: "scheduler".to_owned(),
        tick: Duration::from_secs(2),
        batch: 50,
    };
    tokio::spawn(hris_worker::scheduler::run(ctx, config, shutdown.clone()));
    shutdown
}

pub struct Counts {
    pub active: i64,
    pub deactivated_targets: i64,
    pub pending: i64,
    /// Status changes the scheduler wrote (its leave-date and grace-period
    /// deactivations), by the cause the store itself records.
    pub by_scheduler: i64,
}

pub async fn counts(stack: &Stack, tenant: &str, targets: &[String]) -> anyhow::Result<Counts> {
    let client = stack.store.client().await?;
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active') AS active,
                    (SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'deactivated'
                        AND kombo_id = ANY($2)) AS deactivated_targets,
                    (SELECT count(*) FROM held_changes WHERE tenant_id = $1 AND state = 'pending') AS pending,
                    (SELECT count(*) FROM change_log WHERE tenant_id = $1 AND field = 'status'
                        AND cause_event_id = $3) AS by_scheduler",
            &[&tenant, &targets, &hris_store::guard::SCHEDULER_CAUSE],
        )
        .await?;
    Ok(Counts {
        active: row.get("active"),
        deactivated_targets: row.get("deactivated_targets"),
        pending: row.get("pending"),
        by_scheduler: row.get("by_scheduler"),
    })
}

/// Terminates `targets` in the simulator with a leave date `days` from
/// today (negative: in the past), announced by webhook unless `silent`.
pub async fn terminate(
    stack: &Stack,
    integration: &str,
    silent: bool,
    days: i64,
    targets: &[String],
) -> anyhow::Result<()> {
    for id in targets {
        stack
            .sim
            .mutate(
                integration,
                json!({"op": "terminate", "employee_id": id, "days_from_today": days, "silent": silent}),
            )
            .await?;
    }
    stack.flush_webhooks().await?;
    Ok(())
}

/// The guard's limit for `active` users at the default threshold of 20 %.
pub fn limit(active: i64) -> i64 {
    (0.2 * active as f64).floor() as i64
}

/// What `hris-sync tenant held` lists as pending.
pub async fn pending_held(stack: &Stack, tenant: &str) -> anyhow::Result<usize> {
    let held: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "held", "--tenant", tenant, "--json"])
            .await?,
    )?;
    Ok(held.as_array().map_or(0, Vec::len))
}

/// `n` of `ids`, spread evenly over them (so over every page of a listing).
pub fn spread(ids: &[&str], n: usize) -> Vec<String> {
    let len = ids.len().max(1);
    ids.iter()
        .enumerate()
        .filter(|(i, _)| i * n / len != (i + 1) * n / len)
        .map(|(_, id)| (*id).to_owned())
        .collect()
}
