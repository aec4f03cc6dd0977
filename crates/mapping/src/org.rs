//! Groups → teams, locations, legal entities. A record deleted upstream is
//! archived, never removed: users and history still point at it.

use chrono::{DateTime, Utc};
use hris_kombo::records::{EmbeddedGroup, EmbeddedLegalEntity, Group, LegalEntity, Location};

use crate::dates::timestamp;

synced_columns! {
    /// A group as a row of `teams`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct TeamFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        name: Option<String> => "name",
        group_type: Option<String> => "group_type",
        parent_kombo_id: Option<String> => "parent",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at";
        changed_at: Option<DateTime<Utc>> as "kombo_changed_at",
    }
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

synced_columns! {
    /// A work location as a row of `locations`.
    #[derive(Debug, Clone, PartialEq)]
    pub struct LocationFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        name: Option<String> => "name",
        location_type: Option<String> => "location_type",
        city: Option<String> => "city",
        country: Option<String> => "country",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at";
        changed_at: Option<DateTime<Utc>> as "kombo_changed_at",
    }
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

synced_columns! {
    /// A legal entity as a row of `legal_entities` (its changes are not logged).
    #[derive(Debug, Clone, PartialEq)]
    pub struct LegalEntityFields {
        key kombo_id: String,
        remote_id: Option<String> => "remote_id",
        name: Option<String> => "name",
        country: Option<String> => "country",
        remote_deleted_at: Option<DateTime<Utc>> => "remote_deleted_at";
        changed_at: Option<DateTime<Utc>> as "kombo_changed_at",
    }
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
