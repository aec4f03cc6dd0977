//! HRIS records as `GET /hris/*` returns them (the inline item schemas of the
//! OpenAPI document).
//!
//! Parsing is lenient on purpose: every field has a default, unknown fields are
//! ignored, enum-like fields are strings, and timestamps stay strings here. A record
//! with one odd date must not fail the page it came in; the mapping decides what an
//! unparsable date means. Serialising yields every field the schema requires, so the
//! simulator can serve these types as they are.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /hris/employees` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Employee {
    pub id: String,
    pub remote_id: Option<String>,
    pub employee_number: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub nationality: Option<String>,
    pub display_full_name: Option<String>,
    pub job_title: Option<String>,
    pub work_email: Option<String>,
    pub personal_email: Option<String>,
    pub mobile_phone_number: Option<String>,
    pub ssn: Option<String>,
    pub tax_id: Option<String>,
    pub gender: Option<String>,
    pub ethnicity: Option<String>,
    pub marital_status: Option<String>,
    pub employment_status: Option<String>,
    pub employment_type: Option<String>,
    pub weekly_hours: Option<f64>,
    pub avatar: Option<String>,
    pub work_location_id: Option<String>,
    pub legal_entity_id: Option<String>,
    pub manager_id: Option<String>,
    pub home_address: Option<Value>,
    pub bank_accounts: Option<Vec<Value>>,
    pub date_of_birth: Option<String>,
    pub start_date: Option<String>,
    pub termination_date: Option<String>,
    pub remote_created_at: Option<String>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    pub custom_fields: Option<Map<String, Value>>,
    pub integration_fields: Vec<Value>,
    pub remote_data: Option<Value>,
    pub employments: Vec<Employment>,
    pub time_off_balances: Vec<Value>,
    pub manager: Option<EmbeddedManager>,
    pub groups: Vec<EmbeddedGroup>,
    pub legal_entity: Option<EmbeddedLegalEntity>,
    pub teams: Vec<EmbeddedGroup>,
    pub work_location: Option<Location>,
}

/// `employees[].employments[]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Employment {
    pub id: String,
    pub remote_id: Option<String>,
    pub employee_id: String,
    pub job_title: Option<String>,
    pub pay_rate: Option<f64>,
    pub pay_period: Option<String>,
    pub pay_frequency: Option<String>,
    pub employment_type: Option<String>,
    pub pay_currency: Option<String>,
    pub effective_date: Option<String>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    pub remote_data: Option<Value>,
    pub custom_fields: Option<Map<String, Value>>,
    pub integration_fields: Vec<Value>,
}

/// `employees[].manager`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddedManager {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub display_full_name: Option<String>,
    pub id: String,
    pub employee_number: Option<String>,
    pub work_email: Option<String>,
    pub remote_id: Option<String>,
    pub employment_status: Option<String>,
    pub termination_date: Option<String>,
}

/// `employees[].groups[]` and `employees[].teams[]`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddedGroup {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub group_type: Option<String>,
}

/// `employees[].legal_entity`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddedLegalEntity {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub address: Option<Value>,
}

/// `GET /hris/groups` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    #[serde(rename = "type")]
    pub group_type: Option<String>,
    pub parent_id: Option<String>,
    pub remote_data: Option<Value>,
}

/// `GET /hris/locations` item (also embedded as `employees[].work_location`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub address: Option<Address>,
    #[serde(rename = "type")]
    pub location_type: Option<String>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    pub remote_data: Option<Value>,
}

/// A postal address as Kombo normalises it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Address {
    pub city: Option<String>,
    pub country: Option<String>,
    pub raw: Option<String>,
    pub state: Option<String>,
    pub street_1: Option<String>,
    pub street_2: Option<String>,
    pub zip_code: Option<String>,
}

/// `GET /hris/legal-entities` item.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LegalEntity {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub address: Option<Address>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    pub remote_data: Option<Value>,
}

/// `GET /hris/absence-types` item (also embedded as `absences[].type`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AbsenceType {
    pub id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub half_days_supported: Option<bool>,
    pub exact_times_supported: Option<bool>,
    pub remote_data: Option<Value>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
}

/// `GET /hris/absences` item. `start_date`/`end_date` are `yyyy-MM-dd`,
/// `start_time`/`end_time` `HH:mm:ss` (typed `"null"` in the document by a
/// generator slip: read as optional strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Absence {
    pub id: String,
    pub remote_id: Option<String>,
    pub employee_id: String,
    pub approver_id: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub start_half_day: Option<bool>,
    pub end_half_day: Option<bool>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub amount: Option<f64>,
    pub unit: Option<String>,
    pub status: Option<String>,
    pub employee_note: Option<String>,
    pub type_id: Option<String>,
    pub remote_created_at: Option<String>,
    pub remote_updated_at: Option<String>,
    pub changed_at: String,
    pub remote_deleted_at: Option<String>,
    pub remote_data: Option<Value>,
    #[serde(rename = "type")]
    pub absence_type: Option<AbsenceType>,
}

/// Every record has Kombo's stable `id`: the key we sync on.
pub trait Record: serde::de::DeserializeOwned + Send + 'static {
    fn kombo_id(&self) -> &str;
}

macro_rules! impl_record {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn kombo_id(&self) -> &str {
                &self.id
            }
        }
    )*};
}
impl_record!(Employee, Group, Location, LegalEntity, AbsenceType, Absence);
