//! The whole service in one test: its own database, AMQP prefix, simulator
//! (sending signed webhooks to a real receiver) and in-process workers, each
//! with its own broker connection so a test can cut one off.

use std::sync::Arc;
use std::time::Duration;

use hris_bus::{
    AmqpConfig, Connector, Entity, Envelope, FetchKind, Publisher, RetryPolicy, Topology, Trigger,
};
use hris_sim::SimConfig;
use hris_store::Store;
use hris_worker::{SyncSettings, Tuning, WorkerContext};
use tokio_util::sync::CancellationToken;

use crate::bus::{Inspector, Receiver, SECRET};
use crate::{Sim, TestDb};

pub struct Stack {
    pub db: TestDb,
    pub store: Store,
    pub sim: Sim,
    pub receiver: Receiver,
    pub inspector: Inspector,
    pub prefix: String,
    pub publisher: Publisher,
    pub workers: Vec<Worker>,
    /// `FETCH_DEADLINE_SECS` of the workers this stack starts from now on.
    pub fetch_deadline: Duration,
    /// How often those workers may read Kombo's integration health per tenant.
    pub health_refresh: Duration,
}

/// One in-process worker.
pub struct Worker {
    pub owner: String,
    pub connection_name: String,
    pub shutdown: CancellationToken,
    pub task: tokio::task::JoinHandle<()>,
}

impl Worker {
    /// Dies abruptly: its tasks stop mid-fetch and the broker sees its
    /// connection drop (unacked messages are redelivered).
    pub async fn kill(self) {
        self.task.abort();
        let _ = self.task.await;
        let _ = crate::bus::close_connections_named(&self.connection_name).await;
    }
}

/// Short retry delays for tests (the tiers keep their shape).
pub fn test_policy() -> RetryPolicy {
    RetryPolicy::new([0.3, 0.6, 1.0].map(Duration::from_secs_f64).to_vec(), 4)
}

impl Stack {
    pub async fn start() -> anyhow::Result<Self> {
        let db = TestDb::migrated().await?;
        let store = db.store();
        let prefix = crate::amqp_prefix();
        let receiver = Receiver::start(&prefix).await?;
        let inspector = Inspector::connect(&prefix).await?;
        let sim = Sim::start(SimConfig {
            webhook_url: Some(receiver.url("/webhooks/kombo")),
            webhook_secret: SECRET.to_owned(),
            debounce: Duration::from_millis(50),
            ..SimConfig::default()
        })
        .await?;
        let publisher = Publisher::new(receiver.connector.clone());
        Ok(Self {
            db,
            store,
            sim,
            receiver,
            inspector,
            prefix,
            publisher,
            workers: Vec::new(),
            fetch_deadline: SyncSettings::new("").fetch_deadline,
            health_refresh: SyncSettings::new("").health_refresh,
        })
    }

    /// A tenant linked to a fresh simulated company. Its deactivation grace
    /// is zero, so that the tests written for the guard and leavers see a
    /// deletion act at once; the identity tests set the grace they test.
    pub async fn tenant(
        &self,
        tenant_id: &str,
        employees: usize,
        seed: u64,
    ) -> anyhow::Result<String> {
        let integration = format!("personio:{tenant_id}");
        self.sim
            .add_integration(&integration, employees, seed)
            .await?;
        self.store
            .add_tenant(&tenant_id.into(), tenant_id, Some(&integration))
            .await?;
        self.store
            .set_tenant_setting(&tenant_id.into(), "deactivation_grace_seconds", "0")
            .await?;
        Ok(integration)
    }

    pub fn worker_context(&self, owner: &str, lease_ttl: Duration) -> WorkerContext {
        let mut settings = SyncSettings::new(owner);
        settings.lease_ttl = lease_ttl;
        settings.watermark_overlap = Duration::from_secs(1);
        settings.sweep_interval = Duration::from_millis(300);
        settings.fetch_deadline = self.fetch_deadline;
        settings.health_refresh = self.health_refresh;
        let name = format!("{owner}-publisher");
        // The composition root every role uses, on this test's database.
        hris_worker::Services::with_store(
            self.db.store(),
            hris_worker::ServicesConfig {
                amqp: AmqpConfig::new(crate::amqp_url(), name),
                topology: self.topology(),
                kombo: self.sim.client_config(),
                settings,
            },
        )
        .unwrap_or_else(|e| panic!("services: {e}"))
        .ctx
    }

    fn topology(&self) -> Topology {
        let mut topology = Topology::new(&self.prefix);
        topology.retry_delays = test_policy().delays;
        topology
    }

    fn connector(&self, name: &str) -> Arc<Connector> {
        Connector::new(AmqpConfig::new(crate::amqp_url(), name), self.topology())
    }

    /// Starts a worker consuming `entities`.
    pub async fn spawn_worker(
        &mut self,
        entities: &[Entity],
        lease_ttl: Duration,
    ) -> anyhow::Result<()> {
        self.spawn_worker_with(entities, false, lease_ttl).await
    }

    /// Starts a worker consuming `entities`, and archiving dead letters if `archive`.
    pub async fn spawn_worker_with(
        &mut self,
        entities: &[Entity],
        archive: bool,
        lease_ttl: Duration,
    ) -> anyhow::Result<()> {
        let owner = crate::unique_name("w");
        let ctx = self.worker_context(&owner, lease_ttl);
        let connection_name = format!("{owner}-consumer");
        let connector = self.connector(&connection_name);
        let shutdown = CancellationToken::new();
        let publisher_connector = ctx.publisher.connector().clone();
        let connection = connector.spawn(shutdown.clone());
        let publisher_connection = publisher_connector.spawn(shutdown.clone());
        anyhow::ensure!(
            connector.wait_connected(Duration::from_secs(10)).await,
            "worker did not connect"
        );
        anyhow::ensure!(
            publisher_connector
                .wait_connected(Duration::from_secs(10))
                .await,
            "worker publisher did not connect"
        );
        let tuning = Tuning {
            prefetch: 8,
            concurrency: 4,
            policy: test_policy(),
            shutdown_grace: Duration::from_secs(5),
        };
        let entities = entities.to_vec();
        let stop = shutdown.clone();
        let task = tokio::spawn(async move {
            hris_worker::run(ctx, connector, entities, archive, tuning, stop).await;
            let _ = connection.await;
            let _ = publisher_connection.await;
        });
        self.workers.push(Worker {
            owner,
            connection_name,
            shutdown,
            task,
        });
        Ok(())
    }

    /// Runs `hris-sync ARGS` against this stack (database, broker, simulator as
    /// Kombo); returns its stdout, failing on a non-zero exit.
    pub async fn cli(&self, args: &[&str]) -> anyhow::Result<String> {
        let (code, stdout, stderr) = self.cli_status(args).await?;
        anyhow::ensure!(code == Some(0), "hris-sync {args:?}: {stderr}");
        Ok(stdout)
    }

    /// `hris-sync ARGS` against this stack, whatever its exit: code, stdout, stderr.
    pub async fn cli_status(&self, args: &[&str]) -> anyhow::Result<(Option<i32>, String, String)> {
        let out = tokio::process::Command::new(crate::hris_sync_bin())
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("AMQP_URL", crate::amqp_url())
            .env("AMQP_PREFIX", &self.prefix)
            .env("KOMBO_API_URL", self.sim.api_url())
            .env("KOMBO_API_KEY", self.sim.api_key())
            .env("RUST_LOG", "warn")
            .output()
            .await?;
        Ok((
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }

    /// A stack with one tenant's company imported by a worker that keeps running.
    pub async fn imported(
        tenant: &str,
        employees: usize,
        seed: u64,
    ) -> anyhow::Result<(Self, String)> {
        let mut stack = Self::start().await?;
        let integration = stack.tenant(tenant, employees, seed).await?;
        stack
            .spawn_worker(&Entity::ALL, Duration::from_secs(10))
            .await?;
        stack.request_sync(tenant, FetchKind::Full).await?;
        // A bound, not a wait: large companies (10,000 people) need longer.
        let limit = 60 + u64::try_from(employees / 100).unwrap_or(u64::MAX);
        stack.settle(Duration::from_secs(limit)).await?;
        Ok((stack, integration))
    }

    /// A user's status and deactivation reason.
    pub async fn user_status(
        &self,
        tenant: &str,
        kombo_id: &str,
    ) -> anyhow::Result<(String, Option<String>)> {
        let client = self.store.client().await?;
        let r = client
            .query_one(
                "SELECT status, deactivation_reason FROM users WHERE tenant_id = $1 AND kombo_id = $2",
                &[&tenant, &kombo_id],
            )
            .await?;
        Ok((r.get(0), r.get(1)))
    }

    /// `hris-sync worker --entity all` as a separate process on this stack,
    /// with `env` added (a test can SIGKILL or SIGTERM it).
    pub fn worker_process(&self, env: &[(&str, &str)]) -> anyhow::Result<tokio::process::Child> {
        Ok(self.worker_command(env).spawn()?)
    }

    /// The command `worker_process` runs, for a test to adjust (e.g. capture stderr).
    pub fn worker_command(&self, env: &[(&str, &str)]) -> tokio::process::Command {
        self.role_command(&["worker", "--entity", "all"], env)
    }

    /// `hris-sync ARGS` as a long-running role (worker, scheduler, receiver) on
    /// this stack, killed when dropped.
    pub fn role_command(&self, args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(crate::hris_sync_bin());
        command
            .args(args)
            .env("DATABASE_URL", &self.db.url)
            .env("AMQP_URL", crate::amqp_url())
            .env("AMQP_PREFIX", &self.prefix)
            .env("KOMBO_API_URL", self.sim.api_url())
            .env("KOMBO_API_KEY", self.sim.api_key())
            .env("RETRY_DELAYS", "0.3,0.6,1")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true);
        for (k, v) in env {
            command.env(k, v);
        }
        command
    }

    /// Publishes a sync of every entity for a tenant, as "Import all" will.
    pub async fn request_sync(&self, tenant_id: &str, kind: FetchKind) -> anyhow::Result<()> {
        let tenant = self.store.tenant(&tenant_id.into()).await?;
        let mut messages = Vec::new();
        for entity in hris_bus::SyncedEntity::ALL {
            let mut envelope = Envelope::new(
                crate::unique_name("sync"),
                tenant.kombo_integration_id.clone(),
                Entity::from(*entity),
                kind,
                Trigger::ImportAll,
            );
            envelope.tenant_id = Some(tenant.id.clone());
            messages.push(hris_bus::Outgoing::event(&self.publisher, envelope));
        }
        self.publisher.publish_all(messages).await?;
        Ok(())
    }

    /// Flushes the simulator's pending (debounced) webhooks now.
    pub async fn flush_webhooks(&self) -> anyhow::Result<()> {
        let r = self
            .sim
            .http
            .post(self.sim.control("/_sim/webhooks/flush"))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "flush: {}", r.status());
        Ok(())
    }

    /// Runs one SQL query returning a single i64.
    pub async fn count(&self, sql: &str, tenant_id: &str) -> anyhow::Result<i64> {
        self.scalar(sql, &[&tenant_id]).await
    }

    /// Runs one SQL query, with any parameters, returning a single i64.
    pub async fn scalar(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> anyhow::Result<i64> {
        let client = self.store.client().await?;
        Ok(client.query_one(sql, params).await?.get(0))
    }

    /// Whether every fetch is done: no lease held, no rerun pending, no message
    /// waiting in an entity or delay queue.
    pub async fn idle(&self) -> anyhow::Result<bool> {
        let client = self.store.client().await?;
        let busy: i64 = client
            .query_one(
                "SELECT count(*) FROM sync_state WHERE (lease_owner IS NOT NULL AND lease_until > now()) OR rerun_requested IS NOT NULL",
                &[],
            )
            .await?
            .get(0);
        if busy > 0 || self.inspector.total_depth().await? > 0 {
            return Ok(false);
        }
        for tier in 0..test_policy().delays.len() {
            if self
                .inspector
                .depth(&self.inspector.topology().delay(tier))
                .await?
                > 0
            {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Waits until `idle` holds three times in a row (a message between queue
    /// and claim is invisible for an instant).
    pub async fn settle(&self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut streak = 0;
        while streak < 3 {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "not idle within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
            streak = if self.idle().await? { streak + 1 } else { 0 };
        }
        Ok(())
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for worker in &self.workers {
            worker.shutdown.cancel();
            worker.task.abort();
        }
    }
}

/// A scheduler that claims few tenants per transaction (more rounds, more races).
pub fn scheduler_config(owner: &str) -> hris_worker::scheduler::SchedulerConfig {
    hris_worker::scheduler::SchedulerConfig {
        owner: owner.to_owned(),
        tick: Duration::from_secs(1),
        batch: 7,
    }
}

/// Polls `check` until it is true.
pub async fn eventually<F, Fut>(what: &str, timeout: Duration, mut check: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await? {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
