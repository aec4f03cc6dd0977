//! Kombo employee → platform user: every rule of DESIGN.md's mapping table.

use chrono::{DateTime, NaiveDate, Utc};
use hris_kombo::records::{EmbeddedGroup, Employee};
use serde_json::{Map, Value};

use crate::dates::{date_part, timestamp};
use crate::email::{EmailStatus, MAX_EMAIL_CHARS, normalise};
use crate::lifecycle::{deactivate_at, invite_at};
use crate::org::{LegalEntityFields, LocationFields, TeamFields, deleted_at};
use crate::policy::{FirstNameSource, Scope, TenantPolicy};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserStatus {
    Active,
    Deactivated,
}

impl UserStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Active => "active",
            UserStatus::Deactivated => "deactivated",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "deactivated" {
            UserStatus::Deactivated
        } else {
            UserStatus::Active
        }
    }
}

/// Why a user is deactivated (stored, shown by `explain`).
pub mod reason {
    pub const DELETED_UPSTREAM: &str = "deleted_upstream";
    pub const INACTIVE: &str = "employment_status_inactive";
    pub const LEFT: &str = "leave_date_reached";
    pub const VANISHED: &str = "missing_from_full_sync";
    /// Outside the tenant's `scope_filter` (another company, say).
    pub const OUT_OF_SCOPE: &str = "out_of_scope";
}

synced_columns! {
    /// The synced columns of `users`, as the HR system says they should be.
    /// Each field is a column of that name: the page write and the stored
    /// read take their column lists from here (`UserFields::COLUMNS`), and
    /// the change log records each under the name after `=>`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct UserFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        employee_number: Option<String> => "employee_number",
        first_name: Option<String> => "first_name",
        last_name: Option<String> => "last_name",
        email: Option<String> => "email",
        email_status: EmailStatus => "email_status",
        job_title: Option<String> => "job_title",
        hire_date: Option<NaiveDate> => "hire_date",
        leave_date: Option<NaiveDate> => "leave_date",
        status: UserStatus => "status",
        /// Kombo's raw value: unknown strings are kept.
        employment_status: Option<String> => "employment_status",
        deactivation_reason: Option<String> => "deactivation_reason",
        manager_kombo_id: Option<String> => "manager",
        primary_team_kombo_id: Option<String> => "primary_team",
        location_kombo_id: Option<String> => "location",
        legal_entity_kombo_id: Option<String> => "legal_entity",
        employment_type: Option<String> => "employment_type",
        avatar_url: Option<String> => "avatar_url",
        custom_fields: Option<Value> => "custom_fields",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at",
    }
}

text_column!(UserStatus);
text_column!(EmailStatus);

/// One employee, mapped: the user plus what it refers to (the teams, location and
/// legal entity it is embedded with, so references resolve even before the teams
/// or locations worker has run).
#[derive(Debug, Clone, PartialEq)]
pub struct MappedUser {
    pub user: UserFields,
    /// Kombo's `changed_at`: orders snapshots of the same record.
    pub changed_at: Option<DateTime<Utc>>,
    /// When a future leaver is to be deactivated (end of the leave day).
    pub deactivate_at: Option<DateTime<Utc>>,
    /// When to invite the user, per the tenant's policy.
    pub invite_at: Option<DateTime<Utc>>,
    /// Every group the employee is in: the `hris` team memberships.
    pub team_kombo_ids: Vec<String>,
    pub embedded_teams: Vec<TeamFields>,
    pub embedded_location: Option<LocationFields>,
    pub embedded_legal_entity: Option<LegalEntityFields>,
    /// What the mapping had to change to store the record (a cut field, a
    /// dropped reference): shown to the tenant as a record issue.
    pub notes: Vec<FieldNote>,
    /// Inside the tenant's `scope_filter`. A person outside it is never
    /// created; a user who moves out is deactivated like a leaver.
    pub in_scope: bool,
}

/// A field the mapping stored other than as received, and why; never the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldNote {
    pub field: &'static str,
    pub what: String,
}

/// Longest names, titles and other free text kept on a user.
pub const MAX_NAME_CHARS: usize = 500;
/// Longest reference id (manager, team, location, legal entity) kept.
pub const MAX_REF_BYTES: usize = hris_kombo::sanitize::MAX_ID_BYTES;

/// Caps free text at [`MAX_NAME_CHARS`], noting the original length.
fn capped(
    field: &'static str,
    value: &Option<String>,
    notes: &mut Vec<FieldNote>,
) -> Option<String> {
    let value = value.as_ref()?;
    let chars = value.chars().count();
    if chars <= MAX_NAME_CHARS {
        return Some(value.clone());
    }
    notes.push(FieldNote {
        field,
        what: format!("cut from {chars} to {MAX_NAME_CHARS} characters"),
    });
    Some(value.chars().take(MAX_NAME_CHARS).collect())
}

/// A reference id, or none when it is empty or too long to be a real id.
fn reference(
    field: &'static str,
    id: Option<String>,
    notes: &mut Vec<FieldNote>,
) -> Option<String> {
    let id = id.filter(|id| !id.is_empty())?;
    if id.len() > MAX_REF_BYTES {
        notes.push(FieldNote {
            field,
            what: format!(
                "reference of {} bytes dropped (over {MAX_REF_BYTES})",
                id.len()
            ),
        });
        return None;
    }
    Some(id)
}

/// Maps one employee as of `now`.
pub fn map_employee(employee: &Employee, policy: &TenantPolicy, now: DateTime<Utc>) -> MappedUser {
    let tz = policy.time_zone;
    let mut notes = Vec::new();
    let (email, email_status) = normalise(employee.work_email.as_deref());
    if let Some(raw) = employee.work_email.as_deref().map(str::trim)
        && raw.chars().count() > MAX_EMAIL_CHARS
    {
        notes.push(FieldNote {
            field: "email",
            what: format!(
                "invalid address of {} characters, cut to {MAX_EMAIL_CHARS}",
                raw.chars().count()
            ),
        });
    }
    let leave_date = date_part(employee.termination_date.as_deref());
    let remote_deleted_at = deleted_at(employee.remote_deleted_at.as_deref());
    let deactivate_at = leave_date.map(|d| deactivate_at(d, tz));
    let hire_date = date_part(employee.start_date.as_deref());
    let groups: Vec<&EmbeddedGroup> = unique_groups(&employee.groups, &employee.teams)
        .into_iter()
        .filter(|g| reference("teams", Some(g.id.clone()), &mut notes).is_some())
        .collect();
    let with_scope = |scope: Scope, value: Option<String>| value.filter(|_| policy.has(scope));
    let location = reference(
        "location",
        employee
            .work_location
            .as_ref()
            .map(|l| l.id.clone())
            .or_else(|| employee.work_location_id.clone()),
        &mut notes,
    );
    let legal_entity = reference(
        "legal_entity",
        employee
            .legal_entity
            .as_ref()
            .map(|l| l.id.clone())
            .or_else(|| employee.legal_entity_id.clone()),
        &mut notes,
    );
    let manager = reference("manager", employee.manager_id.clone(), &mut notes);
    let in_scope = policy.scope_filter.admits(
        legal_entity.as_deref(),
        location.as_deref(),
        groups.iter().map(|g| g.id.as_str()),
    );
    let deactivation_reason = deactivation_reason(
        remote_deleted_at.is_some(),
        employee.employment_status.as_deref(),
        deactivate_at,
        now,
    )
    .or((!in_scope).then_some(reason::OUT_OF_SCOPE));
    let user = UserFields {
        kombo_id: employee.id.clone(),
        remote_id: capped("remote_id", &employee.remote_id, &mut notes),
        employee_number: capped("employee_number", &employee.employee_number, &mut notes),
        first_name: capped("first_name", &first_name(employee, policy), &mut notes),
        last_name: capped("last_name", &employee.last_name, &mut notes),
        email,
        email_status,
        job_title: capped("job_title", &employee.job_title, &mut notes),
        hire_date,
        leave_date,
        status: if deactivation_reason.is_some() {
            UserStatus::Deactivated
        } else {
            UserStatus::Active
        },
        employment_status: capped("employment_status", &employee.employment_status, &mut notes),
        deactivation_reason: deactivation_reason.map(str::to_owned),
        manager_kombo_id: manager,
        primary_team_kombo_id: primary_team(&groups, &policy.primary_team_group_types),
        location_kombo_id: with_scope(Scope::WorkLocation, location),
        legal_entity_kombo_id: with_scope(Scope::LegalEntity, legal_entity),
        employment_type: with_scope(
            Scope::EmploymentType,
            capped("employment_type", &employee.employment_type, &mut notes),
        ),
        avatar_url: with_scope(Scope::Avatar, employee.avatar.clone()),
        custom_fields: policy
            .has(Scope::CustomFields)
            .then(|| custom_fields(employee.custom_fields.as_ref(), policy))
            .flatten(),
        remote_deleted_at,
    };
    MappedUser {
        changed_at: timestamp(Some(&employee.changed_at)),
        deactivate_at,
        invite_at: invite_at(policy.invite, hire_date, tz, now),
        team_kombo_ids: groups.iter().map(|g| g.id.clone()).collect(),
        embedded_teams: groups.iter().map(|g| TeamFields::embedded(g)).collect(),
        embedded_location: employee
            .work_location
            .as_ref()
            .filter(|_| policy.has(Scope::WorkLocation))
            .filter(|l| !l.id.is_empty() && l.id.len() <= MAX_REF_BYTES)
            .map(LocationFields::from_location),
        embedded_legal_entity: employee
            .legal_entity
            .as_ref()
            .filter(|_| policy.has(Scope::LegalEntity))
            .filter(|l| !l.id.is_empty() && l.id.len() <= MAX_REF_BYTES)
            .map(LegalEntityFields::embedded),
        user,
        notes,
        in_scope,
    }
}

/// The first name from the tenant's chosen source; `first_name` where that
/// source is empty.
fn first_name(employee: &Employee, policy: &TenantPolicy) -> Option<String> {
    let FirstNameSource::CustomField(key) = &policy.first_name_source else {
        return employee.first_name.clone();
    };
    employee
        .custom_fields
        .as_ref()
        .and_then(|fields| fields.get(key))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .or_else(|| employee.first_name.clone())
}

/// Deleted upstream, INACTIVE, or past the end of the leave day deactivates;
/// ACTIVE, LEAVE, PENDING and any unknown string keep the user active.
pub fn deactivation_reason(
    deleted: bool,
    employment_status: Option<&str>,
    deactivate_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<&'static str> {
    if deleted {
        Some(reason::DELETED_UPSTREAM)
    } else if employment_status.is_some_and(|s| s.eq_ignore_ascii_case("INACTIVE")) {
        Some(reason::INACTIVE)
    } else if deactivate_at.is_some_and(|at| at <= now) {
        Some(reason::LEFT)
    } else {
        None
    }
}

/// `groups` and the older `teams` list, without repeats or empty ids.
fn unique_groups<'a>(
    groups: &'a [EmbeddedGroup],
    teams: &'a [EmbeddedGroup],
) -> Vec<&'a EmbeddedGroup> {
    let mut seen = std::collections::BTreeSet::new();
    groups
        .iter()
        .chain(teams)
        .filter(|g| !g.id.is_empty() && seen.insert(g.id.as_str()))
        .collect()
}

/// The first group of the most preferred type; none when no group has a
/// preferred type (a cost centre is not a team unless the tenant says so).
fn primary_team(groups: &[&EmbeddedGroup], preference: &[String]) -> Option<String> {
    preference.iter().find_map(|wanted| {
        groups
            .iter()
            .find(|g| {
                g.group_type
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case(wanted))
            })
            .map(|g| g.id.clone())
    })
}

/// Custom fields under the tenant's names; with no mapping, all as named.
fn custom_fields(fields: Option<&Map<String, Value>>, policy: &TenantPolicy) -> Option<Value> {
    let fields = fields?;
    let mapped: Map<String, Value> = if policy.custom_field_mapping.is_empty() {
        fields.clone()
    } else {
        policy
            .custom_field_mapping
            .iter()
            .filter_map(|(from, to)| Some((to.clone(), fields.get(from)?.clone())))
            .collect()
    };
    (!mapped.is_empty()).then_some(Value::Object(mapped))
}

#[cfg(test)]
#[path = "employee_tests.rs"]
mod tests;
