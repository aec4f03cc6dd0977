//! Configuration shared by several commands, read from the environment.

use std::time::Duration;

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::duration;

pub use crate::tenant_args::{DecideArgs, IdentityAction, TenantCommand, TenantKombo};

#[derive(Args, Clone, Debug)]
pub struct DatabaseArgs {
    /// PostgreSQL, e.g. postgres://postgres@127.0.0.1:5432/hris_sync?sslmode=verify-full.
    /// sslmode: disable, prefer (the default), require (encrypted, certificate not
    /// checked), verify-ca (chain checked), verify-full (chain and host name);
    /// sslrootcert=/path/ca.pem (PEM) for the verifying modes, else the system's roots.
    /// application_name defaults to "hris-sync ROLE".
    #[arg(long, env = "DATABASE_URL", hide_env_values = true, value_parser = secret)]
    pub database_url: SecretString,
    /// Connections in this process's pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,
}

impl DatabaseArgs {
    /// The pool of a one-shot CLI command (`application_name` "hris-sync cli").
    pub fn store(&self) -> anyhow::Result<hris_store::Store> {
        self.store_for("cli")
    }

    /// The pool of a role: `application_name` "hris-sync ROLE" (e.g. "hris-sync
    /// worker employees"), so `pg_stat_activity` tells the roles apart.
    pub fn store_for(&self, role: &str) -> anyhow::Result<hris_store::Store> {
        Ok(hris_store::connect(
            self.database_url.expose_secret(),
            self.database_pool_size,
            &application_name(role),
        )?)
    }
}

/// A secret setting: kept out of every `Debug` (URLs carry passwords).
fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// `application_name` of a role's connections, unless DATABASE_URL sets one.
pub fn application_name(role: &str) -> String {
    format!("hris-sync {role}")
}

/// Who takes a decision, for the audit record.
#[derive(Args, Clone, Debug)]
pub struct ActorArgs {
    /// Who decides, as recorded in the audit trail.
    #[arg(long, env = "USER", default_value = "unknown")]
    pub actor: String,
}

fn retry_delays(text: &str) -> Result<RetryDelays, duration::DurationError> {
    duration::list(text).map(RetryDelays)
}

/// A number no smaller than `min`: a smaller one is a usage error, never
/// silently raised to the minimum.
pub fn at_least(
    min: f64,
) -> impl Fn(&str) -> Result<f64, NumberBelow> + Clone + Send + Sync + 'static {
    move |text| match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= min => Ok(value),
        _ => Err(NumberBelow(min)),
    }
}

/// A number that is not one, or is below the minimum.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("a number, at least {0}")]
pub struct NumberBelow(f64);

#[derive(Args, Clone, Debug)]
pub struct SimArgs {
    /// Address the simulator listens on.
    #[arg(long, env = "SIM_ADDR", default_value = "127.0.0.1:8090")]
    pub listen: String,
    /// The API key clients must send (KOMBO_API_KEY on their side).
    #[arg(
        long,
        env = "SIM_API_KEY",
        default_value = "sim-api-key",
        hide_env_values = true
    )]
    pub api_key: String,
    /// Where to send signed webhooks, e.g. http://127.0.0.1:8080/webhooks/kombo
    #[arg(long, env = "SIM_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// Secret the webhooks are signed with (one of KOMBO_WEBHOOK_SECRETS on the receiving side).
    #[arg(
        long,
        env = "SIM_WEBHOOK_SECRET",
        default_value = "sim-webhook-secret",
        hide_env_values = true
    )]
    pub webhook_secret: String,
    /// Debounce of data-changed webhooks per integration, in milliseconds (Kombo: 30 s).
    #[arg(long, env = "SIM_DEBOUNCE_MS", default_value_t = 30_000)]
    pub debounce_ms: u64,
    /// Integrations to create at start: ID=EMPLOYEES[:ORIGIN_ID], e.g. personio:acme=2000:tenant-1
    #[arg(long = "integration")]
    pub integrations: Vec<String>,
}

#[derive(Args, Clone, Debug)]
pub struct AmqpArgs {
    /// RabbitMQ, e.g. amqp://guest:guest@127.0.0.1:5672/%2f. For a cluster, list
    /// its nodes comma-separated: every (re)connect tries them in turn.
    #[arg(long, env = "AMQP_URL", hide_env_values = true, value_parser = secret)]
    pub amqp_url: SecretString,
    /// Prefix of every exchange and queue name (isolates environments and tests).
    #[arg(long, env = "AMQP_PREFIX", default_value = "hris")]
    pub amqp_prefix: String,
}

#[derive(Args, Clone, Debug)]
pub struct ReceiverArgs {
    /// Listen address of the webhook endpoint.
    #[arg(long, env = "HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: String,
    /// Comma-separated webhook secrets; any one may sign (rotation).
    #[arg(long, env = "KOMBO_WEBHOOK_SECRETS", hide_env_values = true, value_parser = secret)]
    pub kombo_webhook_secrets: SecretString,
    /// How long a request's head (request line and headers) may take to
    /// arrive; also bounds how long a keep-alive connection waits for its next
    /// request. Seconds, or with a unit (10s, 1m).
    #[arg(long = "http-header-read-timeout-secs", env = "HTTP_HEADER_READ_TIMEOUT_SECS", default_value = "10", value_parser = duration::positive)]
    pub http_header_read_timeout: Duration,
    /// How long a request body may take to arrive in full (then 408).
    #[arg(long = "http-body-read-timeout-secs", env = "HTTP_BODY_READ_TIMEOUT_SECS", default_value = "15", value_parser = duration::positive)]
    pub http_body_read_timeout: Duration,
    /// How long a keep-alive connection may stay idle between requests.
    #[arg(long = "http-idle-timeout-secs", env = "HTTP_IDLE_TIMEOUT_SECS", default_value = "5", value_parser = duration::positive)]
    pub http_idle_timeout: Duration,
    /// Connections open at once; further ones wait in the listen backlog
    /// (lowered to fit the open files limit).
    #[arg(long, env = "HTTP_MAX_CONNECTIONS", default_value_t = 4096)]
    pub http_max_connections: usize,
    /// Webhooks publishing at once (once read and verified); beyond it, 503
    /// with Retry-After.
    #[arg(long, env = "HTTP_MAX_CONCURRENT_REQUESTS", default_value_t = 512)]
    pub http_max_concurrent_requests: usize,
    /// How long a whole request (body and handling) may take (then 503).
    #[arg(long = "http-request-timeout-secs", env = "HTTP_REQUEST_TIMEOUT_SECS", default_value = "30", value_parser = duration::positive)]
    pub http_request_timeout: Duration,
    /// An oversized body is read and discarded up to this many bytes before
    /// the 413, so that the client reads the answer instead of a reset.
    #[arg(long, env = "HTTP_DRAIN_MAX_BYTES", default_value_t = 8 * 1024 * 1024)]
    pub http_drain_max_bytes: usize,
    /// Within how long a webhook is answered once its body is read: 503 with
    /// Retry-After when RabbitMQ has not confirmed it by then.
    #[arg(long = "webhook-deadline-secs", env = "WEBHOOK_DEADLINE_SECS", default_value = "10", value_parser = duration::positive)]
    pub webhook_deadline: Duration,
}

impl ReceiverArgs {
    /// The HTTP server's limits, checked.
    pub fn http_limits(&self) -> anyhow::Result<hris_receiver::HttpLimits> {
        anyhow::ensure!(
            self.http_max_connections > 0 && self.http_max_concurrent_requests > 0,
            "HTTP_MAX_CONNECTIONS and HTTP_MAX_CONCURRENT_REQUESTS must be positive"
        );
        let limits = hris_receiver::HttpLimits {
            header_read_timeout: self.http_header_read_timeout,
            body_read_timeout: self.http_body_read_timeout,
            idle_timeout: self.http_idle_timeout,
            max_connections: self.http_max_connections,
            max_concurrent_requests: self.http_max_concurrent_requests,
            webhook_deadline: self.webhook_deadline,
            request_timeout: self.http_request_timeout,
            drain_max_bytes: self.http_drain_max_bytes,
        };
        if limits.request_timeout < limits.body_read_timeout + limits.webhook_deadline {
            tracing::warn!(
                "HTTP_REQUEST_TIMEOUT_SECS is shorter than HTTP_BODY_READ_TIMEOUT_SECS + WEBHOOK_DEADLINE_SECS: slow webhooks are cut off before their own deadlines"
            );
        }
        Ok(limits)
    }
}

#[derive(Args, Clone, Debug)]
pub struct KomboArgs {
    /// Kombo's API base URL, including /v1 (or the simulator's).
    #[arg(
        long,
        env = "KOMBO_API_URL",
        default_value = "https://api.kombo.dev/v1"
    )]
    pub kombo_api_url: String,
    /// Kombo's API key (the simulator's SIM_API_KEY against the simulator).
    /// Required: without it every Kombo call would fail with 401.
    #[arg(long, env = "KOMBO_API_KEY", hide_env_values = true)]
    pub kombo_api_key: String,
    /// Timeout of one Kombo request (seconds, or with a unit).
    #[arg(long = "kombo-timeout-secs", env = "KOMBO_TIMEOUT_SECS", default_value = "30", value_parser = duration::at_least(Duration::from_secs(1)))]
    pub kombo_timeout: Duration,
    /// Pages one listing may have before it is ended as a runaway (250 records
    /// a page).
    #[arg(long, env = "KOMBO_MAX_PAGES", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub kombo_max_pages: u64,
}

impl KomboArgs {
    pub fn client(&self) -> anyhow::Result<hris_kombo::KomboClient> {
        Ok(hris_kombo::KomboClient::new(self.client_config())?)
    }

    pub fn client_config(&self) -> hris_kombo::KomboClientConfig {
        let mut config =
            hris_kombo::KomboClientConfig::new(&self.kombo_api_url, &self.kombo_api_key);
        config.timeout = self.kombo_timeout;
        config.max_pages = usize::try_from(self.kombo_max_pages).unwrap_or(usize::MAX);
        config
    }
}

#[derive(Args, Clone, Debug)]
pub struct WorkerArgs {
    /// Messages handled at once per queue.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value_t = 8, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub concurrency: usize,
    /// Messages the broker hands over ahead of acks, per queue.
    #[arg(long, env = "WORKER_PREFETCH", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..))]
    pub prefetch: u16,
    /// Delays of the retry tiers, comma-separated (seconds, or with a unit:
    /// 5s,30s,2m,10m,30m).
    #[arg(long, env = "RETRY_DELAYS", default_value = "5,30,120,600,1800", value_parser = retry_delays)]
    pub retry_delays: RetryDelays,
    /// Trips through the delay queues before a retryable failure is dead-lettered.
    #[arg(long, env = "RETRY_MAX_ATTEMPTS", default_value_t = 8)]
    pub retry_max_attempts: u32,
    /// A fetch lease lasts this long unless renewed (at least 3 s: it is
    /// renewed every third of it).
    #[arg(long = "fetch-lease-secs", env = "FETCH_LEASE_SECS", default_value = "60", value_parser = duration::at_least(Duration::from_secs(3)))]
    pub fetch_lease: Duration,
    /// The longest one fetch (every page of one listing) may run; then it
    /// fails and is retried through the delay queues.
    #[arg(long = "fetch-deadline-secs", env = "FETCH_DEADLINE_SECS", default_value = "3600", value_parser = duration::at_least(Duration::from_secs(1)))]
    pub fetch_deadline: Duration,
    /// Overlap subtracted from the watermark.
    #[arg(long = "watermark-overlap-secs", env = "WATERMARK_OVERLAP_SECS", default_value = "60", value_parser = duration::at_least(Duration::ZERO))]
    pub watermark_overlap: Duration,
    /// This process's name in fetch leases and logs (Kubernetes sets HOSTNAME
    /// to the pod's name); a random suffix keeps replicas apart.
    #[arg(long, env = "HOSTNAME", default_value = "worker")]
    pub instance_name: String,
    /// In-flight work gets this long to finish on SIGTERM.
    #[arg(long = "shutdown-grace-secs", env = "SHUTDOWN_GRACE_SECS", default_value = "25", value_parser = duration::at_least(Duration::ZERO))]
    pub shutdown_grace: Duration,
}

/// The retry tiers' delays, as `RETRY_DELAYS` lists them (a type of its own:
/// clap reads a `Vec` field as a repeated option).
#[derive(Clone, Debug)]
pub struct RetryDelays(pub Vec<Duration>);

/// What every role that consumes or publishes sync work is configured with.
#[derive(Args, Clone, Debug)]
pub struct RoleArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub amqp: AmqpArgs,
    #[command(flatten)]
    pub kombo: KomboArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    /// Where /metrics, /healthz and /readyz are served (workers, scheduler).
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:9090")]
    pub metrics_addr: String,
}
