//! Generating a seeded company: legal entities and locations, departments
//! with teams below them, a manager hierarchy, starters, leavers, people on
//! leave, deleted records and absences. Same seed, same company.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::company::{
    Company, CompanySpec, FIRST_NAMES, LAST_NAMES, SimAbsence, SimAbsenceType, SimEmployee,
    SimGroup, SimLegalEntity, SimLocation, TITLES, ascii_slug,
};
use crate::ids::kombo_id;

const DEPARTMENTS: &[&str] = &[
    "Engineering",
    "Sales",
    "Marketing",
    "Finance",
    "People",
    "Operations",
    "Customer Success",
    "Legal",
    "Product",
    "Design",
];
const CITIES: &[(&str, &str)] = &[
    ("Berlin", "DE"),
    ("Munich", "DE"),
    ("London", "GB"),
    ("Paris", "FR"),
    ("New York", "US"),
    ("San Francisco", "US"),
    ("Sydney", "AU"),
    ("Tokyo", "JP"),
    ("Warsaw", "PL"),
    ("Lisbon", "PT"),
];
const RAW_STATUSES: &[&str] = &["Probezeit", "garden leave", "Sabbatical"];

impl Company {
    /// Builds the company as of `now`; every record's history lies before `now`.
    pub fn generate(spec: CompanySpec, now: DateTime<Utc>) -> Self {
        let mut rng = StdRng::seed_from_u64(spec.seed);
        let past =
            |rng: &mut StdRng| now - Duration::seconds(rng.random_range(3_600..86_400 * 400));
        let mut company = Company {
            spec: spec.clone(),
            employees: BTreeMap::new(),
            groups: BTreeMap::new(),
            locations: BTreeMap::new(),
            legal_entities: BTreeMap::new(),
            absence_types: BTreeMap::new(),
            absences: BTreeMap::new(),
            rng: StdRng::seed_from_u64(spec.seed ^ 0x5eed),
            next_number: 1,
            vanished: BTreeMap::new(),
        };
        let size = spec.employees.max(1);

        let entity_count = 2 + size / 50_000;
        let entities: Vec<String> = (0..entity_count.min(5))
            .map(|i| {
                let (_, country) = CITIES[i % CITIES.len()];
                let e = SimLegalEntity {
                    id: kombo_id(&mut rng),
                    remote_id: format!("LE-{i}"),
                    name: format!("{} {} GmbH", capitalise(&spec.domain), country),
                    country: country.to_owned(),
                    changed_at: past(&mut rng),
                    deleted_at: None,
                };
                let id = e.id.clone();
                company.legal_entities.insert(id.clone(), e);
                id
            })
            .collect();

        let location_count = (size / 400).clamp(2, 60);
        let locations: Vec<String> = (0..location_count)
            .map(|i| {
                let (city, country) = CITIES[i % CITIES.len()];
                let name = if i < CITIES.len() {
                    format!("{city} Office")
                } else {
                    format!("{city} Office {}", i / CITIES.len() + 1)
                };
                let l = SimLocation {
                    id: kombo_id(&mut rng),
                    remote_id: format!("LOC-{i}"),
                    name,
                    city: city.to_owned(),
                    country: country.to_owned(),
                    changed_at: past(&mut rng),
                    deleted_at: None,
                };
                let id = l.id.clone();
                company.locations.insert(id.clone(), l);
                id
            })
            .collect();

        let add_group = |company: &mut Company,
                         rng: &mut StdRng,
                         name: String,
                         kind: Option<&str>,
                         parent: Option<String>,
                         n: usize| {
            let g = SimGroup {
                id: kombo_id(rng),
                remote_id: format!("G-{n}"),
                name,
                group_type: kind.map(str::to_owned),
                parent_id: parent,
                changed_at: past(rng),
                deleted_at: None,
            };
            let id = g.id.clone();
            company.groups.insert(id.clone(), g);
            id
        };
        let dept_count = (size / 50).clamp(2, DEPARTMENTS.len());
        let departments: Vec<String> = (0..dept_count)
            .map(|i| {
                add_group(
                    &mut company,
                    &mut rng,
                    DEPARTMENTS[i].to_owned(),
                    Some("DEPARTMENT"),
                    None,
                    i,
                )
            })
            .collect();
        let team_count = (size / 8).clamp(2, 20_000);
        let teams: Vec<(String, String)> = (0..team_count)
            .map(|i| {
                let dept = departments[i % departments.len()].clone();
                let name = format!(
                    "{} Team {}",
                    DEPARTMENTS[i % dept_count],
                    i / dept_count + 1
                );
                let id = add_group(
                    &mut company,
                    &mut rng,
                    name,
                    Some("TEAM"),
                    Some(dept.clone()),
                    1000 + i,
                );
                (id, dept)
            })
            .collect();
        let cost_centers: Vec<String> = (0..3)
            .map(|i| {
                add_group(
                    &mut company,
                    &mut rng,
                    format!("CC-{}", 100 + i),
                    Some("COST_CENTER"),
                    None,
                    500 + i,
                )
            })
            .collect();
        // A group whose type the HR system does not classify.
        add_group(
            &mut company,
            &mut rng,
            "Book Club".to_owned(),
            None,
            None,
            900,
        );

        let today = now.date_naive();
        let mut ids_by_index: Vec<String> = Vec::with_capacity(size);
        for i in 0..size {
            let id = kombo_id(&mut rng);
            let first = FIRST_NAMES[rng.random_range(0..FIRST_NAMES.len())];
            let last = LAST_NAMES[rng.random_range(0..LAST_NAMES.len())];
            // The manager is someone earlier in the hierarchy (fan-out ~7); ids are
            // random, so listings often return a report before their manager.
            let manager_id = (i > 0).then(|| ids_by_index[(i - 1) / 7].clone());
            let (team, dept) = &teams[i % teams.len()];
            let mut group_ids = vec![team.clone(), dept.clone()];
            if i % 5 == 0 {
                group_ids.push(cost_centers[i % cost_centers.len()].clone());
            }
            let roll: f64 = rng.random();
            let start_date = today - Duration::days(rng.random_range(30..3_650));
            let (status, start_date, termination_date) = match roll {
                r if r < 0.02 => (
                    "PENDING".to_owned(),
                    today + Duration::days(rng.random_range(1..60)),
                    None,
                ),
                r if r < 0.07 => (
                    "INACTIVE".to_owned(),
                    start_date,
                    Some(today - Duration::days(rng.random_range(1..365))),
                ),
                r if r < 0.08 => (
                    "ACTIVE".to_owned(),
                    start_date,
                    Some(today + Duration::days(rng.random_range(1..90))),
                ),
                r if r < 0.11 => ("LEAVE".to_owned(), start_date, None),
                r if r < 0.115 => (
                    RAW_STATUSES[i % RAW_STATUSES.len()].to_owned(),
                    start_date,
                    None,
                ),
                _ => ("ACTIVE".to_owned(), start_date, None),
            };
            let email_roll: f64 = rng.random();
            let local = format!("{}.{}{}", ascii_slug(first), ascii_slug(last), i);
            let work_email = if email_roll < 0.01 {
                None
            } else if email_roll < 0.015 && spec.raw_invalid_emails {
                Some(format!("{local}@localhost"))
            } else if email_roll < 0.02 {
                // Mixed case: valid, and normalised on our side.
                Some(format!("{}@{}.example", capitalise(&local), spec.domain))
            } else {
                Some(format!("{local}@{}.example", spec.domain))
            };
            let created = past(&mut rng);
            let deleted_at = (rng.random::<f64>() < 0.005)
                .then(|| now - Duration::days(rng.random_range(1..30)));
            let number = company.next_number;
            company.next_number += 1;
            let e = SimEmployee {
                id: id.clone(),
                remote_id: format!("{}", 10_000 + number),
                number,
                first_name: first.to_owned(),
                last_name: last.to_owned(),
                work_email,
                job_title: TITLES[rng.random_range(0..TITLES.len())].to_owned(),
                employment_status: status,
                employment_type: if i % 9 == 0 { "PART_TIME" } else { "FULL_TIME" }.to_owned(),
                start_date,
                termination_date,
                manager_id,
                group_ids,
                location_id: Some(locations[rng.random_range(0..locations.len())].clone()),
                legal_entity_id: Some(entities[i % entities.len()].clone()),
                avatar: (i % 3 == 0)
                    .then(|| format!("https://avatars.{}.example/{}.png", spec.domain, number)),
                created_at: created,
                changed_at: created,
                updated_at: created,
                deleted_at,
            };
            ids_by_index.push(id.clone());
            company.employees.insert(id, e);
        }

        let types: Vec<String> = ["Vacation", "Sick leave", "Parental leave", "Training"]
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let t = SimAbsenceType {
                    id: kombo_id(&mut rng),
                    remote_id: format!("AT-{i}"),
                    name: (*name).to_owned(),
                    unit: "DAYS".to_owned(),
                    changed_at: past(&mut rng),
                    deleted_at: None,
                };
                let id = t.id.clone();
                company.absence_types.insert(id.clone(), t);
                id
            })
            .collect();
        let absence_count = (size as f64 * spec.absence_share) as usize;
        for i in 0..absence_count {
            let employee_id = ids_by_index[rng.random_range(0..ids_by_index.len())].clone();
            let start = today + Duration::days(rng.random_range(-60..60));
            let status = match i % 10 {
                0 => "REQUESTED",
                1 => "DECLINED",
                2 => "CANCELLED",
                _ => "APPROVED",
            };
            let a = SimAbsence {
                id: kombo_id(&mut rng),
                remote_id: format!("ABS-{i}"),
                employee_id,
                type_id: types[i % types.len()].clone(),
                start_date: start,
                end_date: start + Duration::days(rng.random_range(0..14)),
                status: status.to_owned(),
                changed_at: past(&mut rng),
                deleted_at: None,
            };
            company.absences.insert(a.id.clone(), a);
        }
        company
    }
}

pub(crate) fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
