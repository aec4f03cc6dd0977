//! The pure mapping from Kombo records to platform rows: no I/O, so every rule of
//! the field-mapping table in `shared/DESIGN.md` is a unit or property test.
//!
//! Everything here is total: any record the OpenAPI schema allows (and many it
//! does not) maps to a row. Odd values are kept or flagged, never a panic, because
//! one strange employee must not stop a tenant's sync.

// First: its macros declare the row types of the modules after it.
#[macro_use]
pub mod columns;
pub mod absence;
pub mod dates;
pub mod diff;
pub mod email;
pub mod employee;
pub mod guard;
pub mod identity;
pub mod lifecycle;
pub mod org;
pub mod plan;
pub mod policy;

pub use chrono_tz::Tz;
pub use diff::{FieldChange, Fields, diff};
pub use employee::{UserFields, UserStatus, map_employee};
pub use policy::{Scope, TenantPolicy};
