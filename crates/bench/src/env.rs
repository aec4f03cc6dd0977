//! What every stage needs: a fresh database and AMQP prefix, the simulator,
//! the receiver, worker processes (their memory measured), machine details.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hris_bus::{AmqpConfig, Connector, Publisher, Topology};
use hris_sim::{SimConfig, SimState};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "bench-webhook-secret";

pub struct Env {
    pub database_url: String,
    pub admin_url: String,
    pub db_name: String,
    pub prefix: String,
    pub amqp_url: String,
    pub store: hris_store::Store,
    pub sim_addr: std::net::SocketAddr,
    pub sim: Arc<SimState>,
    pub receiver_url: String,
    pub connector: Arc<Connector>,
    pub publisher: Publisher,
    pub stop: CancellationToken,
    pub hris_sync: std::path::PathBuf,
    pub http: reqwest::Client,
}

impl Env {
    pub async fn start(
        admin_url: &str,
        amqp_url: &str,
        hris_sync: &std::path::Path,
        debounce: Duration,
    ) -> anyhow::Result<Self> {
        let db_name = format!("hris_bench_{}", uuid::Uuid::new_v4().simple());
        let (client, conn) = tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
        tokio::spawn(conn);
        client
            .batch_execute(&format!("CREATE DATABASE {db_name}"))
            .await?;
        let base = admin_url
            .rsplit_once('/')
            .map(|(b, _)| b)
            .unwrap_or(admin_url);
        let database_url = format!("{base}/{db_name}");
        hris_store::migrate(&database_url, "hris-sync bench").await?;
        let store = hris_store::connect(&database_url, 16, "hris-sync bench")?;
        let prefix = format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let stop = CancellationToken::new();
        let connector = Connector::new(AmqpConfig::new(amqp_url, "bench"), Topology::new(&prefix));
        connector.spawn(stop.child_token());
        anyhow::ensure!(
            connector.wait_connected(Duration::from_secs(20)).await,
            "RabbitMQ unreachable"
        );
        let publisher =
            Publisher::new(connector.clone()).with_confirm_timeout(Duration::from_secs(30));

        let receiver = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let receiver_url = format!("http://{}/webhooks/kombo", receiver.local_addr()?);
        let state = Arc::new(hris_receiver::AppState {
            config: hris_receiver::ReceiverConfig {
                secrets: hris_kombo::WebhookSecrets::from_comma_separated(SECRET),
                max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
            },
            publisher: publisher.clone(),
            metrics: hris_telemetry::metrics_handle(),
        });
        let s = stop.child_token();
        tokio::spawn(hris_receiver::serve(receiver, state, async move {
            s.cancelled().await
        }));

        let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let sim_addr = sim_listener.local_addr()?;
        let sim = Arc::new(SimState::new(SimConfig {
            webhook_url: Some(receiver_url.clone()),
            webhook_secret: SECRET.to_owned(),
            debounce,
            public_url: format!("http://{sim_addr}"),
            ..SimConfig::default()
        }));
        let s = stop.child_token();
        tokio::spawn(hris_sim::serve(sim_listener, sim.clone(), async move {
            s.cancelled().await
        }));
        Ok(Self {
            database_url,
            admin_url: admin_url.to_owned(),
            db_name,
            prefix,
            amqp_url: amqp_url.to_owned(),
            store,
            sim_addr,
            sim,
            receiver_url,
            connector,
            publisher,
            stop,
            hris_sync: hris_sync.to_owned(),
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(128)
                .build()?,
        })
    }

    pub fn control(&self, path: &str) -> String {
        format!("http://{}{path}", self.sim_addr)
    }

    /// Creates a simulated company (generation runs off the async threads).
    pub fn add_company(&self, integration: &str, employees: usize, seed: u64) {
        hris_sim::control::add_integration(
            &self.sim,
            hris_sim::control::CreateIntegration {
                integration_id: Some(integration.to_owned()),
                tool: "personio".to_owned(),
                origin_id: None,
                organization_name: None,
                company: hris_sim::CompanySpec {
                    employees,
                    seed,
                    ..hris_sim::CompanySpec::default()
                },
            },
        );
    }

    /// `hris-sync worker --entity all` as its own process.
    pub fn worker(&self, concurrency: usize) -> anyhow::Result<Worker> {
        let child = std::process::Command::new(&self.hris_sync)
            .args(["worker", "--entity", "all"])
            .env("DATABASE_URL", &self.database_url)
            // Enough connections for one busy queue's handlers and the rest.
            .env("DATABASE_POOL_SIZE", (concurrency + 16).to_string())
            .env("AMQP_URL", &self.amqp_url)
            .env("AMQP_PREFIX", &self.prefix)
            .env("KOMBO_API_URL", format!("http://{}/v1", self.sim_addr))
            .env(
                "KOMBO_API_KEY",
                hris_sim::state::read(&self.sim.config).api_key.clone(),
            )
            .env("WORKER_CONCURRENCY", concurrency.to_string())
            .env("WORKER_PREFETCH", (concurrency * 2).to_string())
            .env("METRICS_ADDR", "127.0.0.1:0")
            .env("RUST_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot start {:?} ({e}): build it with `cargo build --release -p hris-sync`",
                    self.hris_sync
                )
            })?;
        Ok(Worker { child })
    }

    /// `sql` names its one column `n`.
    pub async fn count(&self, sql: &str) -> anyhow::Result<i64> {
        Ok(self
            .store
            .client()
            .await?
            .query_one(sql, &[])
            .await?
            .try_get("n")?)
    }

    /// Waits until no fetch is running or pending and the queues are empty.
    pub async fn settle(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut streak = 0;
        while streak < 3 {
            anyhow::ensure!(
                started.elapsed() < timeout,
                "not settled within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
            let busy = self
                .count("SELECT count(*) AS n FROM sync_state WHERE (lease_owner IS NOT NULL AND lease_until > now()) OR rerun_requested IS NOT NULL")
                .await?;
            let queued = self.queued().await?;
            streak = if busy == 0 && queued == 0 {
                streak + 1
            } else {
                0
            };
        }
        Ok(started.elapsed())
    }

    async fn queued(&self) -> anyhow::Result<u32> {
        let channel = self.connector.open_channel().await?;
        let mut total = 0;
        for entity in hris_bus::Entity::ALL {
            let q = channel
                .queue_declare(
                    self.connector.topology().queue(entity).into(),
                    lapin::options::QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    lapin::types::FieldTable::default(),
                )
                .await?;
            total += q.message_count();
        }
        let _ = channel.close(200, "ok".into()).await;
        Ok(total)
    }

    /// Removes the queues and the database.
    pub async fn teardown(self) {
        if let Ok(channel) = self.connector.open_channel().await {
            let _ = self.connector.topology().delete(&channel).await;
        }
        self.stop.cancel();
        drop(self.store);
        if std::env::var_os("BENCH_KEEP_DATABASE").is_some() {
            eprintln!("kept database {}", self.db_name);
            return;
        }
        if let Ok((client, conn)) =
            tokio_postgres::connect(&self.admin_url, tokio_postgres::NoTls).await
        {
            tokio::spawn(conn);
            let _ = client
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.db_name
                ))
                .await;
        }
    }
}

pub struct Worker {
    child: std::process::Child,
}

impl Worker {
    /// Peak resident memory so far (VmHWM), in MiB.
    pub fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    }

    pub fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

impl Drop for Worker {
    /// A stage that fails half-way (`?`) drops its worker without `stop`: kill
    /// it, instead of leaving it consuming the bench's queues (and holding the
    /// bench's output open) after the bench is gone.
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// CPU model, cores, memory, kernel: what the figures were measured on.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map(|kb| format!("{:.0} GiB", kb / 1024.0 / 1024.0))
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM, Linux {}", kernel.trim())
}

/// The p-th percentile (0–100) of sorted samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::Worker;

    #[test]
    fn a_dropped_worker_is_not_left_running() {
        let child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let pid = child.id();
        drop(Worker { child });
        // Reaped by the drop: its /proc entry is gone, not a zombie or a sleeper.
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists(),
            "process {pid} still there"
        );
    }
}
