//! What a tenant chose: which optional scopes are synced, which group types make
//! the primary team, how custom fields are named, and its time zone.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use crate::lifecycle::InvitePolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    WorkLocation,
    Avatar,
    LegalEntity,
    EmploymentType,
    CustomFields,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "work_location" => Scope::WorkLocation,
            "avatar" => Scope::Avatar,
            "legal_entity" => Scope::LegalEntity,
            "employment_type" => Scope::EmploymentType,
            "custom_fields" => Scope::CustomFields,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantPolicy {
    pub scopes: Vec<Scope>,
    /// Group types in order of preference for the primary team (e.g. TEAM, DEPARTMENT).
    pub primary_team_group_types: Vec<String>,
    /// Kombo custom-field key → platform key. Empty: keep every field as named.
    pub custom_field_mapping: BTreeMap<String, String>,
    pub time_zone: Tz,
    pub invite: InvitePolicy,
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            scopes: vec![Scope::WorkLocation],
            primary_team_group_types: vec!["TEAM".into(), "DEPARTMENT".into()],
            custom_field_mapping: BTreeMap::new(),
            time_zone: Tz::UTC,
            invite: InvitePolicy::OnStartDate,
        }
    }
}

impl TenantPolicy {
    /// From the stored settings; unknown scope names and a bad zone fall back
    /// (settings are validated when written, this only guards old rows).
    pub fn from_settings(
        scopes: &[String],
        primary_team_group_types: &[String],
        custom_field_mapping: &serde_json::Value,
        time_zone: &str,
    ) -> Self {
        let custom_field_mapping = custom_field_mapping
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            scopes: scopes.iter().filter_map(|s| Scope::parse(s)).collect(),
            primary_team_group_types: primary_team_group_types.to_vec(),
            custom_field_mapping,
            time_zone: time_zone.parse().unwrap_or(Tz::UTC),
            invite: InvitePolicy::OnStartDate,
        }
    }

    pub fn with_invite(mut self, invite: InvitePolicy) -> Self {
        self.invite = invite;
        self
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
