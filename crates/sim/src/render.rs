//! Simulated records rendered as Kombo's wire types (schema-complete).

use hris_kombo::records::{
    Absence, AbsenceType, Address, EmbeddedGroup, EmbeddedLegalEntity, EmbeddedManager, Employee,
    Employment, Group, LegalEntity, Location,
};
use serde_json::{Map, Value};

use crate::company::{
    Company, SimAbsence, SimAbsenceType, SimEmployee, SimGroup, SimLegalEntity, SimLocation,
    midnight, timestamp,
};

pub fn location(l: &SimLocation) -> Location {
    Location {
        id: l.id.clone(),
        remote_id: Some(l.remote_id.clone()),
        name: Some(l.name.clone()),
        address: Some(Address {
            city: Some(l.city.clone()),
            country: Some(l.country.clone()),
            raw: Some(format!("{}, {}", l.city, l.country)),
            ..Address::default()
        }),
        location_type: Some("OFFICE".to_owned()),
        changed_at: timestamp(l.changed_at),
        remote_deleted_at: l.deleted_at.map(timestamp),
        remote_data: None,
    }
}

pub fn group(g: &SimGroup) -> Group {
    Group {
        id: g.id.clone(),
        remote_id: Some(g.remote_id.clone()),
        name: Some(g.name.clone()),
        changed_at: timestamp(g.changed_at),
        remote_deleted_at: g.deleted_at.map(timestamp),
        group_type: g.group_type.clone(),
        parent_id: g.parent_id.clone(),
        remote_data: None,
    }
}

pub fn legal_entity(e: &SimLegalEntity) -> LegalEntity {
    LegalEntity {
        id: e.id.clone(),
        remote_id: Some(e.remote_id.clone()),
        name: Some(e.name.clone()),
        address: Some(Address {
            country: Some(e.country.clone()),
            ..Address::default()
        }),
        changed_at: timestamp(e.changed_at),
        remote_deleted_at: e.deleted_at.map(timestamp),
        remote_data: None,
    }
}

pub fn absence_type(t: &SimAbsenceType) -> AbsenceType {
    AbsenceType {
        id: t.id.clone(),
        remote_id: Some(t.remote_id.clone()),
        name: Some(t.name.clone()),
        unit: Some(t.unit.clone()),
        half_days_supported: Some(true),
        exact_times_supported: Some(false),
        remote_data: None,
        changed_at: timestamp(t.changed_at),
        remote_deleted_at: t.deleted_at.map(timestamp),
    }
}

pub fn absence(company: &Company, a: &SimAbsence) -> Absence {
    Absence {
        id: a.id.clone(),
        remote_id: Some(a.remote_id.clone()),
        employee_id: a.employee_id.clone(),
        approver_id: None,
        start_date: Some(a.start_date.format("%Y-%m-%d").to_string()),
        end_date: Some(a.end_date.format("%Y-%m-%d").to_string()),
        start_half_day: Some(false),
        end_half_day: Some(false),
        start_time: None,
        end_time: None,
        amount: Some(((a.end_date - a.start_date).num_days() + 1) as f64),
        unit: Some("DAYS".to_owned()),
        status: Some(a.status.clone()),
        employee_note: None,
        type_id: Some(a.type_id.clone()),
        remote_created_at: Some(timestamp(a.changed_at)),
        remote_updated_at: Some(timestamp(a.changed_at)),
        changed_at: timestamp(a.changed_at),
        remote_deleted_at: a.deleted_at.map(timestamp),
        remote_data: None,
        absence_type: company.absence_types.get(&a.type_id).map(absence_type),
    }
}

pub fn employee(company: &Company, e: &SimEmployee) -> Employee {
    let groups: Vec<EmbeddedGroup> = e
        .group_ids
        .iter()
        .filter_map(|id| company.groups.get(id))
        .filter(|g| g.deleted_at.is_none())
        .map(|g| EmbeddedGroup {
            id: g.id.clone(),
            remote_id: Some(g.remote_id.clone()),
            name: Some(g.name.clone()),
            group_type: g.group_type.clone(),
        })
        .collect();
    let manager = e
        .manager_id
        .as_ref()
        .and_then(|id| company.employees.get(id))
        .map(|m| EmbeddedManager {
            first_name: Some(m.first_name.clone()),
            last_name: Some(m.last_name.clone()),
            display_full_name: Some(format!("{} {}", m.first_name, m.last_name)),
            id: m.id.clone(),
            employee_number: Some(m.number.to_string()),
            work_email: m.work_email.clone(),
            remote_id: Some(m.remote_id.clone()),
            employment_status: Some(m.employment_status.clone()),
            termination_date: m.termination_date.map(midnight),
        });
    let mut custom_fields = Map::new();
    custom_fields.insert(
        "shirt_size".to_owned(),
        Value::from(["S", "M", "L"][(e.number % 3) as usize]),
    );
    Employee {
        id: e.id.clone(),
        remote_id: Some(e.remote_id.clone()),
        employee_number: Some(e.number.to_string()),
        first_name: Some(e.first_name.clone()),
        last_name: Some(e.last_name.clone()),
        nationality: None,
        display_full_name: Some(format!("{} {}", e.first_name, e.last_name)),
        job_title: Some(e.job_title.clone()),
        work_email: e.work_email.clone(),
        personal_email: None,
        mobile_phone_number: None,
        ssn: None,
        tax_id: None,
        gender: None,
        ethnicity: None,
        marital_status: None,
        employment_status: Some(e.employment_status.clone()),
        employment_type: Some(e.employment_type.clone()),
        weekly_hours: Some(if e.employment_type == "PART_TIME" {
            20.0
        } else {
            40.0
        }),
        avatar: e.avatar.clone(),
        work_location_id: e.location_id.clone(),
        legal_entity_id: e.legal_entity_id.clone(),
        manager_id: e.manager_id.clone(),
        home_address: None,
        bank_accounts: None,
        date_of_birth: None,
        start_date: Some(midnight(e.start_date)),
        termination_date: e.termination_date.map(midnight),
        remote_created_at: Some(timestamp(e.created_at)),
        changed_at: timestamp(e.changed_at),
        remote_deleted_at: e.deleted_at.map(timestamp),
        custom_fields: Some(custom_fields),
        integration_fields: Vec::new(),
        remote_data: None,
        employments: vec![Employment {
            id: format!("{}-emp", e.id),
            remote_id: Some(format!("EMP-{}", e.number)),
            employee_id: e.id.clone(),
            job_title: Some(e.job_title.clone()),
            pay_rate: None,
            pay_period: None,
            pay_frequency: None,
            employment_type: Some(e.employment_type.clone()),
            pay_currency: None,
            effective_date: Some(midnight(e.start_date)),
            changed_at: timestamp(e.changed_at),
            remote_deleted_at: None,
            remote_data: None,
            custom_fields: None,
            integration_fields: Vec::new(),
        }],
        time_off_balances: Vec::new(),
        manager,
        teams: groups
            .iter()
            .filter(|g| g.group_type.as_deref() == Some("TEAM"))
            .cloned()
            .collect(),
        groups,
        legal_entity: e
            .legal_entity_id
            .as_ref()
            .and_then(|id| company.legal_entities.get(id))
            .map(|l| EmbeddedLegalEntity {
                id: l.id.clone(),
                remote_id: Some(l.remote_id.clone()),
                name: Some(l.name.clone()),
                address: None,
            }),
        work_location: e
            .location_id
            .as_ref()
            .and_then(|id| company.locations.get(id))
            .map(location),
    }
}
