//! Test harness: every test gets its own PostgreSQL database, its own AMQP prefix
//! and its own simulator, so tests run in parallel without seeing each other.
//! The services are the real local ones (PostgreSQL on 127.0.0.1:5432, RabbitMQ on
//! 127.0.0.1:5672); `TEST_DATABASE_URL` / `TEST_AMQP_URL` point elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hris_sim::{SimConfig, SimState};

pub mod admin;
pub mod broker;
pub mod browser;
pub mod burst;
pub mod bus;
pub mod chaos;
pub mod cluster;
pub mod conformance;
pub mod faults;
pub mod guard;
pub mod metrics;
pub mod openapi;
pub mod people;
pub mod privacy;
pub mod receiver_process;
pub mod stack;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test in this run.
pub fn unique_name(kind: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tag = uuid::Uuid::new_v4().simple().to_string();
    format!("{kind}_{}_{n}_{}", std::process::id(), &tag[..8])
}

pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

pub fn amqp_url() -> String {
    if let Some(url) = AMQP_OVERRIDE.get() {
        return url.clone();
    }
    std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

static AMQP_OVERRIDE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Points this test process at another broker (each test runs in its own
/// process under nextest), e.g. a private node it may stop and start.
pub fn use_amqp_url(url: &str) {
    let _ = AMQP_OVERRIDE.set(url.to_owned());
}

/// An AMQP prefix no other test uses.
pub fn amqp_prefix() -> String {
    unique_name("t")
}

/// `url` with its database replaced by `name`, its parameters (`sslmode`, …) kept.
pub fn database_url_for(url: &str, name: &str) -> anyhow::Result<String> {
    let (path, query) = match url.split_once('?') {
        Some((path, query)) => (path, format!("?{query}")),
        None => (url, String::new()),
    };
    match path.rsplit_once('/') {
        Some((base, _)) => Ok(format!("{base}/{name}{query}")),
        None => anyhow::bail!("TEST_DATABASE_URL has no database part"),
    }
}

/// A fresh, empty database, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn create() -> anyhow::Result<Self> {
        let name = unique_name("hris_test");
        let admin = admin_database_url();
        let (client, driver) = hris_store::connect_one(&admin, "hris-sync tests").await?;
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await?;
        drop(client);
        let _ = driver.await;
        let url = database_url_for(&admin, &name)?;
        Ok(Self { name, url })
    }

    /// A fresh database with the schema applied.
    pub async fn migrated() -> anyhow::Result<Self> {
        let db = Self::create().await?;
        hris_store::migrate(&db.url, "hris-sync tests").await?;
        Ok(db)
    }

    pub fn store(&self) -> hris_store::Store {
        hris_store::connect(&self.url, 8, "hris-sync tests")
            .unwrap_or_else(|e| panic!("pool for {}: {e}", self.name))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::env::var_os("KEEP_TEST_DATABASES").is_some() {
            return;
        }
        let name = self.name.clone();
        run_detached(async move {
            if let Ok((client, _driver)) =
                hris_store::connect_one(&admin_database_url(), "hris-sync tests").await
            {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            }
        });
    }
}

/// Runs teardown work from a `Drop`, which may itself run inside a runtime: on a
/// thread of its own with its own runtime, bounded to 10 s, and waited for.
pub fn run_detached(work: impl std::future::Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(10), work).await;
        });
    })
    .join();
}

/// A simulator on an ephemeral port.
pub struct Sim {
    pub addr: SocketAddr,
    pub state: Arc<SimState>,
    pub http: reqwest::Client,
}

impl Sim {
    pub async fn start(mut config: SimConfig) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        config.public_url = format!("http://{addr}");
        let state = Arc::new(SimState::new(config));
        let serve_state = state.clone();
        tokio::spawn(async move {
            let _ = hris_sim::serve(listener, serve_state, std::future::pending()).await;
        });
        Ok(Self {
            addr,
            state,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    /// The Kombo API base URL (ends in `/v1`), as `KOMBO_API_URL` would be.
    pub fn api_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    pub fn api_key(&self) -> String {
        hris_sim::state::read(&self.state.config).api_key.clone()
    }

    pub fn control(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Creates an integration with a seeded company of `employees` people.
    pub async fn add_integration(
        &self,
        integration_id: &str,
        employees: usize,
        seed: u64,
    ) -> anyhow::Result<()> {
        let body = serde_json::json!({
            "integration_id": integration_id,
            "company": { "employees": employees, "seed": seed },
        });
        let r = self
            .http
            .post(self.control("/_sim/integrations"))
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "creating integration: {}",
            r.status()
        );
        Ok(())
    }

    pub async fn set_faults(
        &self,
        integration_id: &str,
        faults: serde_json::Value,
    ) -> anyhow::Result<()> {
        let r = self
            .http
            .put(self.control(&format!("/_sim/integrations/{integration_id}/faults")))
            .json(&faults)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "setting faults: {}", r.status());
        Ok(())
    }

    pub async fn mutate(
        &self,
        integration_id: &str,
        mutation: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let r = self
            .http
            .post(self.control(&format!("/_sim/integrations/{integration_id}/mutations")))
            .json(&mutation)
            .send()
            .await?;
        anyhow::ensure!(
            r.status().is_success(),
            "mutation failed: {} {}",
            r.status(),
            r.text().await.unwrap_or_default()
        );
        Ok(r.json().await?)
    }

    pub async fn stats(&self, integration_id: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .http
            .get(self.control(&format!("/_sim/integrations/{integration_id}/stats")))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Requests the simulator served for an integration, over every endpoint
    /// (its stats count them per endpoint).
    pub async fn requests(&self, integration_id: &str) -> anyhow::Result<u64> {
        let stats = self.stats(integration_id).await?;
        Ok(stats["requests"]
            .as_object()
            .map(|m| m.values().filter_map(serde_json::Value::as_u64).sum())
            .unwrap_or(0))
    }

    /// Calls of Kombo's non-listing endpoints (`relink`, `create-link`,
    /// `force-sync`, `enabled`, `integration`, …) by endpoint.
    pub async fn actions(&self) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .http
            .get(self.control("/_sim/actions"))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Calls of one non-listing endpoint (0 when never called).
    pub async fn action_count(&self, endpoint: &str) -> anyhow::Result<u64> {
        Ok(self.actions().await?[endpoint].as_u64().unwrap_or(0))
    }

    /// Sends `body` to a control endpoint (`POST` or `PUT`); its JSON answer
    /// (`null` when it has none).
    /// Kombo's next sync ends `finish_delay_ms` after it is asked for, and
    /// brings one hire ("Staged Hire") that no read sees before it ends.
    pub async fn slow_sync_with_a_staged_hire(
        &self,
        integration: &str,
        finish_delay_ms: u64,
    ) -> anyhow::Result<()> {
        self.control_call(
            reqwest::Method::PUT,
            &format!("/_sim/integrations/{integration}/sync"),
            serde_json::json!({ "finish_delay_ms": finish_delay_ms }),
        )
        .await?;
        self.control_call(
            reqwest::Method::POST,
            &format!("/_sim/integrations/{integration}/staged"),
            serde_json::json!({ "op": "hire", "job_title": "Staged Hire", "start_in_days": -1 }),
        )
        .await?;
        Ok(())
    }

    pub async fn control_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        let r = self
            .http
            .request(method, self.control(path))
            .json(&body)
            .send()
            .await?;
        let status = r.status();
        let text = r.text().await?;
        anyhow::ensure!(status.is_success(), "{path}: {status} {text}");
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    }

    /// A Kombo client pointed at this simulator.
    pub fn client(&self) -> hris_kombo::KomboClient {
        hris_kombo::KomboClient::new(self.client_config()).unwrap_or_else(|e| panic!("client: {e}"))
    }

    /// A client of this simulator with short backoffs (tests wait less).
    pub fn client_config(&self) -> hris_kombo::KomboClientConfig {
        let mut config = hris_kombo::KomboClientConfig::new(self.api_url(), self.api_key());
        config.min_backoff = Duration::from_millis(5);
        config.max_backoff = Duration::from_millis(50);
        config.max_retries = 10;
        config
    }
}

/// The `hris-sync` binary built beside the test executables
/// (`scripts/test` builds it before running the tests).
pub fn hris_sync_bin() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current exe: {e}"));
    // target/<profile>/deps/<test> → target/<profile>/hris-sync
    let dir = exe
        .parent()
        .and_then(|d| d.parent())
        .unwrap_or_else(|| panic!("unexpected test path {exe:?}"));
    let bin = dir.join("hris-sync");
    assert!(
        bin.exists(),
        "{bin:?} is missing: run the tests with scripts/test (or `cargo build -p hris-sync` first)"
    );
    bin
}
