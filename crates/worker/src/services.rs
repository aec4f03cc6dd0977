//! The composition root: every role, the demo and the tests build what they
//! run on here: the database pool (from a [`DatabaseConfig`], or one the
//! caller made), the Kombo client, the broker connection (not yet started) and
//! the publisher over it.

use std::sync::Arc;

use hris_bus::{AmqpConfig, Connector, Publisher, Topology};
use hris_kombo::{KomboClient, KomboClientConfig, KomboError};
use hris_store::{Store, StoreError};
use secrecy::{ExposeSecret, SecretString};

use crate::context::{SyncSettings, WorkerContext};

/// The database a process connects to.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Secret: the URL may carry the password, and `Debug` must not print it.
    pub url: SecretString,
    pub pool_size: usize,
    /// `application_name` of the connections (`pg_stat_activity` shows it),
    /// unless the URL sets one.
    pub application_name: String,
}

/// Everything else a process is built from.
#[derive(Debug, Clone)]
pub struct ServicesConfig {
    pub amqp: AmqpConfig,
    pub topology: Topology,
    pub kombo: KomboClientConfig,
    pub settings: SyncSettings,
}

/// A setting that cannot work; nothing was started.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("Kombo client: {0}")]
    Kombo(#[from] KomboError),
}

/// What a process runs on. The broker connection is started by the caller
/// (`connector.spawn(shutdown)`), who owns its lifetime.
#[derive(Clone)]
pub struct Services {
    pub ctx: WorkerContext,
    pub connector: Arc<Connector>,
}

impl Services {
    pub fn build(database: &DatabaseConfig, config: ServicesConfig) -> Result<Self, BuildError> {
        let store = hris_store::connect(
            database.url.expose_secret(),
            database.pool_size,
            &database.application_name,
        )?;
        Ok(Self::with_store(store, config)?)
    }

    /// As [`Services::build`], on a pool the caller already has (the demo's
    /// and the tests', which made the database first).
    pub fn with_store(store: Store, config: ServicesConfig) -> Result<Self, KomboError> {
        let connector = Connector::new(config.amqp, config.topology);
        let ctx = WorkerContext {
            store,
            kombo: KomboClient::new(config.kombo)?,
            publisher: Publisher::new(connector.clone()),
            settings: config.settings,
        };
        Ok(Self { ctx, connector })
    }
}
