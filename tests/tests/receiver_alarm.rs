//! A RabbitMQ memory alarm (on a private node): every webhook is answered 503
//! with `Retry-After` within the deadline, and a reconnect during the alarm
//! never holds publishers.

use std::time::{Duration, Instant};

use hris_bus::{AmqpConfig, Connector, Entity, Envelope, FetchKind, Publisher, Topology, Trigger};
use hris_e2e::amqp_prefix;
use hris_e2e::broker::PrivateBroker;
use hris_e2e::bus::{Inspector, data_changed};
use hris_e2e::receiver_process::{ReceiverProcess, client, post_signed};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_broker_alarm_gets_503_with_retry_after_within_the_deadline() -> anyhow::Result<()> {
    let broker = PrivateBroker::start().await?;
    hris_e2e::use_amqp_url(&broker.url());
    let prefix = amqp_prefix();
    let inspector = Inspector::connect(&prefix).await?;
    let deadline = Duration::from_secs(3);
    // One webhook publishing at a time: the second, while the first waits
    // for a confirm the blocked broker never sends, is shed at once.
    let env = [
        ("WEBHOOK_DEADLINE_SECS", "3"),
        ("HTTP_MAX_CONCURRENT_REQUESTS", "1"),
    ];
    let receiver = ReceiverProcess::start(&broker.url(), &prefix, &env).await?;
    let url = receiver.url("/webhooks/kombo");
    let http = client();
    let mut accepted = Vec::new();
    for i in 0..5 {
        let id = format!("E-before-{i}");
        let (status, _, _) = post_signed(
            &http,
            &url,
            &data_changed(&id, "personio:x", &["hris_employees"]),
        )
        .await?;
        assert_eq!(status, 200);
        accepted.push(id);
    }
    broker.raise_memory_alarm().await?;
    let first = data_changed("E-first", "personio:x", &["hris_employees"]);
    let first = tokio::spawn({
        let (http, url) = (http.clone(), url.clone());
        async move { post_signed(&http, &url, &first).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = data_changed("E-second", "personio:x", &["hris_employees"]);
    let started = Instant::now();
    let shed = http
        .post(&url)
        .header(
            "X-Kombo-Signature",
            hris_kombo::sign(hris_e2e::bus::SECRET, &second),
        )
        .body(second)
        .send()
        .await?;
    let shed_in = started.elapsed();
    assert_eq!(shed.status(), 503);
    assert!(shed.headers().contains_key("retry-after"));
    let shed: serde_json::Value = shed.json().await?;
    assert_eq!(shed["error"]["code"], "overloaded", "{shed}");
    assert!(shed_in < Duration::from_secs(1), "shed in {shed_in:?}");
    // Then one after another, then 20 at once: each answered 503 in time.
    let mut answers = vec![first.await??];
    for i in 0..10 {
        let body = data_changed(&format!("E-alarm-{i}"), "personio:x", &["hris_employees"]);
        answers.push(post_signed(&http, &url, &body).await?);
    }
    let burst = futures::future::join_all((0..20).map(|i| {
        let body = data_changed(&format!("E-burst-{i}"), "personio:x", &["hris_employees"]);
        let (http, url) = (http.clone(), url.clone());
        async move { post_signed(&http, &url, &body).await }
    }))
    .await;
    for answer in burst {
        answers.push(answer?);
    }
    let max = answers.iter().map(|a| a.2).max().unwrap_or_default();
    let min = answers.iter().map(|a| a.2).min().unwrap_or_default();
    for (status, retry_after, took) in &answers {
        assert_eq!(*status, 503, "during the alarm");
        assert!(retry_after.is_some(), "503 with Retry-After");
        assert!(
            *took <= deadline + Duration::from_secs(2),
            "answered in {took:?}"
        );
    }
    broker.clear_memory_alarm().await?;
    let cleared = Instant::now();
    let mut after = 0;
    for i in 0..300 {
        let id = format!("E-after-{i}");
        let body = data_changed(&id, "personio:x", &["hris_employees"]);
        let (status, _, _) = post_signed(&http, &url, &body).await?;
        if status == 200 {
            accepted.push(id);
            after += 1;
        }
        if after == 10 {
            break;
        }
        if after == 0 {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    assert_eq!(after, 10, "webhooks accepted again after the alarm");
    let recovered = cleared.elapsed();
    let queued: std::collections::HashSet<String> = inspector
        .drain_entity(Entity::Employees)
        .await?
        .into_iter()
        .map(|t| t.envelope.event_id)
        .collect();
    let lost: Vec<&String> = accepted.iter().filter(|id| !queued.contains(*id)).collect();
    assert!(lost.is_empty(), "answered 200 but not queued: {lost:?}");
    println!(
        "alarm: {} webhooks during a memory alarm, all 503 with Retry-After in {min:?} to {max:?} (deadline {deadline:?}), one over the publishing limit shed in {shed_in:?}; accepted again {recovered:?} after it cleared; {} answered 200, none lost",
        answers.len(),
        accepted.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reconnect_during_an_alarm_never_holds_publishers() -> anyhow::Result<()> {
    let broker = PrivateBroker::start().await?;
    let topology = Topology::new(amqp_prefix());
    let connector = Connector::new(AmqpConfig::new(broker.url(), "alarm-connector"), topology);
    let shutdown = CancellationToken::new();
    let connection = connector.spawn(shutdown.clone());
    anyhow::ensure!(connector.wait_connected(Duration::from_secs(10)).await);
    let publisher = Publisher::new(connector.clone()).with_confirm_timeout(Duration::from_secs(1));
    let envelope = |id: &str| {
        Envelope::new(
            id,
            None,
            Entity::Employees,
            FetchKind::Incremental,
            Trigger::Webhook,
        )
    };
    publisher.publish(envelope("before")).await?;
    broker.raise_memory_alarm().await?;
    assert!(publisher.publish(envelope("blocked")).await.is_err());
    // A reconnect while the broker blocks the connection: its close cannot
    // complete, and publishers must not wait on it.
    for _ in 0..50 {
        if connector.is_blocked() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(connector.is_blocked(), "the broker blocked the connection");
    connector.mark_broken();
    let mut slowest = Duration::ZERO;
    for i in 0..8 {
        // The lock itself, unbounded by the publisher's own timeout.
        let started = Instant::now();
        let _ = tokio::time::timeout(Duration::from_secs(30), connector.publish_channel()).await;
        let publish = publisher.publish(envelope(&format!("during-{i}")));
        let _ = tokio::time::timeout(Duration::from_secs(30), publish).await;
        slowest = slowest.max(started.elapsed());
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        slowest <= Duration::from_secs(3),
        "a publish waited {slowest:?}"
    );
    broker.clear_memory_alarm().await?;
    let cleared = Instant::now();
    while publisher.publish(envelope("after")).await.is_err() {
        assert!(
            cleared.elapsed() < Duration::from_secs(20),
            "publishing again"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let recovered = cleared.elapsed();
    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(10), connection).await;
    assert!(stopped.is_ok(), "the connector shut down");
    println!(
        "connector: during an alarm and a reconnect every publish returned within {slowest:?}; publishing again {recovered:?} after it cleared"
    );
    Ok(())
}
