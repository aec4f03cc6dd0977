//! The simulator's shared state: integrations with their companies, fault
//! settings and request counters, pending connection links, webhook settings.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

use crate::company::Company;
use crate::faults::Faults;

#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Bearer token clients must send.
    pub api_key: String,
    /// Where signed webhooks go (none: webhooks are only counted).
    pub webhook_url: Option<String>,
    pub webhook_secret: String,
    /// Kombo sends `data-changed` at most once per 30 s per integration.
    pub debounce: Duration,
    /// The simulator's own base URL, used in connection links.
    pub public_url: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            api_key: "sim-api-key".to_owned(),
            webhook_url: None,
            webhook_secret: "sim-webhook-secret".to_owned(),
            debounce: Duration::from_secs(30),
            public_url: "http://127.0.0.1:8090".to_owned(),
        }
    }
}

/// Who connected an integration (echoed in `end_user`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndUserInfo {
    pub origin_id: String,
    pub organization_name: String,
    pub creator_email: String,
}

/// Requests served, per endpoint path; `first_pages` counts listings started.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    pub requests: BTreeMap<String, u64>,
    pub first_pages: BTreeMap<String, u64>,
    pub faults_injected: u64,
    /// Listing requests served while a force-sync of this integration was
    /// queued or running: they read Kombo's old copy.
    pub reads_while_syncing: u64,
}

/// What `GET /integrations/{id}` reports about an integration's health.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimHealth {
    pub status: String,
    pub setup_status: String,
    pub data_expired_at: Option<chrono::DateTime<chrono::Utc>>,
    pub enabled: bool,
}

impl Default for SimHealth {
    fn default() -> Self {
        Self {
            status: "ACTIVE".to_owned(),
            setup_status: "COMPLETED".to_owned(),
            data_expired_at: None,
            enabled: true,
        }
    }
}

/// Kombo's one sync per integration that may run or be queued, and the HR
/// changes it will bring: staged changes become visible only when it ends.
#[derive(Debug, Clone)]
pub struct SimSync {
    /// The id of the force-sync queued or running.
    pub queued: Option<String>,
    pub staged: Vec<crate::mutate::Mutation>,
    /// How long a force-sync runs before `sync-finished`.
    pub finish_delay: Duration,
}

impl Default for SimSync {
    fn default() -> Self {
        Self {
            queued: None,
            staged: Vec::new(),
            finish_delay: Duration::from_millis(300),
        }
    }
}

pub struct Integration {
    pub id: String,
    pub tool: String,
    pub end_user: EndUserInfo,
    pub company: Company,
    pub faults: Faults,
    pub fault_rng: Mutex<StdRng>,
    pub stats: Mutex<Stats>,
    pub health: SimHealth,
    pub sync: SimSync,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Integration {
    pub fn new(id: String, tool: String, end_user: EndUserInfo, company: Company) -> Self {
        let seed = company.spec.seed;
        Self {
            id,
            tool,
            end_user,
            company,
            faults: Faults::default(),
            fault_rng: Mutex::new(StdRng::seed_from_u64(seed ^ 0xfa17)),
            stats: Mutex::new(Stats::default()),
            health: SimHealth::default(),
            sync: SimSync::default(),
            created_at: chrono::Utc::now(),
        }
    }
}

/// A link handed out by `/connect/create-link`, waiting for the admin.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingLink {
    pub tool: String,
    pub end_user: EndUserInfo,
}

#[derive(Debug, Default)]
pub struct PendingWebhook {
    pub models: BTreeSet<String>,
    pub due: Option<Instant>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct WebhookStats {
    pub sent: u64,
    pub failed: u64,
}

pub struct SimState {
    pub config: RwLock<SimConfig>,
    pub integrations: RwLock<HashMap<String, Integration>>,
    pub links: Mutex<HashMap<String, PendingLink>>,
    pub pending_webhooks: Mutex<HashMap<String, PendingWebhook>>,
    pub webhook_stats: Mutex<WebhookStats>,
    /// Calls of Kombo's non-listing endpoints (`create-link`, `relink`,
    /// `force-sync`, …), by endpoint, over every integration.
    pub actions: Mutex<BTreeMap<String, u64>>,
    pub wake_flusher: tokio::sync::Notify,
    pub http: reqwest::Client,
}

impl SimState {
    pub fn new(config: SimConfig) -> Self {
        Self {
            config: RwLock::new(config),
            integrations: RwLock::new(HashMap::new()),
            links: Mutex::new(HashMap::new()),
            pending_webhooks: Mutex::new(HashMap::new()),
            webhook_stats: Mutex::new(WebhookStats::default()),
            actions: Mutex::new(BTreeMap::new()),
            wake_flusher: tokio::sync::Notify::new(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    pub fn config(&self) -> SimConfig {
        read(&self.config).clone()
    }

    /// Counts one call of a non-listing endpoint.
    pub fn count_action(&self, endpoint: &str) {
        *lock(&self.actions).entry(endpoint.to_owned()).or_default() += 1;
    }
}

/// Poisoned locks only mean another request panicked; the data is still usable
/// for a simulator, so carry on rather than fail every later request.
pub fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

pub fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
