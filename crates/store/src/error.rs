use tokio_postgres::error::SqlState;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("database: {0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
    #[error("invalid database configuration: {0}")]
    Config(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid value: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether the same call may succeed later: lost connections, a database
    /// restarting, serialization failures and deadlocks are blips; constraint
    /// violations and bad values are not.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Pool(_) => true,
            StoreError::Db(e) => {
                if e.is_closed() {
                    return true;
                }
                match e.code() {
                    None => true, // I/O error talking to the server
                    Some(code) => {
                        let c = code.code();
                        *code == SqlState::T_R_SERIALIZATION_FAILURE
                            || *code == SqlState::T_R_DEADLOCK_DETECTED
                            || *code == SqlState::LOCK_NOT_AVAILABLE
                            || *code == SqlState::QUERY_CANCELED
                            || c.starts_with("08") // connection exception
                            || c.starts_with("57") // operator intervention (shutdown, terminated)
                            || c.starts_with("53") // insufficient resources
                    }
                }
            }
            StoreError::Migration(_)
            | StoreError::Config(_)
            | StoreError::NotFound(_)
            | StoreError::Conflict(_)
            | StoreError::Invalid(_) => false,
        }
    }
}
