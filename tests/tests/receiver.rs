//! The webhook receiver against the real broker: bad input, splitting, duplicates,
//! durability before 200, a broker connection cut under load, unroutable, and
//! 1,000 concurrent webhooks.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hris_bus::{Entity, FetchKind, Trigger};
use hris_e2e::bus::{Inspector, Receiver, SECRET, close_connections_named, data_changed};
use hris_e2e::{amqp_prefix, unique_name};

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_deliveries_are_harmless() -> anyhow::Result<()> {
    use hris_e2e::conformance::{employees, full_mismatches, still_employed, users};
    use hris_e2e::stack::Stack;
    use serde_json::json;

    // Nothing deduplicates on the message id: the receiver publishes every copy
    // Kombo sends (each got a 200, so each must be durable) and the workers
    // process every copy. What makes a duplicate harmless is the apply: a fetch
    // reads Kombo's current records, and an upsert that changes nothing writes
    // no row and no history. So two tenants get the same company and the same
    // changes; "once" receives each webhook once, "dup" each twice (at the same
    // time), plus a late copy of the older one after the newer one. Their rows
    // and change logs must come out identical.
    let mut stack = Stack::start().await?;
    let once = stack.tenant("once", 40, 81).await?;
    let dup = stack.tenant("dup", 40, 81).await?;
    let people = employees(&stack, &once).await?;
    let ids: Vec<&str> = people.iter().map(|e| e.id.as_str()).collect();
    let dup_people = employees(&stack, &dup).await?;
    let dup_ids: Vec<&str> = dup_people.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, dup_ids, "the same seed makes the same company");
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("once", FetchKind::Full).await?;
    stack.request_sync("dup", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let targets = still_employed(&people);
    let (x, y) = (targets[0], targets[1]);
    let both = |mutation: serde_json::Value| {
        let stack = &stack;
        let (once, dup) = (once.clone(), dup.clone());
        async move {
            // Silent: this test sends the webhooks itself, as often as it likes.
            let mut mutation = mutation;
            mutation["silent"] = json!(true);
            stack.sim.mutate(&once, mutation.clone()).await?;
            stack.sim.mutate(&dup, mutation).await?;
            anyhow::Ok(())
        }
    };
    let post = |event: &str, integration: &str| {
        let body = data_changed(event, integration, &["hris_employees"]);
        let receiver = &stack.receiver;
        async move { receiver.post_signed(&body).await }
    };
    let mut accepted = 0;

    // First change: "dup" gets its webhook twice at once.
    both(json!({"op": "promote", "employee_id": x, "job_title": "Lead"})).await?;
    assert_eq!(post("E-1", &once).await?, 200);
    let (a, b) = tokio::join!(post("E-1", &dup), post("E-1", &dup));
    for status in [a?, b?] {
        assert_eq!(status, 200);
        accepted += 1;
    }
    stack.settle(Duration::from_secs(30)).await?;

    // Second change: "dup" gets it, then the first event late, then it again.
    both(json!({"op": "promote", "employee_id": x, "job_title": "Head"})).await?;
    both(json!({"op": "rename", "employee_id": y, "first_name": "Renamed"})).await?;
    assert_eq!(post("E-2", &once).await?, 200);
    for event in ["E-2", "E-1", "E-2"] {
        assert_eq!(post(event, &dup).await?, 200);
        accepted += 1;
    }
    stack.settle(Duration::from_secs(30)).await?;

    // Both are right …
    for (tenant, integration) in [("once", &once), ("dup", &dup)] {
        let diffs = full_mismatches(&stack, tenant, integration, 10).await?;
        assert!(diffs.is_empty(), "{tenant}:\n{}", diffs.join("\n"));
    }
    // … and the same: rows (references resolved to Kombo ids) and history.
    assert_eq!(users(&stack, "dup").await?, users(&stack, "once").await?);
    let history = |tenant: &'static str| {
        let stack = &stack;
        async move {
            let client = stack.store.client().await?;
            let rows = client
                .query(
                    "SELECT record_type, record_kombo_id, field, old_value::text, new_value::text
                     FROM change_log WHERE tenant_id = $1 ORDER BY 1, 2, 3, id",
                    &[&tenant],
                )
                .await?;
            anyhow::Ok(
                rows.iter()
                    .map(|r| {
                        let cols: Vec<Option<String>> = (0..5).map(|i| r.get(i)).collect();
                        cols
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (h_once, h_dup) = (history("once").await?, history("dup").await?);
    let titles: Vec<_> = h_dup
        .iter()
        .filter(|r| r[1].as_deref() == Some(x) && r[2].as_deref() == Some("job_title"))
        .map(|r| r[3..].to_vec())
        .collect();
    println!(
        "{accepted} copies delivered to \"dup\" for 2 changes; change log: {} rows once, {} rows with duplicates; job title history {titles:?}",
        h_once.len(),
        h_dup.len()
    );
    // Not vacuous: both changes really arrived, one history row each.
    assert_eq!(titles.len(), 2, "each change recorded once: {titles:?}");
    let only_in = |a: &Vec<Vec<Option<String>>>, b: &Vec<Vec<Option<String>>>| {
        let mut rest = b.clone();
        a.iter()
            .filter(|row| match rest.iter().position(|r| r == *row) {
                Some(i) => {
                    rest.remove(i);
                    false
                }
                None => true,
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let (extra, missing) = (only_in(&h_dup, &h_once), only_in(&h_once, &h_dup));
    assert!(
        extra.is_empty() && missing.is_empty(),
        "duplicates changed the history: extra {extra:?}, missing {missing:?}"
    );
    assert_eq!(h_dup, h_once, "and in the same order");
    Ok(())
}

#[tokio::test]
async fn no_broker_means_503_and_not_ready_never_200() {
    let prefix = amqp_prefix();
    // Nothing listens on port 1: the receiver starts anyway and says it is not ready.
    let receiver = Receiver::start_with("amqp://guest:guest@127.0.0.1:1/%2f", &prefix, false)
        .await
        .expect("receiver starts without a broker");
    let r = receiver
        .http
        .get(receiver.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status().as_u16(), 503);
    let r = receiver
        .http
        .get(receiver.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(r.status().as_u16(), 200);
    let status = receiver
        .post_signed(&data_changed("E-nb", "personio:x", &["hris_employees"]))
        .await
        .expect("send");
    assert_eq!(status, 503);
}

#[tokio::test]
async fn unroutable_messages_get_503() {
    let prefix = amqp_prefix();
    let receiver = Receiver::start(&prefix).await.expect("receiver");
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let queue = inspector.topology().queue(Entity::Teams);
    inspector
        .channel()
        .queue_delete(
            queue.as_str().into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .expect("delete queue");
    let status = receiver
        .post_signed(&data_changed("E-unr", "personio:x", &["hris_teams"]))
        .await
        .expect("send");
    assert_eq!(status, 503, "the teams message has no queue: not durable");
}

#[tokio::test]
async fn a_thousand_concurrent_webhooks_are_all_stored_exactly_once() {
    let prefix = amqp_prefix();
    let receiver = std::sync::Arc::new(Receiver::start(&prefix).await.expect("receiver"));
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let tasks: Vec<_> = (0..1000)
        .map(|i| {
            let receiver = receiver.clone();
            tokio::spawn(async move {
                receiver
                    .post_signed(&data_changed(
                        &format!("E-{i}"),
                        "personio:load",
                        &["hris_employees"],
                    ))
                    .await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.expect("join").expect("send"), 200);
    }
    let taken = inspector
        .drain_entity(Entity::Employees)
        .await
        .expect("drain");
    let ids: HashSet<String> = taken.iter().map(|t| t.envelope.event_id.clone()).collect();
    assert_eq!(taken.len(), 1000);
    assert_eq!(ids.len(), 1000);
}

#[tokio::test]
async fn a_broker_connection_cut_under_load_loses_nothing_and_recovers() {
    let prefix = amqp_prefix();
    let receiver = std::sync::Arc::new(Receiver::start(&prefix).await.expect("receiver"));
    let inspector = Inspector::connect(&prefix).await.expect("inspector");
    let run = unique_name("cut");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sender = {
        let receiver = receiver.clone();
        let run = run.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            let mut refused = 0;
            let mut wave = 0;
            // Keep sending until well after the cut, so requests overlap it.
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                wave += 1;
                let batch: Vec<_> = (0..10)
                    .map(|i| {
                        let receiver = receiver.clone();
                        let id = format!("{run}-{wave}-{i}");
                        tokio::spawn(async move {
                            (
                                receiver
                                    .post_signed(&data_changed(
                                        &id,
                                        "personio:cut",
                                        &["hris_employees"],
                                    ))
                                    .await,
                                id,
                            )
                        })
                    })
                    .collect();
                for task in batch {
                    match task.await.expect("join") {
                        (Ok(200), id) => accepted.push(id),
                        (Ok(503), _) => refused += 1,
                        (other, _) => panic!("unexpected answer {other:?}"),
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            (accepted, refused, wave * 10)
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let closed = close_connections_named(&receiver.connection_name)
        .await
        .expect("rabbitmqctl");
    assert!(
        closed >= 1,
        "the receiver's connection was found and closed"
    );
    let cut_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (accepted, refused, sent) = sender.await.expect("sender");

    // Serves again within seconds, without a restart.
    let mut ready_after = None;
    while cut_at.elapsed() < Duration::from_secs(20) {
        let r = receiver
            .http
            .get(receiver.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        if r.status().is_success() {
            ready_after = Some(cut_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ready_after = ready_after.expect("receiver recovered");
    assert_eq!(
        receiver
            .post_signed(&data_changed(
                &format!("{run}-after"),
                "personio:cut",
                &["hris_employees"]
            ))
            .await
            .expect("send"),
        200
    );

    let stored: HashSet<String> = inspector
        .drain_entity(Entity::Employees)
        .await
        .expect("drain")
        .into_iter()
        .map(|t| t.envelope.event_id)
        .collect();
    let lost: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    eprintln!(
        "connection cut: {} accepted, {refused} refused with 503, recovered in {ready_after:?}, lost {}",
        accepted.len(),
        lost.len()
    );
    assert!(lost.is_empty(), "every 200 has its message: lost {lost:?}");
    assert!(stored.contains(&format!("{run}-after")));
    assert_eq!(
        accepted.len() + refused,
        sent,
        "every request got 200 or 503"
    );
}
