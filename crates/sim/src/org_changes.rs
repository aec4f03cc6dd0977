//! Changes an HR system makes to what is not a person: groups and locations
//! renamed, absences added and cancelled (the rest of `Mutation` is `mutate`).

use chrono::{DateTime, Duration, Utc};

use crate::company::{Company, SimAbsence};
use crate::ids::kombo_id;
use crate::mutate::{MutationError, MutationOutcome};

fn outcome(id: String, model: &str) -> MutationOutcome {
    MutationOutcome {
        id: Some(id),
        models: vec![model.to_owned()],
    }
}

impl Company {
    pub(crate) fn rename_group(
        &mut self,
        group_id: String,
        name: String,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        let g = self
            .groups
            .get_mut(&group_id)
            .ok_or_else(|| MutationError(format!("no group {group_id}")))?;
        g.name = name;
        g.changed_at = now;
        // A renamed group does not mark its members changed (Kombo's rule).
        Ok(outcome(group_id, "hris_teams"))
    }

    pub(crate) fn rename_location(
        &mut self,
        location_id: String,
        name: String,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        let l = self
            .locations
            .get_mut(&location_id)
            .ok_or_else(|| MutationError(format!("no location {location_id}")))?;
        l.name = name;
        l.changed_at = now;
        // The location is a linked record of employees: they match updated_after.
        for e in self
            .employees
            .values_mut()
            .filter(|e| e.location_id.as_deref() == Some(location_id.as_str()))
        {
            e.updated_at = now;
        }
        Ok(outcome(location_id, "hris_locations"))
    }

    pub(crate) fn add_absence(
        &mut self,
        employee_id: String,
        type_id: Option<String>,
        start_in_days: i64,
        days: i64,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        if !self.employees.contains_key(&employee_id) {
            return Err(MutationError(format!("no employee {employee_id}")));
        }
        let type_id = type_id
            .or_else(|| self.absence_types.keys().next().cloned())
            .ok_or_else(|| MutationError("no absence types".to_owned()))?;
        let id = kombo_id(&mut self.rng);
        let start = now.date_naive() + Duration::days(start_in_days);
        let n = self.absences.len();
        self.absences.insert(
            id.clone(),
            SimAbsence {
                id: id.clone(),
                remote_id: format!("ABS-N{n}"),
                employee_id,
                type_id,
                start_date: start,
                end_date: start + Duration::days(days.max(1) - 1),
                status: "APPROVED".to_owned(),
                changed_at: now,
                deleted_at: None,
            },
        );
        Ok(outcome(id, "hris_absences"))
    }

    pub(crate) fn cancel_absence(
        &mut self,
        absence_id: String,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        let a = self
            .absences
            .get_mut(&absence_id)
            .ok_or_else(|| MutationError(format!("no absence {absence_id}")))?;
        a.status = "CANCELLED".to_owned();
        a.changed_at = now;
        Ok(outcome(absence_id, "hris_absences"))
    }
}
