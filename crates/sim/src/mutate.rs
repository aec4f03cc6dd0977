//! Changes to a running company, as an HR system would make them. Each returns
//! the models Kombo would report in its next `data-changed`.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::company::{Company, FIRST_NAMES, LAST_NAMES, SimEmployee, ascii_slug};
use crate::ids::kombo_id;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Mutation {
    Hire {
        #[serde(default)]
        job_title: Option<String>,
        #[serde(default)]
        manager_id: Option<String>,
        #[serde(default)]
        team_id: Option<String>,
        /// Start date relative to today (negative: already started).
        #[serde(default)]
        start_in_days: i64,
    },
    Promote {
        employee_id: String,
        job_title: String,
    },
    ChangeEmail {
        employee_id: String,
        email: Option<String>,
    },
    MoveTeam {
        employee_id: String,
        team_id: String,
    },
    ChangeManager {
        employee_id: String,
        manager_id: Option<String>,
    },
    Rename {
        employee_id: String,
        first_name: Option<String>,
        last_name: Option<String>,
    },
    /// Termination `days_from_today` (< 0: in the past, the person has left; 0: today is the last day).
    Terminate {
        employee_id: String,
        days_from_today: i64,
    },
    ReverseTermination {
        employee_id: String,
    },
    Rehire {
        employee_id: String,
    },
    Delete {
        employee_id: String,
    },
    /// Removes records from every listing without a trace (a lost deletion).
    Vanish {
        employee_ids: Vec<String>,
    },
    /// Puts vanished records back, unchanged (they were missed, not gone).
    Restore {
        employee_ids: Vec<String>,
    },
    RenameGroup {
        group_id: String,
        name: String,
    },
    ChangeLocation {
        employee_id: String,
        location_id: String,
    },
    RenameLocation {
        location_id: String,
        name: String,
    },
    AddAbsence {
        employee_id: String,
        #[serde(default)]
        type_id: Option<String>,
        #[serde(default)]
        start_in_days: i64,
        #[serde(default = "one")]
        days: i64,
    },
    CancelAbsence {
        absence_id: String,
    },
    /// The same person under a new Kombo id: the HR system deleted the record
    /// and created it again, or (with `terminate_old`) ended the old contract
    /// and started a new one (a contractor made permanent).
    Recreate {
        employee_id: String,
        #[serde(default)]
        terminate_old: bool,
    },
    ChangeLegalEntity {
        employee_id: String,
        legal_entity_id: String,
    },
}

fn one() -> i64 {
    1
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MutationRequest {
    #[serde(flatten)]
    pub mutation: Mutation,
    /// Apply without sending a webhook (a lost event).
    #[serde(default)]
    pub silent: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MutationOutcome {
    /// The record created or changed.
    pub id: Option<String>,
    pub models: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct MutationError(pub String);

pub(crate) const EMPLOYEE_MODELS: &[&str] = &["hris_employees", "hris_employments"];

impl Company {
    pub(crate) fn employee_mut(&mut self, id: &str) -> Result<&mut SimEmployee, MutationError> {
        self.employees
            .get_mut(id)
            .ok_or_else(|| MutationError(format!("no employee {id}")))
    }

    /// Marks `id` changed; its reports embed it (`manager`), so they change too.
    pub(crate) fn touch_employee(&mut self, id: &str, now: DateTime<Utc>, own_fields: bool) {
        if let Some(e) = self.employees.get_mut(id) {
            e.updated_at = now;
            if own_fields {
                e.changed_at = now;
            }
        }
        if own_fields {
            for e in self
                .employees
                .values_mut()
                .filter(|e| e.manager_id.as_deref() == Some(id))
            {
                e.updated_at = now;
            }
        }
    }

    pub fn apply(
        &mut self,
        mutation: Mutation,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        let today = now.date_naive();
        let models = |m: &[&str]| m.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let outcome = match mutation {
            Mutation::Hire {
                job_title,
                manager_id,
                team_id,
                start_in_days,
            } => {
                let id = kombo_id(&mut self.rng);
                let number = self.next_number;
                self.next_number += 1;
                let first = FIRST_NAMES[self.rng.random_range(0..FIRST_NAMES.len())];
                let last = LAST_NAMES[self.rng.random_range(0..LAST_NAMES.len())];
                let team = team_id.or_else(|| {
                    self.groups
                        .values()
                        .find(|g| g.group_type.as_deref() == Some("TEAM"))
                        .map(|g| g.id.clone())
                });
                let mut group_ids: Vec<String> = team.iter().cloned().collect();
                if let Some(parent) = team
                    .as_ref()
                    .and_then(|t| self.groups.get(t))
                    .and_then(|g| g.parent_id.clone())
                {
                    group_ids.push(parent);
                }
                let e = SimEmployee {
                    id: id.clone(),
                    remote_id: format!("{}", 10_000 + number),
                    number,
                    first_name: first.to_owned(),
                    last_name: last.to_owned(),
                    work_email: Some(format!(
                        "{}.{}.h{number}@{}.example",
                        ascii_slug(first),
                        ascii_slug(last),
                        self.spec.domain
                    )),
                    job_title: job_title.unwrap_or_else(|| "New Hire".to_owned()),
                    employment_status: if start_in_days > 0 {
                        "PENDING"
                    } else {
                        "ACTIVE"
                    }
                    .to_owned(),
                    employment_type: "FULL_TIME".to_owned(),
                    start_date: today + Duration::days(start_in_days),
                    termination_date: None,
                    manager_id,
                    group_ids,
                    location_id: self.locations.keys().next().cloned(),
                    legal_entity_id: self.legal_entities.keys().next().cloned(),
                    avatar: None,
                    created_at: now,
                    changed_at: now,
                    updated_at: now,
                    deleted_at: None,
                };
                self.employees.insert(id.clone(), e);
                MutationOutcome {
                    id: Some(id),
                    models: models(&[
                        "hris_employees",
                        "hris_employments",
                        "hris_join_employees_teams",
                    ]),
                }
            }
            Mutation::Promote {
                employee_id,
                job_title,
            } => {
                self.employee_mut(&employee_id)?.job_title = job_title;
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::ChangeEmail { employee_id, email } => {
                self.employee_mut(&employee_id)?.work_email = email;
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::MoveTeam {
                employee_id,
                team_id,
            } => {
                let parent = self
                    .groups
                    .get(&team_id)
                    .ok_or_else(|| MutationError(format!("no group {team_id}")))?
                    .parent_id
                    .clone();
                let e = self.employee_mut(&employee_id)?;
                e.group_ids = std::iter::once(team_id).chain(parent).collect();
                e.updated_at = now;
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(&["hris_join_employees_teams"]),
                }
            }
            Mutation::ChangeManager {
                employee_id,
                manager_id,
            } => {
                self.employee_mut(&employee_id)?.manager_id = manager_id;
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::Rename {
                employee_id,
                first_name,
                last_name,
            } => {
                let e = self.employee_mut(&employee_id)?;
                if let Some(f) = first_name {
                    e.first_name = f;
                }
                if let Some(l) = last_name {
                    e.last_name = l;
                }
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::Terminate {
                employee_id,
                days_from_today,
            } => {
                let e = self.employee_mut(&employee_id)?;
                e.termination_date = Some(today + Duration::days(days_from_today));
                // The last day itself is still a working day: HR systems mark
                // the person inactive from the day after.
                if days_from_today < 0 {
                    e.employment_status = "INACTIVE".to_owned();
                }
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::ReverseTermination { employee_id } => {
                let e = self.employee_mut(&employee_id)?;
                e.termination_date = None;
                e.employment_status = "ACTIVE".to_owned();
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::Rehire { employee_id } => {
                let e = self.employee_mut(&employee_id)?;
                e.termination_date = None;
                e.employment_status = "ACTIVE".to_owned();
                e.start_date = today;
                e.deleted_at = None;
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::Delete { employee_id } => {
                self.employee_mut(&employee_id)?.deleted_at = Some(now);
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::Vanish { employee_ids } => {
                for id in &employee_ids {
                    if let Some(e) = self.employees.remove(id) {
                        self.vanished.insert(id.clone(), e);
                    }
                }
                MutationOutcome {
                    id: None,
                    models: Vec::new(),
                }
            }
            Mutation::Restore { employee_ids } => {
                for id in &employee_ids {
                    let e = self
                        .vanished
                        .remove(id)
                        .ok_or_else(|| MutationError(format!("no vanished employee {id}")))?;
                    self.employees.insert(id.clone(), e);
                }
                MutationOutcome {
                    id: None,
                    models: Vec::new(),
                }
            }
            Mutation::RenameGroup { group_id, name } => self.rename_group(group_id, name, now)?,
            Mutation::ChangeLocation {
                employee_id,
                location_id,
            } => {
                if !self.locations.contains_key(&location_id) {
                    return Err(MutationError(format!("no location {location_id}")));
                }
                let e = self.employee_mut(&employee_id)?;
                e.location_id = Some(location_id);
                self.touch_employee(&employee_id, now, true);
                MutationOutcome {
                    id: Some(employee_id),
                    models: models(EMPLOYEE_MODELS),
                }
            }
            Mutation::RenameLocation { location_id, name } => {
                self.rename_location(location_id, name, now)?
            }
            Mutation::AddAbsence {
                employee_id,
                type_id,
                start_in_days,
                days,
            } => self.add_absence(employee_id, type_id, start_in_days, days, now)?,
            Mutation::Recreate {
                employee_id,
                terminate_old,
            } => self.recreate(&employee_id, terminate_old, now)?,
            Mutation::ChangeLegalEntity {
                employee_id,
                legal_entity_id,
            } => self.change_legal_entity(&employee_id, legal_entity_id, now)?,
            Mutation::CancelAbsence { absence_id } => self.cancel_absence(absence_id, now)?,
        };
        Ok(outcome)
    }
}
