//! Kombo's dates and times, read leniently.
//!
//! HR dates (start, termination, absences) are calendar dates: Kombo sends them as
//! `2024-03-01T00:00:00.000Z` or `2024-03-01`; the date part is what the HR system
//! meant, so it is taken as written and never shifted by a time zone.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The calendar date at the start of `value`, if it has one.
pub fn date_part(value: Option<&str>) -> Option<NaiveDate> {
    let value = value?.trim();
    let head = value.get(..10)?;
    NaiveDate::parse_from_str(head, "%Y-%m-%d").ok()
}

/// An RFC 3339 timestamp, if `value` is one.
pub fn timestamp(value: Option<&str>) -> Option<DateTime<Utc>> {
    let value = value?.trim();
    DateTime::parse_from_rfc3339(value)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Today's date in the tenant's time zone: a leave date "today" means today
/// where the tenant is, not in UTC.
pub fn today_in(tz: Tz, now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&tz).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn date_part_reads_both_forms_and_rejects_junk() {
        let d = NaiveDate::from_ymd_opt(2024, 3, 1);
        assert_eq!(date_part(Some("2024-03-01T00:00:00.000Z")), d);
        assert_eq!(date_part(Some("2024-03-01")), d);
        assert_eq!(date_part(Some("2024-03-01T23:30:00-05:00")), d);
        assert_eq!(date_part(Some("01.03.2024")), None);
        assert_eq!(date_part(Some("")), None);
        assert_eq!(date_part(Some("2024-02-30")), None);
        assert_eq!(date_part(None), None);
    }

    #[test]
    fn today_depends_on_the_tenant_zone() {
        let now = DateTime::parse_from_rfc3339("2026-03-01T23:30:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(
            today_in(chrono_tz::Europe::Berlin, now),
            NaiveDate::from_ymd_opt(2026, 3, 2).expect("valid")
        );
        assert_eq!(
            today_in(chrono_tz::America::New_York, now),
            NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid")
        );
    }

    proptest! {
        #[test]
        fn date_part_never_panics(s in "\\PC{0,40}") {
            let _ = date_part(Some(&s));
            let _ = timestamp(Some(&s));
        }
    }
}
