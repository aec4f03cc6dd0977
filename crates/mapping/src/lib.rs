//! The pure mapping from Kombo records to platform rows: no I/O, so every rule of
//! the field-mapping table is a unit or property test.

pub use chrono_tz::Tz;
