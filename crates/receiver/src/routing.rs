//! Which queue each webhook goes to (pure; `shared/kombo/README.md`'s table).

use hris_bus::{Entity, FetchKind, SyncedEntity};
use hris_kombo::webhook::{EventPayload, WebhookEvent};

/// Queues a changed Kombo model makes us refetch (from the registry of synced
/// entities); empty for models we ignore.
pub fn entities_for_model(model: &str) -> Vec<Entity> {
    SyncedEntity::ALL
        .iter()
        .filter(|e| e.refetched_on().contains(&model))
        .map(|e| Entity::from(*e))
        .collect()
}

/// What to publish for one event.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// One message per entity, each once, in a stable order.
    pub messages: Vec<(Entity, FetchKind)>,
    /// Model names no worker acts on (accepted, counted).
    pub ignored_models: Vec<String>,
}

pub fn plan(event: &WebhookEvent) -> Plan {
    let mut plan = Plan::default();
    match &event.payload {
        EventPayload::DataChanged(data) => {
            for model in &data.changed_models {
                let entities = entities_for_model(&model.name);
                if entities.is_empty() {
                    plan.ignored_models.push(model.name.clone());
                }
                for entity in entities {
                    if !plan.messages.iter().any(|(e, _)| *e == entity) {
                        plan.messages.push((entity, FetchKind::Incremental));
                    }
                }
            }
            plan.messages.sort_by_key(|(entity, _)| *entity);
        }
        EventPayload::IntegrationCreated(_)
        | EventPayload::IntegrationDeleted(_)
        | EventPayload::IntegrationStateChanged(_)
        | EventPayload::IssueStatusChanged(_)
        | EventPayload::SyncFinished(_) => plan
            .messages
            .push((Entity::Integrations, FetchKind::Incremental)),
        EventPayload::ConnectionFlowFailed(_) | EventPayload::Other => {}
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_changed(models: &[&str]) -> WebhookEvent {
        let models: Vec<String> = models
            .iter()
            .map(|m| format!(r#"{{"name":"{m}"}}"#))
            .collect();
        let body = format!(
            r#"{{"id":"E","type":"data-changed","data":{{"integration_id":"personio:x","integration_tool":"personio","integration_category":"HRIS","changed_models":[{}]}}}}"#,
            models.join(",")
        );
        WebhookEvent::parse(body.as_bytes()).expect("valid")
    }

    #[test]
    fn each_entity_is_published_once() {
        let p = plan(&data_changed(&[
            "hris_employees",
            "hris_employments",
            "hris_teams",
            "hris_locations",
            "hris_absences",
        ]));
        let entities: Vec<Entity> = p.messages.iter().map(|(e, _)| *e).collect();
        assert_eq!(
            entities,
            vec![
                Entity::Employees,
                Entity::Teams,
                Entity::Locations,
                Entity::Absences
            ]
        );
        assert!(p.ignored_models.is_empty());
    }

    #[test]
    fn a_changed_group_or_location_refetches_the_people_in_it_too() {
        let both = vec![Entity::Employees, Entity::Teams];
        assert_eq!(entities_for_model("hris_groups"), both);
        assert_eq!(entities_for_model("hris_teams"), both);
        assert_eq!(
            entities_for_model("hris_locations"),
            vec![Entity::Employees, Entity::Locations]
        );
        assert_eq!(
            entities_for_model("hris_employments"),
            vec![Entity::Employees]
        );
        assert!(entities_for_model("ats_jobs").is_empty());
    }

    #[test]
    fn unknown_models_are_ignored_and_reported() {
        let p = plan(&data_changed(&["ats_jobs", "hris_absence_types"]));
        assert_eq!(p.messages, vec![(Entity::Absences, FetchKind::Incremental)]);
        assert_eq!(p.ignored_models, vec!["ats_jobs".to_owned()]);
    }

    #[test]
    fn issues_go_to_integrations_with_or_without_an_integration() {
        for integration in [
            r#"{"id":"personio:x","tool":"personio","category":"HRIS","end_user":{"origin_id":"t"}}"#,
            "null",
        ] {
            let body = format!(
                r#"{{"id":"E","type":"issue-status-changed","data":{{"change":"raised","issue":{{"id":"I","type":"integration.authentication_failed","status":"OPEN"}},"integration":{integration}}}}}"#
            );
            let event = WebhookEvent::parse(body.as_bytes()).expect("valid");
            assert_eq!(
                plan(&event).messages,
                vec![(Entity::Integrations, FetchKind::Incremental)]
            );
        }
    }

    #[test]
    fn lifecycle_events_go_to_integrations_and_others_nowhere() {
        let created = WebhookEvent::parse(br#"{"id":"E","type":"integration-created","data":{"id":"personio:x","tool":"personio","category":"HRIS","end_user":{"origin_id":"t"}}}"#).expect("valid");
        assert_eq!(
            plan(&created).messages,
            vec![(Entity::Integrations, FetchKind::Incremental)]
        );
        let other =
            WebhookEvent::parse(br#"{"id":"E","type":"assessment:order-received","data":{}}"#)
                .expect("valid");
        assert!(plan(&other).messages.is_empty());
    }
}
