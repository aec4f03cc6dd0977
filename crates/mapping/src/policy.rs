//! What a tenant chose: which optional scopes are synced, which group types make
//! the primary team, how custom fields are named, and its time zone.

use std::collections::BTreeMap;

use chrono_tz::Tz;

pub use hris_types::Scope;

use crate::lifecycle::InvitePolicy;

#[derive(Debug, Clone, PartialEq)]
pub struct TenantPolicy {
    pub scopes: Vec<Scope>,
    /// Group types in order of preference for the primary team (e.g. TEAM, DEPARTMENT).
    pub primary_team_group_types: Vec<String>,
    /// Kombo custom-field key → platform key. Empty: keep every field as named.
    pub custom_field_mapping: BTreeMap<String, String>,
    pub time_zone: Tz,
    pub invite: InvitePolicy,
    /// Who is synced at all (`scope_filter`).
    pub scope_filter: ScopeFilter,
    /// Where the first name comes from (`first_name_source`).
    pub first_name_source: FirstNameSource,
}

/// A tenant's `scope_filter`: only people of these legal entities, work
/// locations or groups (Kombo ids) are synced. An empty list does not narrow;
/// a person must match every list that is not empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScopeFilter {
    pub legal_entities: Vec<String>,
    pub locations: Vec<String>,
    pub groups: Vec<String>,
}

impl ScopeFilter {
    /// Whether a person with these references is in scope.
    pub fn admits<'a>(
        &self,
        legal_entity: Option<&str>,
        location: Option<&str>,
        mut groups: impl Iterator<Item = &'a str>,
    ) -> bool {
        let named = |list: &[String], id: Option<&str>| {
            list.is_empty() || id.is_some_and(|id| list.iter().any(|l| l == id))
        };
        named(&self.legal_entities, legal_entity)
            && named(&self.locations, location)
            && (self.groups.is_empty() || groups.any(|g| self.groups.iter().any(|l| l == g)))
    }

    pub fn is_empty(&self) -> bool {
        self.legal_entities.is_empty() && self.locations.is_empty() && self.groups.is_empty()
    }
}

/// A tenant's `first_name_source`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FirstNameSource {
    /// Kombo's `first_name`.
    #[default]
    FirstName,
    /// A custom field of the HR system ("preferred name", "known as"),
    /// falling back to `first_name` where it is empty.
    CustomField(String),
}

impl std::str::FromStr for FirstNameSource {
    type Err = hris_types::UnknownVariant;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            None if s == "first_name" => Ok(FirstNameSource::FirstName),
            Some(("custom_field", key)) if !key.trim().is_empty() => {
                Ok(FirstNameSource::CustomField(key.trim().to_owned()))
            }
            _ => Err(hris_types::UnknownVariant {
                what: "first_name_source",
                value: s.to_owned(),
                expected: "first_name custom_field:KEY",
            }),
        }
    }
}

impl Default for TenantPolicy {
    fn default() -> Self {
        Self {
            scopes: vec![Scope::WorkLocation],
            primary_team_group_types: vec!["TEAM".into(), "DEPARTMENT".into()],
            custom_field_mapping: BTreeMap::new(),
            time_zone: Tz::UTC,
            invite: InvitePolicy::OnStartDate,
            scope_filter: ScopeFilter::default(),
            first_name_source: FirstNameSource::FirstName,
        }
    }
}

impl TenantPolicy {
    /// From the stored settings; unknown scope names and a bad zone fall back
    /// (settings are validated when written, this only guards old rows).
    pub fn from_settings(
        scopes: &[Scope],
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
            scopes: scopes.to_vec(),
            primary_team_group_types: primary_team_group_types.to_vec(),
            custom_field_mapping,
            time_zone: time_zone.parse().unwrap_or(Tz::UTC),
            invite: InvitePolicy::OnStartDate,
            scope_filter: ScopeFilter::default(),
            first_name_source: FirstNameSource::FirstName,
        }
    }

    /// Who is synced and where first names come from; values that do not
    /// parse fall back to everyone and `first_name` (they are validated when
    /// written; this only guards old rows).
    pub fn with_identity(
        mut self,
        scope_filter: &serde_json::Value,
        first_name_source: &str,
    ) -> Self {
        self.scope_filter = serde_json::from_value(scope_filter.clone()).unwrap_or_default();
        self.first_name_source = first_name_source.parse().unwrap_or_default();
        self
    }

    pub fn with_invite(mut self, invite: InvitePolicy) -> Self {
        self.invite = invite;
        self
    }

    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }
}
