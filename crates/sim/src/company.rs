//! A seeded, realistic company: departments and teams with parents, locations, a
//! manager hierarchy, future starters, leavers with past and future termination
//! dates, people on leave, deleted records, absences with types, a few raw-string
//! statuses and missing emails. Same seed, same company (`generate.rs` makes it).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// What company to make.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanySpec {
    pub employees: usize,
    pub seed: u64,
    /// Lower-case slug used in e-mail domains.
    pub domain: String,
    /// Share of employees with an absence.
    pub absence_share: f64,
    /// Kombo nulls invalid e-mails; with this set the simulator passes a few
    /// invalid ones through anyway, to exercise the platform's flagging.
    pub raw_invalid_emails: bool,
}

impl Default for CompanySpec {
    fn default() -> Self {
        Self {
            employees: 100,
            seed: 1,
            domain: "acme".to_owned(),
            absence_share: 0.2,
            raw_invalid_emails: false,
        }
    }
}

pub use crate::records::{
    SimAbsence, SimAbsenceType, SimEmployee, SimGroup, SimLegalEntity, SimLocation, SimRecord,
};

pub struct Company {
    pub spec: CompanySpec,
    pub employees: BTreeMap<String, SimEmployee>,
    pub groups: BTreeMap<String, SimGroup>,
    pub locations: BTreeMap<String, SimLocation>,
    pub legal_entities: BTreeMap<String, SimLegalEntity>,
    pub absence_types: BTreeMap<String, SimAbsenceType>,
    pub absences: BTreeMap<String, SimAbsence>,
    pub rng: StdRng,
    pub next_number: u64,
    /// Records a `vanish` took out of every listing, for `restore` (an HR
    /// export that missed people once).
    pub vanished: BTreeMap<String, SimEmployee>,
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "Anna", "Ben", "Clara", "David", "Elif", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Mia", "Noah", "Olga", "Paul", "Rosa", "Samir", "Tara", "Umut", "Vera", "Wim", "Yara",
    "Zoe", "Émile", "Søren", "Łucja", "Nguyễn", "Akira", "Priya",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "Müller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Koch",
    "Richter",
    "Klein",
    "Wolf",
    "Schröder",
    "Neumann",
    "O'Brien",
    "García",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nakamura",
    "Okafor",
    "Jensen",
    "Silva",
    "Novak",
    "Yilmaz",
];
pub(crate) const TITLES: &[&str] = &[
    "Software Engineer",
    "Account Executive",
    "Product Manager",
    "Designer",
    "Data Analyst",
    "HR Business Partner",
    "Support Specialist",
    "Controller",
    "Recruiter",
    "Sales Manager",
];
pub fn midnight(date: NaiveDate) -> String {
    format!("{}T00:00:00.000Z", date.format("%Y-%m-%d"))
}

pub fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// E-mail local parts stay ASCII: `Müller` becomes `mueller`.
pub(crate) fn ascii_slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.to_lowercase().chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'ä' => out.push_str("ae"),
            'ö' => out.push_str("oe"),
            'ü' => out.push_str("ue"),
            'ß' => out.push_str("ss"),
            'é' | 'è' | 'ê' | 'ễ' => out.push('e'),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'í' => out.push('i'),
            'á' => out.push('a'),
            'ç' => out.push('c'),
            'ñ' => out.push('n'),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_company() {
        let now = Utc::now();
        let a = Company::generate(
            CompanySpec {
                employees: 300,
                ..CompanySpec::default()
            },
            now,
        );
        let b = Company::generate(
            CompanySpec {
                employees: 300,
                ..CompanySpec::default()
            },
            now,
        );
        assert_eq!(
            a.employees.keys().collect::<Vec<_>>(),
            b.employees.keys().collect::<Vec<_>>()
        );
        assert_eq!(a.employees.len(), 300);
        assert!(a.groups.values().any(|g| g.parent_id.is_some()));
        assert!(a.employees.values().any(|e| e.termination_date.is_some()));
    }

    #[test]
    fn emails_are_unique_and_ascii() {
        let c = Company::generate(
            CompanySpec {
                employees: 2_000,
                ..CompanySpec::default()
            },
            Utc::now(),
        );
        let mut seen = std::collections::HashSet::new();
        for e in c.employees.values() {
            if let Some(email) = &e.work_email {
                assert!(email.is_ascii(), "{email}");
                assert!(seen.insert(email.to_lowercase()), "duplicate {email}");
            }
        }
    }
}
