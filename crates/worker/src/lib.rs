//! The workers: one consumer per entity queue (employees, teams, locations,
//! absences), the integrations consumer, and the sweeper that re-publishes
//! notifications left behind by a fetch that died.

pub mod context;
pub mod entity;
pub mod failure;
pub mod fetch;
pub mod integrations;
pub mod sweeper;

use std::sync::Arc;

use hris_bus::{Connector, Consumer, ConsumerConfig, Entity, RetryPolicy};
use tokio_util::sync::CancellationToken;

pub use context::{SyncSettings, WorkerContext};

/// How consumers are sized.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub prefetch: u16,
    pub concurrency: usize,
    pub policy: RetryPolicy,
    pub shutdown_grace: std::time::Duration,
}

/// Consumes `entities` until `shutdown`; returns once in-flight work finished
/// (or the grace period ran out).
pub async fn run(
    ctx: WorkerContext,
    connector: Arc<Connector>,
    entities: Vec<Entity>,
    tuning: Tuning,
    shutdown: CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    for entity in &entities {
        let mut config =
            ConsumerConfig::new(connector.topology().queue(*entity), tuning.policy.clone());
        config.prefetch = tuning.prefetch;
        config.concurrency = tuning.concurrency;
        config.shutdown_grace = tuning.shutdown_grace;
        let shutdown = shutdown.clone();
        match entity {
            Entity::Integrations => {
                let handler = integrations::IntegrationsHandler { ctx: ctx.clone() };
                let consumer = Consumer::new(config, connector.clone(), handler);
                tasks.spawn(consumer.run(shutdown));
            }
            _ => {
                let handler = entity::EntityHandler {
                    ctx: ctx.clone(),
                    entity: *entity,
                };
                let consumer = Consumer::new(config, connector.clone(), handler);
                tasks.spawn(consumer.run(shutdown));
            }
        }
    }
    if entities.iter().any(|e| *e != Entity::Integrations) {
        tasks.spawn(sweeper::run(ctx.clone(), shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
}
