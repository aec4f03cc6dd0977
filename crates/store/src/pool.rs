use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::StoreError;

/// The connection pool, shared by every repository.
#[derive(Clone)]
pub struct Store {
    pub pool: Pool,
}

/// Builds a pool for `database_url`; connections are opened lazily, so a process
/// can start while the database is still coming up.
pub fn connect(database_url: &str, max_size: usize) -> Result<Store, StoreError> {
    let config = tokio_postgres::Config::from_str(database_url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // Verify a pooled connection before use: after a database restart or
            // pg_terminate_backend, a dead connection must not fail a transaction.
            recycling_method: RecyclingMethod::Verified,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(max_size)
        .wait_timeout(Some(std::time::Duration::from_secs(10)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Config(e.to_string()))?;
    Ok(Store { pool })
}

impl Store {
    pub async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Ok(self.pool.get().await?)
    }

    /// A cheap round trip, for readiness probes.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.client().await?.simple_query("SELECT 1").await?;
        Ok(())
    }
}
