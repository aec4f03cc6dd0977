//! Read queries of the operations console (`hris_admin::console`): the
//! tenants overview (paged, for 10,000 tenants and more), a tenant's runs,
//! held changes with the people they concern, its directory, an "Import all"
//! in progress, and dead letters grouped for triage. Every action the console
//! takes goes through the same store functions as the CLI (`decide_held`,
//! `mark_replayed`, …); only what the console shows is here.

mod dead_letters;
mod overview;
mod tenant;

pub use dead_letters::DeadLetterKind;
pub use overview::{TenantOverview, TenantPage, TenantQuery, TenantSort};
pub use tenant::{HeldPreview, ImportProgress, Person, RecentRun, TeamMembership};
