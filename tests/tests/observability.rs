//! Every role serves /metrics; after a sync the counters have moved.

use std::time::Duration;

use hris_bus::SyncKind;
use hris_e2e::stack::{Stack, eventually};

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A worker process serving /metrics on a free port, once it is ready.
async fn ready_worker(stack: &Stack) -> anyhow::Result<(tokio::process::Child, String)> {
    let port = free_port()?;
    let worker = stack.worker_process(&[("METRICS_ADDR", &format!("127.0.0.1:{port}"))])?;
    let url = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    eventually("the worker is ready", Duration::from_secs(20), || async {
        Ok(http
            .get(format!("{url}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200))
    })
    .await?;
    Ok((worker, url))
}

/// The value of the first sample of `metric` whose labels contain `label`.
fn sample(text: &str, metric: &str, label: &str) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(metric) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_workers_metrics_move_after_a_sync() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.tenant("acme", 120, 61).await?;
    let (_worker, url) = ready_worker(&stack).await?;
    let http = reqwest::Client::new();
    stack.request_sync("acme", SyncKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let created = sample(
        &text,
        "records_applied_total",
        "endpoint=\"/hris/employees\",kind=\"created\"",
    );
    assert_eq!(created, Some(120.0), "{text}");
    assert!(
        sample(&text, "messages_total", "outcome=\"ok\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "kombo_request_seconds_count", "/hris/employees").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "fetch_seconds_count", "employees").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        http.get(format!("{url}/healthz")).send().await?.status(),
        200
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn webhook_to_commit_lag_is_measured() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let integration = stack.tenant("acme", 50, 62).await?;
    let (_worker, url) = ready_worker(&stack).await?;
    let http = reqwest::Client::new();
    stack
        .receiver
        .post_signed(&hris_e2e::bus::data_changed(
            "lag-1",
            &integration,
            &["hris_employees"],
        ))
        .await?;
    stack.settle(Duration::from_secs(30)).await?;
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        sample(&text, "webhook_to_commit_seconds_count", "employees").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    Ok(())
}
