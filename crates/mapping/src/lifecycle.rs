//! Effective dates, pure: when a leaver is deactivated and when a starter is
//! invited, in the tenant's time zone, across daylight-saving changes.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use hris_types::InviteWhen;

/// When the platform invites a new user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvitePolicy {
    Never,
    /// As soon as the user is synced.
    Immediately,
    /// At the start of the start date.
    OnStartDate,
    /// At the start of the day `n` days before the start date.
    DaysBefore(u32),
}

impl InvitePolicy {
    pub fn from_settings(when: InviteWhen, days_before: i32) -> Self {
        match when {
            InviteWhen::Never => InvitePolicy::Never,
            InviteWhen::Immediately => InvitePolicy::Immediately,
            InviteWhen::DaysBefore => InvitePolicy::DaysBefore(days_before.max(0) as u32),
            InviteWhen::OnStartDate => InvitePolicy::OnStartDate,
        }
    }
}

/// The first instant of `date` in `tz`. Where midnight does not exist (a
/// daylight-saving jump at 00:00, as in some zones), the first instant that does.
pub fn start_of_day(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = date.and_time(NaiveTime::MIN);
    // Jumps are at most two hours; probing each quarter hour finds the first
    // local time that exists.
    for quarter in 0..=12 {
        let local = midnight + chrono::Duration::minutes(15 * quarter);
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
    }
    Utc.from_utc_datetime(&midnight)
}

/// A leaver is deactivated at the end of their last day: the start of the next
/// day where the tenant is.
pub fn deactivate_at(leave_date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let next = leave_date
        .checked_add_days(Days::new(1))
        .unwrap_or(leave_date);
    start_of_day(next, tz)
}

/// When to invite a user starting on `hire_date` (`None`: never). Without a
/// start date, "on the start date" policies invite at once.
pub fn invite_at(
    policy: InvitePolicy,
    hire_date: Option<NaiveDate>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let on = |date: Option<NaiveDate>| date.map_or(now, |d| start_of_day(d, tz));
    match policy {
        InvitePolicy::Never => None,
        InvitePolicy::Immediately => Some(now),
        InvitePolicy::OnStartDate => Some(on(hire_date)),
        InvitePolicy::DaysBefore(n) => {
            Some(on(hire_date.map(|d| {
                d.checked_sub_days(Days::new(u64::from(n))).unwrap_or(d)
            })))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn berlin_leaver_on_the_spring_forward_day() {
        // 2026-03-29: clocks go from 02:00 to 03:00 in Berlin; the day is 23 h.
        let at = deactivate_at(date(2026, 3, 29), chrono_tz::Europe::Berlin);
        assert_eq!(at.to_rfc3339(), "2026-03-29T22:00:00+00:00");
        let day_start = start_of_day(date(2026, 3, 29), chrono_tz::Europe::Berlin);
        assert_eq!((at - day_start).num_hours(), 23);
    }

    #[test]
    fn new_york_leaver_on_the_fall_back_day() {
        // 2026-11-01: clocks go back in New York; the day is 25 h.
        let at = deactivate_at(date(2026, 11, 1), chrono_tz::America::New_York);
        assert_eq!(at.to_rfc3339(), "2026-11-02T05:00:00+00:00");
    }

    #[test]
    fn midnight_that_does_not_exist() {
        // Santiago springs forward at 00:00 (2026-09-06): the day starts at 01:00.
        let start = start_of_day(date(2026, 9, 6), chrono_tz::America::Santiago);
        let local = start.with_timezone(&chrono_tz::America::Santiago);
        assert_eq!(local.date_naive(), date(2026, 9, 6));
        assert_eq!(
            local.time(),
            NaiveTime::from_hms_opt(1, 0, 0).expect("valid")
        );
    }

    #[test]
    fn invite_policies() {
        let tz = chrono_tz::Asia::Tokyo;
        let now = Utc::now();
        let start = date(2026, 12, 1);
        assert_eq!(invite_at(InvitePolicy::Never, Some(start), tz, now), None);
        assert_eq!(
            invite_at(InvitePolicy::Immediately, Some(start), tz, now),
            Some(now)
        );
        assert_eq!(
            invite_at(InvitePolicy::OnStartDate, Some(start), tz, now).map(|t| t.to_rfc3339()),
            Some("2026-11-30T15:00:00+00:00".to_owned())
        );
        assert_eq!(
            invite_at(InvitePolicy::DaysBefore(7), Some(start), tz, now).map(|t| t.to_rfc3339()),
            Some("2026-11-23T15:00:00+00:00".to_owned())
        );
        assert_eq!(
            invite_at(InvitePolicy::OnStartDate, None, tz, now),
            Some(now)
        );
    }

    fn any_zone() -> impl Strategy<Value = Tz> {
        prop::sample::select(vec![
            chrono_tz::UTC,
            chrono_tz::Europe::Berlin,
            chrono_tz::Europe::London,
            chrono_tz::America::New_York,
            chrono_tz::America::Santiago,
            chrono_tz::America::St_Johns,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Pacific::Chatham,
            chrono_tz::Pacific::Apia,
        ])
    }

    proptest! {
        #[test]
        fn a_leaver_is_active_all_of_their_last_day_and_not_a_minute_more(
            days in 0u32..4000, tz in any_zone()
        ) {
            let leave = date(2020, 1, 1) + Days::new(u64::from(days));
            let at = deactivate_at(leave, tz);
            // Just before: still the last day where the tenant is.
            let before = (at - chrono::Duration::seconds(1)).with_timezone(&tz).date_naive();
            prop_assert_eq!(before, leave);
            // At the moment: the next day.
            prop_assert_eq!(at.with_timezone(&tz).date_naive(), leave + Days::new(1));
            // A local day lasts 22 to 26 hours, whatever the clocks do.
            let length = at - start_of_day(leave, tz);
            prop_assert!(length >= chrono::Duration::hours(22) && length <= chrono::Duration::hours(26));
        }

        #[test]
        fn invites_come_no_later_than_the_start_day(
            days in 0u32..4000, before in 0u32..60, tz in any_zone()
        ) {
            let start = date(2020, 1, 1) + Days::new(u64::from(days));
            let now = Utc::now();
            let on = invite_at(InvitePolicy::OnStartDate, Some(start), tz, now).unwrap_or(now);
            prop_assert_eq!(on.with_timezone(&tz).date_naive(), start);
            let early = invite_at(InvitePolicy::DaysBefore(before), Some(start), tz, now).unwrap_or(now);
            prop_assert!(early <= on);
            prop_assert_eq!(early.with_timezone(&tz).date_naive(), start - Days::new(u64::from(before)));
        }
    }
}
