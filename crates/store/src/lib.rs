//! PostgreSQL: the schema (migrations in `/migrations`), the connection pool and
//! the repositories every role uses. Errors say whether retrying can help.

pub mod absences;
pub mod apply;
mod columns;
pub mod console;
pub mod database_url;
pub mod dead_letters;
pub mod error;
pub mod explain;
pub mod explanation;
pub mod full_sync;
pub mod gauges;
pub mod guard;
pub mod health;
pub mod identity;
pub mod integrations;
pub mod lifecycle;
pub mod locations;
pub mod migrate;
pub mod org;
mod pages;
mod planned;
pub mod pool;
pub mod privacy;
pub mod record_issues;
mod row;
pub mod runs;
pub mod schedule;
mod settings;
#[cfg(test)]
mod statements_tests;
pub mod sync_state;
pub mod tenants;
pub mod tls;
pub mod users;

pub use apply::{ApplyContext, PageStats};
pub use database_url::SslMode;
pub use dead_letters::{DeadLetter, DeadLetterFilter, DeadLetterGroup, NewDeadLetter};
pub use error::StoreError;
pub use health::{HealthCounts, IntegrationReport, IssueEvent, OpenIssue, TenantHealth};
pub use hris_mapping::plan::{UserPlan, UserWrite};
pub use hris_types::{IntegrationState, RunStatus};
pub use integrations::Link;
pub use lifecycle::HeldChange;
pub use migrate::migrate;
pub use pool::{Store, connect, connect_one};
pub use privacy::{Anonymised, Expired, Purged};
pub use record_issues::{NewRecordIssue, RecordIssue, Severity, Stage};
pub use schedule::DueTenant;
pub use sync_state::{Claim, FetchKind, FetchStatus, Lease, Orphan};
pub use tenants::{Tenant, TenantSettings};
