//! The workers: one consumer per entity queue (employees, teams, locations,
//! absences), the integrations consumer, and the sweeper that re-publishes
//! notifications left behind by a fetch that died.

pub mod context;
pub mod dead_letters;
pub mod entity;
pub mod error;
pub mod fetch;
pub mod health;
pub mod import;
pub mod integrations;
pub mod links;
pub mod registry;
pub mod replay;
pub mod scheduler;
pub mod services;
pub mod sweeper;

use std::sync::Arc;

use hris_bus::{Connector, Consumer, ConsumerConfig, Entity, OnFailure, RetryPolicy};
use tokio_util::sync::CancellationToken;

pub use context::{SyncSettings, WorkerContext};
pub use services::{BuildError, DatabaseConfig, Services, ServicesConfig};

/// How consumers are sized.
#[derive(Debug, Clone)]
pub struct Tuning {
    pub prefetch: u16,
    pub concurrency: usize,
    pub policy: RetryPolicy,
    pub shutdown_grace: std::time::Duration,
}

impl Tuning {
    fn consumer(&self, queue: String) -> ConsumerConfig {
        let mut config = ConsumerConfig::new(queue, self.policy.clone());
        config.prefetch = self.prefetch;
        config.concurrency = self.concurrency;
        config.shutdown_grace = self.shutdown_grace;
        config
    }
}

/// Consumes `entities` (and the dead-letter queue when `archive_dead_letters`) until `shutdown`; returns once in-flight work finished
/// (or the grace period ran out).
pub async fn run(
    ctx: WorkerContext,
    connector: Arc<Connector>,
    entities: Vec<Entity>,
    archive_dead_letters: bool,
    tuning: Tuning,
    shutdown: CancellationToken,
) {
    let mut tasks = tokio::task::JoinSet::new();
    if archive_dead_letters {
        let mut config = tuning.consumer(connector.topology().dead_letter_queue());
        config.on_failure = OnFailure::Requeue {
            pause: std::time::Duration::from_secs(1),
        };
        let handler = dead_letters::DeadLetterArchiver { ctx: ctx.clone() };
        let consumer = Consumer::new(config, connector.clone(), handler);
        tasks.spawn(consumer.run(shutdown.clone()));
    }
    for entity in &entities {
        let mut config =
            ConsumerConfig::new(connector.topology().queue(*entity), tuning.policy.clone());
        config.prefetch = tuning.prefetch;
        config.concurrency = tuning.concurrency;
        config.shutdown_grace = tuning.shutdown_grace;
        let shutdown = shutdown.clone();
        match entity.synced() {
            None => {
                let handler = integrations::IntegrationsHandler { ctx: ctx.clone() };
                let consumer = Consumer::new(config, connector.clone(), handler);
                tasks.spawn(consumer.run(shutdown));
            }
            Some(synced) => {
                let handler = entity::EntityHandler {
                    ctx: ctx.clone(),
                    entity: synced,
                };
                let consumer = Consumer::new(config, connector.clone(), handler);
                tasks.spawn(consumer.run(shutdown));
            }
        }
    }
    if entities.iter().any(|e| e.synced().is_some()) {
        tasks.spawn(sweeper::run(ctx.clone(), shutdown.clone()));
    }
    while tasks.join_next().await.is_some() {}
}
