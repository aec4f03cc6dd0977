//! Changes to who a record is, as HR systems make them: the same person under
//! a new id, and a move to another legal entity (another company of the group).

use chrono::{DateTime, Duration, Utc};

use crate::company::Company;
use crate::ids::kombo_id;
use crate::mutate::{EMPLOYEE_MODELS, MutationError, MutationOutcome};

impl Company {
    /// Ends `id` (deleted, or terminated yesterday) and creates the same
    /// person under a new Kombo and remote id; returns the new id.
    pub(crate) fn recreate(
        &mut self,
        id: &str,
        terminate_old: bool,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        let mut copy = self.employee_mut(id)?.clone();
        let old = self.employee_mut(id)?;
        if terminate_old {
            old.termination_date = Some(now.date_naive() - Duration::days(1));
            old.employment_status = "INACTIVE".to_owned();
        } else {
            old.deleted_at = Some(now);
        }
        self.touch_employee(id, now, true);
        let new_id = kombo_id(&mut self.rng);
        let number = self.next_number;
        self.next_number += 1;
        copy.id = new_id.clone();
        copy.remote_id = format!("{}", 10_000 + number);
        copy.number = number;
        copy.termination_date = None;
        copy.employment_status = "ACTIVE".to_owned();
        copy.deleted_at = None;
        copy.created_at = now;
        copy.changed_at = now;
        copy.updated_at = now;
        self.employees.insert(new_id.clone(), copy);
        Ok(MutationOutcome {
            id: Some(new_id),
            models: EMPLOYEE_MODELS.iter().map(|m| (*m).to_owned()).collect(),
        })
    }

    pub(crate) fn change_legal_entity(
        &mut self,
        id: &str,
        legal_entity_id: String,
        now: DateTime<Utc>,
    ) -> Result<MutationOutcome, MutationError> {
        if !self.legal_entities.contains_key(&legal_entity_id) {
            return Err(MutationError(format!("no legal entity {legal_entity_id}")));
        }
        self.employee_mut(id)?.legal_entity_id = Some(legal_entity_id);
        self.touch_employee(id, now, true);
        Ok(MutationOutcome {
            id: Some(id.to_owned()),
            models: EMPLOYEE_MODELS.iter().map(|m| (*m).to_owned()).collect(),
        })
    }
}
