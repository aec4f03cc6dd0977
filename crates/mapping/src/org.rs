//! Groups → teams, locations, legal entities. A record deleted upstream is
//! archived, never removed: users and history still point at it.

use chrono::{DateTime, Utc};
use hris_kombo::records::{EmbeddedGroup, EmbeddedLegalEntity, Group, LegalEntity, Location};
use serde_json::Value;

use crate::dates::timestamp;
use crate::diff::{Fields, json};

#[derive(Debug, Clone, PartialEq)]
pub struct TeamFields {
    pub kombo_id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub group_type: Option<String>,
    pub parent_kombo_id: Option<String>,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl TeamFields {
    pub fn from_group(group: &Group) -> Self {
        Self {
            kombo_id: group.id.clone(),
            remote_id: group.remote_id.clone(),
            name: group.name.clone(),
            group_type: group.group_type.clone(),
            parent_kombo_id: group.parent_id.clone().filter(|p| !p.is_empty()),
            remote_deleted_at: deleted_at(group.remote_deleted_at.as_deref()),
            changed_at: timestamp(Some(&group.changed_at)),
        }
    }

    /// What an employee's embedded group tells us: enough for a placeholder team
    /// that the teams worker completes (it never overwrites a full record).
    pub fn embedded(group: &EmbeddedGroup) -> Self {
        Self {
            kombo_id: group.id.clone(),
            remote_id: group.remote_id.clone(),
            name: group.name.clone(),
            group_type: group.group_type.clone(),
            parent_kombo_id: None,
            remote_deleted_at: None,
            changed_at: None,
        }
    }
}

impl Fields for TeamFields {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("remote_id", json(&self.remote_id)),
            ("name", json(&self.name)),
            ("group_type", json(&self.group_type)),
            ("parent", json(&self.parent_kombo_id)),
            ("remote_deleted_at", json(&self.remote_deleted_at)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LocationFields {
    pub kombo_id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub location_type: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl LocationFields {
    pub fn from_location(location: &Location) -> Self {
        let address = location.address.as_ref();
        Self {
            kombo_id: location.id.clone(),
            remote_id: location.remote_id.clone(),
            name: location.name.clone(),
            location_type: location.location_type.clone(),
            city: address.and_then(|a| a.city.clone()),
            country: address.and_then(|a| a.country.clone()),
            remote_deleted_at: deleted_at(location.remote_deleted_at.as_deref()),
            changed_at: timestamp(Some(&location.changed_at)),
        }
    }
}

impl Fields for LocationFields {
    fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("remote_id", json(&self.remote_id)),
            ("name", json(&self.name)),
            ("location_type", json(&self.location_type)),
            ("city", json(&self.city)),
            ("country", json(&self.country)),
            ("remote_deleted_at", json(&self.remote_deleted_at)),
        ]
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LegalEntityFields {
    pub kombo_id: String,
    pub remote_id: Option<String>,
    pub name: Option<String>,
    pub country: Option<String>,
    pub remote_deleted_at: Option<DateTime<Utc>>,
    pub changed_at: Option<DateTime<Utc>>,
}

impl LegalEntityFields {
    pub fn from_legal_entity(entity: &LegalEntity) -> Self {
        Self {
            kombo_id: entity.id.clone(),
            remote_id: entity.remote_id.clone(),
            name: entity.name.clone(),
            country: entity.address.as_ref().and_then(|a| a.country.clone()),
            remote_deleted_at: deleted_at(entity.remote_deleted_at.as_deref()),
            changed_at: timestamp(Some(&entity.changed_at)),
        }
    }

    pub fn embedded(entity: &EmbeddedLegalEntity) -> Self {
        Self {
            kombo_id: entity.id.clone(),
            remote_id: entity.remote_id.clone(),
            name: entity.name.clone(),
            country: None,
            remote_deleted_at: None,
            changed_at: None,
        }
    }
}

/// A deletion mark, even one we cannot read (then: the epoch), is a deletion.
pub fn deleted_at(value: Option<&str>) -> Option<DateTime<Utc>> {
    let value = value.filter(|s| !s.trim().is_empty())?;
    Some(timestamp(Some(value)).unwrap_or(DateTime::<Utc>::UNIX_EPOCH))
}
