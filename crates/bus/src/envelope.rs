//! The message every queue carries: versioned JSON with everything a worker needs
//! to act and everything on-call needs to understand it.

use hris_types::TenantId;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Current envelope version; a worker rejects versions it does not know.
pub const ENVELOPE_VERSION: u32 = 1;

/// What a message concerns; also its routing key and queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    Employees,
    Teams,
    Locations,
    Absences,
    Integrations,
}

impl Entity {
    pub const ALL: [Entity; 5] = [
        Entity::Employees,
        Entity::Teams,
        Entity::Locations,
        Entity::Absences,
        Entity::Integrations,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Employees => "employees",
            Entity::Teams => "teams",
            Entity::Locations => "locations",
            Entity::Absences => "absences",
            Entity::Integrations => "integrations",
        }
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Entity {
    type Err = hris_types::UnknownVariant;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Entity::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| hris_types::UnknownVariant {
                what: "entity",
                value: s.to_owned(),
                expected: "employees teams locations absences integrations",
            })
    }
}

/// What a sync message asks for: the same type the store's leases use.
pub use hris_types::FetchKind;
/// What a sync queue fetches: the registry of synced entities.
pub use hris_types::SyncedEntity;

impl From<SyncedEntity> for Entity {
    fn from(entity: SyncedEntity) -> Self {
        match entity {
            SyncedEntity::Employees => Entity::Employees,
            SyncedEntity::Teams => Entity::Teams,
            SyncedEntity::Locations => Entity::Locations,
            SyncedEntity::Absences => Entity::Absences,
        }
    }
}

impl Entity {
    /// The synced entity this queue fetches; `None` for the integrations
    /// queue, whose lifecycle events fetch nothing.
    pub fn synced(self) -> Option<SyncedEntity> {
        SyncedEntity::ALL
            .iter()
            .copied()
            .find(|e| Entity::from(*e) == self)
    }
}

/// What caused a message: the same type sync runs record.
pub use hris_types::Trigger;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    pub v: u32,
    /// Kombo's event id (also the AMQP `message_id`); ours for scheduled work.
    pub event_id: String,
    pub integration_id: Option<String>,
    /// Known when we made the message (schedule, import-all); webhooks leave it to
    /// the worker, which resolves the integration.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
    pub entity: Entity,
    pub kind: FetchKind,
    pub trigger: Trigger,
    pub received_at: DateTime<Utc>,
    /// Deliveries so far through the retry path (0 on first publish).
    #[serde(default)]
    pub attempt: u32,
    /// W3C `traceparent` of the request that caused this message.
    #[serde(default)]
    pub trace: Option<String>,
    #[serde(default)]
    pub sync_run_id: Option<String>,
    /// The webhook event itself, for the integrations worker.
    #[serde(default)]
    pub event: Option<serde_json::Value>,
}

impl Envelope {
    pub fn new(
        event_id: impl Into<String>,
        integration_id: Option<String>,
        entity: Entity,
        kind: FetchKind,
        trigger: Trigger,
    ) -> Self {
        Self {
            v: ENVELOPE_VERSION,
            event_id: event_id.into(),
            integration_id,
            tenant_id: None,
            entity,
            kind,
            trigger,
            received_at: Utc::now(),
            attempt: 0,
            trace: None,
            sync_run_id: None,
            event: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queues_are_the_synced_entities_and_integrations() {
        let synced: Vec<Entity> = SyncedEntity::ALL.iter().map(|e| Entity::from(*e)).collect();
        let others: Vec<Entity> = Entity::ALL
            .into_iter()
            .filter(|e| e.synced().is_none())
            .collect();
        assert_eq!(others, vec![Entity::Integrations]);
        for entity in &synced {
            assert_eq!(
                entity.as_str(),
                entity.synced().map(|e| e.as_str()).unwrap_or("")
            );
        }
        assert_eq!(synced.len() + 1, Entity::ALL.len());
    }

    #[test]
    fn envelope_round_trips_and_tolerates_missing_optionals() {
        let e = Envelope::new(
            "E1",
            Some("personio:x".into()),
            Entity::Employees,
            FetchKind::Incremental,
            Trigger::Webhook,
        );
        let back: Envelope =
            serde_json::from_slice(&serde_json::to_vec(&e).expect("encode")).expect("decode");
        assert_eq!(back, e);
        let minimal = r#"{"v":1,"event_id":"E","integration_id":null,"entity":"teams","kind":"full","trigger":"import-all","received_at":"2026-01-01T00:00:00Z"}"#;
        let parsed: Envelope = serde_json::from_str(minimal).expect("minimal");
        for t in [
            Trigger::Webhook,
            Trigger::Schedule,
            Trigger::ImportAll,
            Trigger::Replay,
            Trigger::Sweep,
        ] {
            assert_eq!(serde_json::to_value(t).expect("encode"), t.as_str());
        }
        assert_eq!(parsed.attempt, 0);
        assert_eq!(parsed.trigger, Trigger::ImportAll);
    }

    #[test]
    fn entity_names_are_routing_keys() {
        for e in Entity::ALL {
            assert_eq!(e.as_str().parse::<Entity>(), Ok(e));
        }
        assert!("people".parse::<Entity>().is_err());
    }
}
