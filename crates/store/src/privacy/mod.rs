//! Personal data: anonymising a leaver, erasing a disconnected tenant, and
//! expiring history by each tenant's retention (deploy/PRIVACY.md lists what
//! is kept where). Every action writes a `privacy_audit` row that holds counts
//! and ids, never a value.

mod anonymise;
mod purge;
mod retention;

pub use anonymise::Anonymised;
pub use purge::Purged;
pub use retention::Expired;

/// Fields of a user's change log that hold personal values: blanked when the
/// user is anonymised, and removed from the `created` entry that lists them
/// all. Ids, dates and statuses stay (they explain a deactivation).
pub const PERSONAL_FIELDS: [&str; 8] = [
    "remote_id",
    "employee_number",
    "first_name",
    "last_name",
    "email",
    "job_title",
    "avatar_url",
    "custom_fields",
];

/// Shorter texts are too common to say that a payload names this person
/// (an "Li" is in many words).
const MIN_NEEDLE: usize = 3;

/// The texts that identify a person inside free text (a dead letter's
/// payload, a run's error): every email, the full name and the last name,
/// trimmed, without duplicates or texts too short to tell.
pub fn needles(
    first_name: Option<&str>,
    last_name: Option<&str>,
    emails: &[String],
) -> Vec<String> {
    let first = first_name.map(str::trim).unwrap_or_default();
    let last = last_name.map(str::trim).unwrap_or_default();
    let full = format!("{first} {last}");
    let mut out: Vec<String> = emails
        .iter()
        .map(|e| e.trim().to_owned())
        .chain([full.trim().to_owned(), last.to_owned()])
        .filter(|n| n.chars().count() >= MIN_NEEDLE)
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `apply` is false: the action ran in a transaction that was rolled
/// back, so its counts are exact and nothing changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    DryRun,
    Apply,
}

#[cfg(test)]
mod tests {
    use super::needles;

    #[test]
    fn needles_are_every_email_the_full_and_last_name_without_short_ones() {
        let emails = vec![
            " ada@x.example ".to_owned(),
            "ada.old@x.example".to_owned(),
            "ada@x.example".to_owned(),
        ];
        assert_eq!(
            needles(Some(" Ada "), Some("Lovelace"), &emails),
            vec![
                "Ada Lovelace".to_owned(),
                "Lovelace".to_owned(),
                "ada.old@x.example".to_owned(),
                "ada@x.example".to_owned(),
            ]
        );
        // A two-letter last name is no evidence on its own; the full name is.
        assert_eq!(
            needles(Some("Bo"), Some("Li"), &[]),
            vec!["Bo Li".to_owned()]
        );
        assert!(needles(None, None, &[]).is_empty());
    }
}
