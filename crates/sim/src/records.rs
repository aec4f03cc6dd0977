//! The simulator's own record types: compact, with the timestamps that drive
//! `changed_at`, `updated_after` and deletions. `render` turns them into Kombo's.

use chrono::{DateTime, NaiveDate, Utc};

#[derive(Debug, Clone)]
pub struct SimEmployee {
    pub id: String,
    pub remote_id: String,
    pub number: u64,
    pub first_name: String,
    pub last_name: String,
    pub work_email: Option<String>,
    pub job_title: String,
    pub employment_status: String,
    pub employment_type: String,
    pub start_date: NaiveDate,
    pub termination_date: Option<NaiveDate>,
    pub manager_id: Option<String>,
    pub group_ids: Vec<String>,
    pub location_id: Option<String>,
    pub legal_entity_id: Option<String>,
    pub avatar: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The record's own fields changed (Kombo's `changed_at`).
    pub changed_at: DateTime<Utc>,
    /// The record or its nested data changed (what `updated_after` matches).
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SimGroup {
    pub id: String,
    pub remote_id: String,
    pub name: String,
    pub group_type: Option<String>,
    pub parent_id: Option<String>,
    pub changed_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SimLocation {
    pub id: String,
    pub remote_id: String,
    pub name: String,
    pub city: String,
    pub country: String,
    pub changed_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SimLegalEntity {
    pub id: String,
    pub remote_id: String,
    pub name: String,
    pub country: String,
    pub changed_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SimAbsenceType {
    pub id: String,
    pub remote_id: String,
    pub name: String,
    pub unit: String,
    pub changed_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct SimAbsence {
    pub id: String,
    pub remote_id: String,
    pub employee_id: String,
    pub type_id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub status: String,
    pub changed_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// What every simulated record offers the listing code.
pub trait SimRecord {
    fn id(&self) -> &str;
    fn remote_id(&self) -> &str;
    /// What `updated_after` compares against.
    fn updated_at(&self) -> DateTime<Utc>;
    fn deleted_at(&self) -> Option<DateTime<Utc>>;
}

macro_rules! sim_record {
    ($t:ty, $updated:ident) => {
        impl SimRecord for $t {
            fn id(&self) -> &str {
                &self.id
            }
            fn remote_id(&self) -> &str {
                &self.remote_id
            }
            fn updated_at(&self) -> DateTime<Utc> {
                self.$updated
            }
            fn deleted_at(&self) -> Option<DateTime<Utc>> {
                self.deleted_at
            }
        }
    };
}
sim_record!(SimEmployee, updated_at);
sim_record!(SimGroup, changed_at);
sim_record!(SimLocation, changed_at);
sim_record!(SimLegalEntity, changed_at);
sim_record!(SimAbsenceType, changed_at);
sim_record!(SimAbsence, changed_at);
