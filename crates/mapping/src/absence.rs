//! Absences and their types. Cancelled, declined and deleted absences stop
//! counting (the row stays, for history).

use chrono::{DateTime, NaiveDate, Utc};
use hris_kombo::records::{Absence, AbsenceType};

use crate::dates::{date_part, timestamp};
use crate::org::deleted_at;

synced_columns! {
    /// An absence type as a row of `absence_types` (its changes are not logged).
    #[derive(Debug, Clone, PartialEq)]
    pub struct AbsenceTypeFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        name: Option<String> => "name",
        unit: Option<String> => "unit",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at";
        changed_at: Option<DateTime<Utc>> as "kombo_changed_at",
    }
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

synced_columns! {
    /// An absence as a row of `absences`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct AbsenceFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        employee_kombo_id: String => "employee",
        type_kombo_id: Option<String> => "type",
        start_date: Option<NaiveDate> => "start_date",
        end_date: Option<NaiveDate> => "end_date",
        start_time: Option<String> => "start_time",
        end_time: Option<String> => "end_time",
        amount: Option<f64> => "amount",
        unit: Option<String> => "unit",
        /// Kombo's status; raw strings kept.
        status: Option<String> => "status",
        counts: bool => "counts",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at";
        changed_at: Option<DateTime<Utc>> as "kombo_changed_at",
    }
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
