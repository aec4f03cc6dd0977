//! PostgreSQL: the schema (migrations in `/migrations`), the connection pool and
//! the repositories every role uses. Errors say whether retrying can help.

pub mod error;
pub mod migrate;
pub mod pool;
pub mod tenants;

pub use error::StoreError;
pub use migrate::migrate;
pub use pool::{Store, connect};
pub use tenants::{Tenant, TenantSettings};
