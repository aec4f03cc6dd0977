//! A receiver that cannot be held: stalled and trickling clients, more
//! connections than the cap, oversized bodies, and no value from a body in
//! errors or logs. Against the real `hris-sync receiver` process and broker.
//! A broker alarm: `receiver_alarm.rs`; the admin API: `admin_api_auth.rs`.

use std::time::{Duration, Instant};

use hris_bus::Entity;
use hris_e2e::bus::{Inspector, data_changed};
use hris_e2e::receiver_process::{
    ReceiverProcess, client, close_times, hard_open_files_limit, idle_after_one_request,
    open_watched, post_signed, slow_request,
};
use hris_e2e::{amqp_prefix, amqp_url};

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
    assert!(answer.starts_with("HTTP/1.1 405"), "{answer:?}");
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
