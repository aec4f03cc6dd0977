//! The webhook receiver against the real broker: bad input gets a clear answer,
//! a `data-changed` event is split per entity, lifecycle events carry the event.
//! Durability: `receiver_durability.rs`; duplicates: `duplicate_webhooks.rs`.

use std::time::Duration;

use hris_bus::{Entity, FetchKind, Trigger};
use hris_e2e::amqp_prefix;
use hris_e2e::bus::{Inspector, Receiver, SECRET, data_changed};

#[tokio::test]
async fn bad_input_gets_a_clear_answer_and_publishes_nothing() {
    let prefix = amqp_prefix();
    let receiver = Receiver::start(&prefix).await.expect("receiver");
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let body = data_changed("E-bad", "personio:x", &["hris_employees"]);
    let post = |sig: Option<String>, body: Vec<u8>| {
        let mut r = receiver
            .http
            .post(receiver.url("/webhooks/kombo"))
            .body(body);
        if let Some(sig) = sig {
            r = r.header("X-Kombo-Signature", sig);
        }
        r.send()
    };
    let check = |r: reqwest::Response, status: u16| async move {
        assert_eq!(r.status().as_u16(), status);
        let body: serde_json::Value = r.json().await.expect("JSON error body");
        assert!(body["error"]["message"].is_string(), "{body}");
    };
    check(post(None, body.clone()).await.expect("send"), 401).await;
    check(
        post(Some(hris_kombo::sign("wrong", &body)), body.clone())
            .await
            .expect("send"),
        401,
    )
    .await;
    check(
        post(Some("!!!".into()), body.clone()).await.expect("send"),
        401,
    )
    .await;
    let mut tampered = body.clone();
    tampered[8] ^= 1;
    check(
        post(Some(hris_kombo::sign(SECRET, &body)), tampered)
            .await
            .expect("send"),
        401,
    )
    .await;
    let huge = vec![b' '; 1024 * 1024 + 1];
    check(
        post(Some(hris_kombo::sign(SECRET, &huge)), huge)
            .await
            .expect("send"),
        413,
    )
    .await;
    let not_json = b"not json".to_vec();
    check(
        post(Some(hris_kombo::sign(SECRET, &not_json)), not_json)
            .await
            .expect("send"),
        400,
    )
    .await;
    let missing = br#"{"id":"E","type":"data-changed","data":{"changed_models":[]}}"#.to_vec();
    check(
        post(Some(hris_kombo::sign(SECRET, &missing)), missing)
            .await
            .expect("send"),
        400,
    )
    .await;
    let r = receiver
        .http
        .get(receiver.url("/webhooks/kombo"))
        .send()
        .await
        .expect("send");
    check(r, 405).await;
    // Unknown types and unknown models: accepted, nothing to publish.
    let unknown_type = br#"{"id":"E-u","type":"ai-apply-something","data":{"x":1}}"#;
    assert_eq!(receiver.post_signed(unknown_type).await.expect("send"), 200);
    assert_eq!(
        receiver
            .post_signed(&data_changed("E-m", "personio:x", &["ats_jobs"]))
            .await
            .expect("send"),
        200
    );
    // The rotated-out secret still verifies.
    let old = data_changed("E-old", "personio:x", &["ats_jobs"]);
    let r = receiver
        .http
        .post(receiver.url("/webhooks/kombo"))
        .header("X-Kombo-Signature", hris_kombo::sign("old-secret", &old))
        .body(old)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);

    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        inspector.total_depth().await.expect("depth"),
        0,
        "nothing published for bad or ignored input"
    );
}

#[tokio::test]
async fn data_changed_for_three_models_lands_on_the_right_queues() {
    let prefix = amqp_prefix();
    let receiver = Receiver::start(&prefix).await.expect("receiver");
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let body = data_changed(
        "E-three",
        "personio:abc",
        &["hris_employees", "hris_locations", "hris_absences"],
    );
    assert_eq!(receiver.post_signed(&body).await.expect("send"), 200);
    // 200 means confirmed: the messages are there the moment the answer is.
    let employees = inspector
        .drain_entity(Entity::Employees)
        .await
        .expect("drain");
    let locations = inspector
        .drain_entity(Entity::Locations)
        .await
        .expect("drain");
    let absences = inspector
        .drain_entity(Entity::Absences)
        .await
        .expect("drain");
    assert_eq!(
        (employees.len(), locations.len(), absences.len()),
        (1, 1, 1),
        "employees once although two models concern it"
    );
    assert_eq!(
        inspector.total_depth().await.expect("depth"),
        0,
        "no teams or integrations message"
    );
    for (taken, entity) in [
        (&employees[0], Entity::Employees),
        (&locations[0], Entity::Locations),
        (&absences[0], Entity::Absences),
    ] {
        let e = &taken.envelope;
        assert_eq!(e.entity, entity);
        assert_eq!(e.event_id, "E-three");
        assert_eq!(taken.message_id.as_deref(), Some("E-three"));
        assert_eq!(taken.delivery_mode, Some(2), "persistent");
        assert_eq!(e.integration_id.as_deref(), Some("personio:abc"));
        assert_eq!(
            (e.kind, e.trigger, e.attempt, e.v),
            (FetchKind::Incremental, Trigger::Webhook, 0, 1)
        );
        assert!(e.trace.as_deref().is_some_and(|t| t.starts_with("00-")));
    }
}

#[tokio::test]
async fn lifecycle_events_go_to_the_integrations_queue_with_the_event() {
    let prefix = amqp_prefix();
    let receiver = Receiver::start(&prefix).await.expect("receiver");
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let body = br#"{"id":"E-c","type":"integration-created","data":{"id":"personio:new","tool":"personio","category":"HRIS","end_user":{"organization_name":"Acme","creator_email":"a@acme.example","origin_id":"tenant-1"}}}"#;
    assert_eq!(receiver.post_signed(body).await.expect("send"), 200);
    let taken = inspector
        .drain_entity(Entity::Integrations)
        .await
        .expect("drain");
    assert_eq!(taken.len(), 1);
    assert_eq!(
        taken[0].envelope.integration_id.as_deref(),
        Some("personio:new")
    );
    assert_eq!(
        taken[0]
            .envelope
            .event
            .as_ref()
            .map(|e| e["data"]["end_user"]["origin_id"].clone()),
        Some(serde_json::json!("tenant-1"))
    );
}
