//! What every handler of a worker process shares.

use std::time::Duration;

use hris_bus::Publisher;
use hris_kombo::KomboClient;
use hris_store::Store;

#[derive(Debug, Clone)]
pub struct SyncSettings {
    /// This process, as lease owner (host name and a random suffix).
    pub owner: String,
    /// A fetch lease lasts this long unless renewed (renewed every third of it).
    pub lease_ttl: Duration,
    /// The watermark is the last fetch's start minus this, so that a record
    /// Kombo stamped a little late is not missed.
    pub watermark_overlap: Duration,
    /// How often the sweeper looks for notifications left by a dead fetcher.
    pub sweep_interval: Duration,
    /// The longest one fetch may run (every page of a listing): a runaway
    /// listing ends here, and its lease stops being renewed with it.
    pub fetch_deadline: Duration,
    /// Kombo's integration health is read at most this often per tenant
    /// (before employees are fetched): cheap, and fresh enough for a change
    /// of filters to be seen by the fetch its `data-changed` causes.
    pub health_refresh: Duration,
    /// How long "Import all" waits for Kombo's own sync to finish before it
    /// reads what Kombo has (and says so).
    pub kombo_sync_wait: Duration,
}

impl SyncSettings {
    pub fn new(owner: impl Into<String>) -> Self {
        Self {
            owner: owner.into(),
            lease_ttl: Duration::from_secs(60),
            watermark_overlap: Duration::from_secs(60),
            sweep_interval: Duration::from_secs(5),
            fetch_deadline: Duration::from_secs(3600),
            health_refresh: Duration::from_secs(60),
            kombo_sync_wait: Duration::from_secs(900),
        }
    }
}

#[derive(Clone)]
pub struct WorkerContext {
    pub store: Store,
    pub kombo: KomboClient,
    pub publisher: Publisher,
    pub settings: SyncSettings,
}

impl WorkerContext {
    /// Why this process cannot do useful work now, if it cannot: a role that
    /// reaches neither the broker nor the database should get no traffic
    /// (`/readyz` of the workers, the scheduler and the admin API).
    pub async fn unready(&self) -> Option<&'static str> {
        if !self.publisher.connector().is_alive().await {
            return Some("RabbitMQ unreachable");
        }
        match self.store.ping().await {
            Ok(()) => None,
            Err(_) => Some("PostgreSQL unreachable"),
        }
    }
}
