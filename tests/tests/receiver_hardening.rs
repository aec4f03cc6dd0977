//! A receiver that cannot be held: stalled and trickling clients, more
//! connections than the cap, a broker alarm, oversized bodies, the admin API's
//! order of checks, and no value from a body in errors or logs. Against the real
//! `hris-sync receiver` process and the real broker (a private node for the alarm).

use std::time::{Duration, Instant};

use hris_bus::{AmqpConfig, Connector, Entity, Envelope, FetchKind, Publisher, Topology, Trigger};
use hris_e2e::broker::PrivateBroker;
use hris_e2e::bus::{Inspector, data_changed};
use hris_e2e::receiver_process::{
    ReceiverProcess, admin_receiver, client, close_times, hard_open_files_limit,
    idle_after_one_request, open_watched, post_signed, slow_request,
};
use hris_e2e::{amqp_prefix, amqp_url};
use tokio_util::sync::CancellationToken;

/// A request head that never ends: the request line and one header, then nothing.
const PARTIAL_HEAD: &[u8] = b"POST /webhooks/kombo HTTP/1.1\r\nHost: 127.0.0.1\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_thousand_stalled_requests_are_cut_off_and_webhooks_still_answered()
-> anyhow::Result<()> {
    let prefix = amqp_prefix();
    let inspector = Inspector::connect(&prefix).await?;
    // Started with a soft limit of 1,024 open files: 2,000 connections only
    // fit because the receiver raises it to the hard limit.
    let hard = hard_open_files_limit().unwrap_or(0);
    let nofile = format!("--nofile=1024:{hard}");
    let wrapper: Vec<&str> = if hard >= 4096 {
        vec!["prlimit", &nofile, "--"]
    } else {
        Vec::new()
    };
    let env = [
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "3"),
        ("HTTP_MAX_CONNECTIONS", "3000"),
    ];
    let receiver = ReceiverProcess::start_wrapped(&wrapper, &amqp_url(), &prefix, &env).await?;
    if hard >= 4096 {
        let logs = receiver.logs();
        assert!(
            logs.contains(&format!("\"open_files_limit\":{hard}")),
            "the receiver raised its open files limit to {hard}:\n{logs}"
        );
    }
    let started = Instant::now();
    let stalled = open_watched(receiver.addr, 2000, PARTIAL_HEAD, Duration::from_secs(20)).await?;
    let opened_in = started.elapsed();
    let http = client();
    let body = data_changed("E-stalled", "personio:x", &["hris_employees"]);
    let (status, _, took) = post_signed(&http, &receiver.url("/webhooks/kombo"), &body).await?;
    assert_eq!(status, 200, "a valid webhook among 2,000 stalled requests");
    assert!(took < Duration::from_secs(5), "answered in {took:?}");
    let closed = close_times(stalled).await;
    let still_open = closed.iter().filter(|c| c.is_none()).count();
    let times: Vec<Duration> = closed.into_iter().flatten().collect();
    let max = times.iter().max().copied().unwrap_or_default();
    let min = times.iter().min().copied().unwrap_or_default();
    assert_eq!(still_open, 0, "every stalled connection was closed");
    assert!(
        min >= Duration::from_millis(2500),
        "closed by the 3 s header timeout, not before: {min:?}"
    );
    assert!(max <= Duration::from_secs(13), "closed by {max:?}");
    let queued = inspector.drain_entity(Entity::Employees).await?;
    assert!(queued.iter().any(|t| t.envelope.event_id == "E-stalled"));
    println!(
        "stalled: 2000 connections opened in {opened_in:?}, the webhook answered 200 in {took:?}, all closed by the 3 s header timeout between {min:?} and {max:?} (soft limit raised from 1024 to {hard})"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_bodies_and_idle_connections_end_in_bounded_time() -> anyhow::Result<()> {
    let prefix = amqp_prefix();
    let env = [
        ("HTTP_BODY_READ_TIMEOUT_SECS", "2"),
        ("HTTP_IDLE_TIMEOUT_SECS", "1"),
    ];
    let receiver = ReceiverProcess::start(&amqp_url(), &prefix, &env).await?;
    let head = "POST /webhooks/kombo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nX-Kombo-Signature: x\r\n\r\n";
    for trickle in [true, false] {
        let (answer, took, ended) = slow_request(receiver.addr, head, trickle).await?;
        let text = answer;
        assert!(ended, "the connection ended (trickle {trickle}): {text}");
        assert!(
            text.starts_with("HTTP/1.1 408"),
            "a timeout answer (trickle {trickle}): {text:?}"
        );
        assert!(took <= Duration::from_secs(7), "answered in {took:?}");
        println!("slow body (trickle {trickle}): 408 after {took:?} with a 2 s body timeout");
    }
    // A keep-alive connection that asks nothing after its first answer is
    // closed by the 1 s idle timeout (the header-read timeout is 10 s).
    let (answer, took, ended) =
        idle_after_one_request(receiver.addr, Duration::from_secs(15)).await?;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(ended, "the idle connection was closed");
    assert!(
        took >= Duration::from_millis(800) && took <= Duration::from_secs(4),
        "closed after {took:?} idle"
    );
    println!("idle: a keep-alive connection closed {took:?} after its answer (1 s idle timeout)");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn connections_beyond_the_cap_wait_and_webhooks_are_still_answered() -> anyhow::Result<()> {
    let prefix = amqp_prefix();
    let env = [
        ("HTTP_MAX_CONNECTIONS", "50"),
        ("HTTP_HEADER_READ_TIMEOUT_SECS", "2"),
    ];
    let receiver = ReceiverProcess::start(&amqp_url(), &prefix, &env).await?;
    tokio::time::sleep(Duration::from_millis(300)).await; // the readiness probe's connection ends
    let started = Instant::now();
    let silent = open_watched(receiver.addr, 150, b"", Duration::from_secs(30)).await?;
    let http = client();
    let body = data_changed("E-capped", "personio:x", &["hris_employees"]);
    let (status, _, took) = post_signed(&http, &receiver.url("/webhooks/kombo"), &body).await?;
    assert_eq!(
        status, 200,
        "a webhook queued behind 150 silent connections"
    );
    assert!(took < Duration::from_secs(15), "answered in {took:?}");
    let closed = close_times(silent).await;
    let times: Vec<Duration> = closed.iter().flatten().copied().collect();
    assert_eq!(times.len(), 150, "every silent connection was closed");
    // Only the 50 admitted at once meet the first 2 s header timeout; the
    // others waited for a slot before their own timeout began.
    let first_round = times
        .iter()
        .filter(|t| **t < Duration::from_millis(3500))
        .count();
    assert!(
        (1..=50).contains(&first_round),
        "{first_round} closed in the first round, cap 50"
    );
    let max = times.iter().max().copied().unwrap_or_default();
    println!(
        "cap: 150 silent connections against a cap of 50: {first_round} closed in the first 2 s round, the last after {max:?}; a webhook queued behind them answered 200 in {took:?}; {:?} in all",
        started.elapsed()
    );
    Ok(())
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_oversized_webhook_gets_a_readable_413() -> anyhow::Result<()> {
    let prefix = amqp_prefix();
    let receiver = ReceiverProcess::start(&amqp_url(), &prefix, &[]).await?;
    let huge = vec![b' '; 5 * 1024 * 1024];
    let http = client();
    let mut readable = 0;
    let mut other = Vec::new();
    for _ in 0..30 {
        let sent = http
            .post(receiver.url("/webhooks/kombo"))
            .header("X-Kombo-Signature", hris_kombo::sign("x", &huge))
            .body(huge.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status() == 413 => match r.json::<serde_json::Value>().await {
                Ok(body) if body["error"]["code"] == "too_large" => readable += 1,
                answer => other.push(format!("{answer:?}")),
            },
            answer => other.push(format!("{answer:?}")),
        }
    }
    assert!(readable >= 29, "{readable} of 30 read their 413: {other:?}");
    println!("oversized: {readable} of 30 posts of 5 MiB read their 413");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_checks_the_token_before_reading_anything() -> anyhow::Result<()> {
    let (_db, admin, token) = admin_receiver().await?;
    let http = client();
    let connect = admin.url("/admin/tenants/acme/connect");
    let huge = vec![b'{'; 5 * 1024 * 1024];
    for (what, body) in [
        ("5 MiB", huge),
        ("bad JSON", b"{not json".to_vec()),
        ("no body", Vec::new()),
    ] {
        let r = http.post(&connect).body(body).send().await?;
        assert_eq!(r.status(), 401, "unauthenticated {what}");
    }
    // Authenticated: bad JSON is a 400 that quotes nothing from the body.
    let r = http
        .post(&connect)
        .bearer_auth(token)
        .body(format!(r#"{{"tool": 7, "admin_email": ["{IBAN}"]}}"#))
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    let text = r.text().await?;
    assert!(!text.contains(IBAN) && !text.contains("7,"), "{text}");
    println!(
        "admin: unauthenticated 5 MiB, bad JSON and empty bodies 401; authenticated bad JSON 400 without its values"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_answers_404_for_unknown_tenants() -> anyhow::Result<()> {
    let (_db, admin, token) = admin_receiver().await?;
    let http = client();
    // Unknown tenants: 404 on every route.
    let valid = r#"{"tool":"personio","admin_email":"a@example.com"}"#;
    for (method, path) in [
        ("POST", "/admin/tenants/nobody/import-all"),
        ("GET", "/admin/tenants/nobody/status"),
        ("POST", "/admin/tenants/nobody/connect"),
        ("POST", "/admin/tenants/nobody/held/approve"),
        ("POST", "/admin/tenants/nobody/held/reject"),
    ] {
        let r = http
            .request(method.parse()?, admin.url(path))
            .bearer_auth(token)
            .body(valid)
            .send()
            .await?;
        assert_eq!(r.status(), 404, "{method} {path}");
    }
    let r = http
        .post(admin.url("/admin/tenants/acme/held/approve"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(r.status(), 200, "a known tenant with nothing held");
    println!("admin: unknown tenant 404 on 5 routes, a known one 200");
    Ok(())
}

/// A distinctive value that must never appear in an answer or a log.
const IBAN: &str = "DE89370400440532013000";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_malformed_webhook_answer_and_the_logs_hold_no_value_from_the_body() -> anyhow::Result<()>
{
    let prefix = amqp_prefix();
    let env = [("RUST_LOG", "debug,lapin=info,hyper=info,hyper_util=info")];
    let receiver = ReceiverProcess::start(&amqp_url(), &prefix, &env).await?;
    let birth = "1987-03-14";
    let bodies = [
        format!(
            r#"{{"id":"E1","type":"data-changed","data":{{"integration_id":"personio:x","integration_tool":"personio","integration_category":"HRIS","changed_models":"{IBAN}"}}}}"#
        ),
        format!(
            r#"{{"id":"E2","type":"data-changed","data":{{"integration_id":"personio:x","changed_models":[{{"name":["{IBAN}"]}}],"x":"{birth}"}}}}"#
        ),
        format!(
            r#"{{"id":"E3","type":"sync-finished","data":{{"sync_id":"S","sync_state":"SUCCEEDED","sync_duration_seconds":"{IBAN}","integration_id":"personio:x"}}}}"#
        ),
        format!(
            r#"{{"id":"E4","type":"integration-state-changed","data":{{"integration_id":"personio:x","state":{{"iban":"{IBAN}","born":"{birth}"}}}}}}"#
        ),
        format!(r#"{{"id":"E5","type":"data-changed","data":{{"integration_id":"{IBAN}"#),
    ];
    let http = client();
    for body in &bodies {
        let r = http
            .post(receiver.url("/webhooks/kombo"))
            .header(
                "X-Kombo-Signature",
                hris_kombo::sign(hris_e2e::bus::SECRET, body.as_bytes()),
            )
            .body(body.clone())
            .send()
            .await?;
        assert_eq!(r.status(), 400, "{body}");
        let answer: serde_json::Value = r.json().await?;
        let message = answer["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{answer}");
        assert!(
            !message.contains(IBAN) && !message.contains(birth),
            "the answer quotes the body: {message}"
        );
    }
    let logs = receiver.stop().await;
    assert!(
        logs.matches("webhook refused: malformed").count() >= bodies.len(),
        "the refusals were logged:\n{logs}"
    );
    assert!(
        !logs.contains(IBAN) && !logs.contains(birth),
        "the logs quote a body:\n{logs}"
    );
    println!(
        "malformed: {} signed bodies with an IBAN in wrong-typed fields, 400 each, no value in answers or {} log lines",
        bodies.len(),
        logs.lines().count()
    );
    Ok(())
}
