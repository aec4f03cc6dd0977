//! Absences and their types. Cancelled, declined and deleted absences stop
//! counting (the row stays, for history).

use chrono::{DateTime, NaiveDate, Utc};
use hris_kombo::records::{Absence, AbsenceType};
use serde_json::Value;

use crate::dates::{date_part, timestamp};
use crate::diff::{Fields, json};
use crate::org::deleted_at;

#[derive(Debug, Clone, PartialEq)]
pub struct AbsenceTypeFields {
    pub kombo_id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub unit: Option<String>,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl AbsenceTypeFields {
    pub fn from_type(t: &AbsenceType) -> Self {
        Self {
            kombo_id: t.id.clone(),
            remote_id: t.remote_id.clone(),
            name: t.name.clone(),
            unit: t.unit.clone(),
            remote_deleted_at: deleted_at(t.remote_deleted_at.as_deref()),
            changed_at: timestamp(Some(&t.changed_at)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AbsenceFields {
    pub kombo_id: String,
    pub remote_id: Option<String>,
    pub employee_kombo_id: String,
    pub type_kombo_id: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub amount: Option<f64>,
    pub unit: Option<String>,
    /// Kombo's status; raw strings kept.
    pub status: Option<String>,
    pub counts: bool,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

/// Statuses that mean "this absence does not happen".
const NOT_COUNTING: &[&str] = &["CANCELLED", "DECLINED", "DELETED"];

impl AbsenceFields {
    pub fn from_absence(a: &Absence) -> Self {
        let remote_deleted_at = deleted_at(a.remote_deleted_at.as_deref());
        let cancelled = a
            .status
            .as_deref()
            .is_some_and(|s| NOT_COUNTING.iter().any(|n| n.eq_ignore_ascii_case(s)));
        Self {
            kombo_id: a.id.clone(),
            remote_id: a.remote_id.clone(),
            employee_kombo_id: a.employee_id.clone(),
            type_kombo_id: a
                .type_id
                .clone()
                .or_else(|| a.absence_type.as_ref().map(|t| t.id.clone()))
                .filter(|id| !id.is_empty()),
            start_date: date_part(a.start_date.as_deref()),
            end_date: date_part(a.end_date.as_deref()),
            start_time: a.start_time.clone(),
            end_time: a.end_time.clone(),
            amount: a.amount.filter(|x| x.is_finite()),
            unit: a.unit.clone(),
            status: a.status.clone(),
            counts: !cancelled && remote_deleted_at.is_none(),
            remote_deleted_at,
            changed_at: timestamp(Some(&a.changed_at)),
        }
    }
}

impl Fields for AbsenceFields {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("remote_id", json(&self.remote_id)),
            ("employee", json(&self.employee_kombo_id)),
            ("type", json(&self.type_kombo_id)),
            ("start_date", json(&self.start_date)),
            ("end_date", json(&self.end_date)),
            ("start_time", json(&self.start_time)),
            ("end_time", json(&self.end_time)),
            ("amount", json(&self.amount)),
            ("unit", json(&self.unit)),
            ("status", json(&self.status)),
            ("counts", json(&self.counts)),
            ("remote_deleted_at", json(&self.remote_deleted_at)),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancelled_declined_and_deleted_absences_stop_counting() {
        let mut a = Absence {
            id: "A".into(),
            employee_id: "E".into(),
            status: Some("APPROVED".into()),
            start_date: Some("2026-05-01".into()),
            changed_at: "2026-04-01T00:00:00Z".into(),
            ..Absence::default()
        };
        assert!(AbsenceFields::from_absence(&a).counts);
        for s in ["CANCELLED", "declined", "DELETED"] {
            a.status = Some(s.into());
            assert!(!AbsenceFields::from_absence(&a).counts, "{s}");
        }
        a.status = Some("SOMETHING_NEW".into());
        assert!(AbsenceFields::from_absence(&a).counts);
        a.remote_deleted_at = Some("2026-04-02T00:00:00Z".into());
        assert!(!AbsenceFields::from_absence(&a).counts);
        assert_eq!(
            AbsenceFields::from_absence(&a).start_date,
            NaiveDate::from_ymd_opt(2026, 5, 1)
        );
    }
}
