use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

use crate::StoreError;

/// The connection pool, shared by every repository.
#[derive(Clone)]
pub struct Store {
    pub pool: Pool,
}

/// Builds a pool for `database_url`; connections are opened lazily, so a process
/// can start while the database is still coming up.
///
/// `sslmode` (`disable`, `prefer`, `require`, `verify-ca`, `verify-full`) and
/// `sslrootcert` in the URL are honoured (see [`crate::tls`]).
/// `application_name` names the role in `pg_stat_activity` (e.g.
/// `hris-sync worker employees`) unless the URL sets one.
pub fn connect(
    database_url: &str,
    max_size: usize,
    application_name: &str,
) -> Result<Store, StoreError> {
    let prepared = crate::tls::prepare(database_url, application_name)?;
    let manager = Manager::from_config(
        prepared.config,
        prepared.tls,
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

/// One connection outside the pool (migrations, administration, tests), with
/// the same TLS and `application_name` handling as [`connect`]. The task
/// driving the connection ends when the client is dropped.
pub async fn connect_one(
    database_url: &str,
    application_name: &str,
) -> Result<(tokio_postgres::Client, tokio::task::JoinHandle<()>), StoreError> {
    let prepared = crate::tls::prepare(database_url, application_name)?;
    let (client, connection) = prepared.config.connect(prepared.tls).await?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection ended with an error");
        }
    });
    Ok((client, driver))
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
