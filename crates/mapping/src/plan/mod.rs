//! Page planning, pure: given what is stored and a page of mapped records,
//! which rows to write and with which changes, what the page counts, and what
//! the mass-change guard does with its deactivations. The store loads the
//! stored side and writes the plan; nothing here touches I/O, so every rule
//! (an older snapshot never wins, replaying a page is a no-op, the guard's
//! budget is never exceeded) is a property test.

mod generic;
mod identity;
mod users;

pub use generic::{RecordChanges, is_stale, plan_writes};
pub use identity::{IdentifiedPage, RecordConflict, Relink, linked, plan_page};
pub use users::{
    Decision, HeldDeactivation, PageRules, Pending, StoredUser, UserPlan, UserWrite, decide,
    newest_per_id, plan_users, screen,
};

use serde_json::Value;

use crate::FieldChange;

/// Counters of one page or run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PageStats {
    pub created: u32,
    pub updated: u32,
    pub deactivated: u32,
    pub unchanged: u32,
    pub held: u32,
    pub failed: u32,
    /// Records that matched ambiguously (identity conflicts): nobody changed.
    pub conflicts: u32,
}

impl PageStats {
    /// created, updated, deactivated, unchanged, held, failed, conflicts (as
    /// SQL integers).
    pub fn columns(&self) -> [i32; 7] {
        [
            self.created,
            self.updated,
            self.deactivated,
            self.unchanged,
            self.held,
            self.failed,
            self.conflicts,
        ]
        .map(|n| i32::try_from(n).unwrap_or(i32::MAX))
    }

    pub fn add(&mut self, other: &PageStats) {
        self.created += other.created;
        self.updated += other.updated;
        self.deactivated += other.deactivated;
        self.unchanged += other.unchanged;
        self.held += other.held;
        self.failed += other.failed;
        self.conflicts += other.conflicts;
    }
}

/// One change-log entry for a created record: `created`, with every field.
/// Per-field rows would make a first import write ~20 change-log rows per
/// person, most of the import's cost, and say nothing more.
pub fn created_entry(changes: &[FieldChange]) -> FieldChange {
    FieldChange {
        field: "created",
        old: Value::Null,
        new: Value::Object(
            changes
                .iter()
                .map(|c| (c.field.to_owned(), c.new.clone()))
                .collect(),
        ),
    }
}
