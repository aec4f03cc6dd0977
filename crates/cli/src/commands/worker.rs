use std::time::Duration;

use anyhow::Context;
use hris_bus::{Connector, Entity, RetryPolicy, Topology};
use hris_worker::scheduler::SchedulerConfig;
use hris_worker::{Services, SyncSettings, Tuning, WorkerContext};
use tokio_util::sync::CancellationToken;

use crate::args::RoleArgs;

/// What `worker --entity` consumes: one queue, the dead letters, or all of
/// them. A typo is a usage error listing these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkerRole {
    Employees,
    Teams,
    Locations,
    Absences,
    Integrations,
    DeadLetters,
    All,
}

impl WorkerRole {
    /// The queues it consumes, and whether it archives dead letters.
    pub fn queues(self) -> (Vec<Entity>, bool) {
        let one = |entity| (vec![entity], false);
        match self {
            WorkerRole::Employees => one(Entity::Employees),
            WorkerRole::Teams => one(Entity::Teams),
            WorkerRole::Locations => one(Entity::Locations),
            WorkerRole::Absences => one(Entity::Absences),
            WorkerRole::Integrations => one(Entity::Integrations),
            WorkerRole::DeadLetters => (Vec::new(), true),
            WorkerRole::All => (Entity::ALL.to_vec(), true),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            WorkerRole::DeadLetters => "dead-letters",
            WorkerRole::All => "all",
            other => other.queues().0[0].as_str(),
        }
    }
}

/// The pieces a worker process runs on, built from the environment.
pub struct WorkerSetup {
    pub ctx: WorkerContext,
    pub connector: std::sync::Arc<Connector>,
    pub tuning: Tuning,
}

pub fn setup(role_args: &RoleArgs, role: &str) -> anyhow::Result<WorkerSetup> {
    let RoleArgs {
        db,
        amqp,
        kombo,
        worker: args,
        ..
    } = role_args;
    let delays = args.retry_delays.0.clone();
    let mut topology = Topology::new(&amqp.amqp_prefix);
    topology.retry_delays = delays.clone();
    let host = &args.instance_name;
    let mut settings = SyncSettings::new(format!(
        "{host}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    ));
    settings.lease_ttl = args.fetch_lease;
    settings.fetch_deadline = args.fetch_deadline;
    settings.watermark_overlap = args.watermark_overlap;
    let Services { ctx, connector } =
        crate::services::build(role, db, amqp, kombo, topology, settings)?;
    let tuning = Tuning {
        prefetch: args.prefetch,
        concurrency: args.concurrency,
        policy: RetryPolicy::new(delays, args.retry_max_attempts),
        shutdown_grace: args.shutdown_grace,
    };
    Ok(WorkerSetup {
        ctx,
        connector,
        tuning,
    })
}

/// A role that is up: connected to the broker (in the background), the
/// database checked, `/metrics` served. `stop` is the roles' own token.
pub struct Running {
    pub setup: WorkerSetup,
    pub stop: CancellationToken,
    connection_stop: CancellationToken,
    connection: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(role: &RoleArgs, name: &str, serve_ops: bool) -> anyhow::Result<Self> {
        let setup = setup(role, name)?;
        setup
            .ctx
            .store
            .ping()
            .await
            .context("cannot reach PostgreSQL at start")?;
        let connection_stop = CancellationToken::new();
        let connection = setup.connector.spawn(connection_stop.clone());
        if serve_ops {
            crate::commands::ops::spawn(
                &role.metrics_addr,
                setup.ctx.clone(),
                connection_stop.child_token(),
            );
        }
        Ok(Self {
            setup,
            stop: CancellationToken::new(),
            connection_stop,
            connection,
        })
    }

    /// The scheduler's settings for this process.
    pub fn scheduler_config(&self, tick: Duration) -> SchedulerConfig {
        SchedulerConfig {
            owner: self.setup.ctx.settings.owner.clone(),
            tick,
            batch: 100,
        }
    }

    /// Waits for SIGTERM, stops the roles (they finish in-flight work), then
    /// closes the broker connection: in that order, so nothing is cut short.
    pub async fn until_signal(self, roles: Vec<tokio::task::JoinHandle<()>>) {
        hris_telemetry::shutdown_signal().await;
        tracing::info!("shutting down: finishing in-flight work");
        self.stop.cancel();
        for role in roles {
            let _ = role.await;
        }
        self.connection_stop.cancel();
        let _ = self.connection.await;
    }
}

pub async fn run(worker: WorkerRole, role: RoleArgs) -> anyhow::Result<()> {
    let (entities, archive) = worker.queues();
    let entity = worker.as_str();
    let running = Running::start(&role, &format!("worker {entity}"), true).await?;
    let setup = &running.setup;
    let work = tokio::spawn(hris_worker::run(
        setup.ctx.clone(),
        setup.connector.clone(),
        entities,
        archive,
        setup.tuning.clone(),
        running.stop.clone(),
    ));
    tracing::info!(entity, "worker started");
    running.until_signal(vec![work]).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::*;

    #[test]
    fn every_queue_has_a_worker_role_of_its_name() {
        let consumed: Vec<Entity> = WorkerRole::value_variants()
            .iter()
            .filter(|r| !matches!(r, WorkerRole::All | WorkerRole::DeadLetters))
            .map(|r| r.queues().0[0])
            .collect();
        assert_eq!(consumed, Entity::ALL.to_vec());
        for role in WorkerRole::value_variants() {
            let name = role.to_possible_value().map(|v| v.get_name().to_owned());
            assert_eq!(name.as_deref(), Some(role.as_str()));
        }
    }
}
