//! Durability before 200: no broker means 503 and not ready, an unroutable
//! message is 503, 1,000 concurrent webhooks are each stored exactly once, and
//! a broker connection cut under load loses nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use hris_bus::Entity;
use hris_e2e::bus::{Inspector, Receiver, close_connections_named, data_changed};
use hris_e2e::{amqp_prefix, unique_name};

#[tokio::test]
async fn no_broker_means_503_and_not_ready_never_200() {
    let prefix = amqp_prefix();
    // Nothing listens on port 1: the receiver starts anyway and says it is not ready.
    let receiver = Receiver::start_with("amqp://guest:guest@127.0.0.1:1/%2f", &prefix, false)
        .await
        .expect("receiver starts without a broker");
    let r = receiver
        .http
        .get(receiver.ops_url("/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(r.status().as_u16(), 503);
    let r = receiver
        .http
        .get(receiver.ops_url("/healthz"))
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
            .get(receiver.ops_url("/readyz"))
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
