//! Every role serves /metrics, and its counters move when it works: the worker
//! and the scheduler on METRICS_ADDR (with /healthz and /readyz), the receiver
//! on its HTTP_ADDR beside the webhook (it has no METRICS_ADDR of its own yet).

use std::time::Duration;

use hris_bus::FetchKind;
use hris_e2e::stack::{Stack, eventually};

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A worker process serving /metrics on a free port, once it is ready.
async fn ready_worker(stack: &Stack) -> anyhow::Result<(tokio::process::Child, String)> {
    ready_role(stack, &["worker", "--entity", "all"], &[]).await
}

/// `hris-sync ARGS` serving /metrics on a free METRICS_ADDR, once it is ready.
async fn ready_role(
    stack: &Stack,
    args: &[&str],
    env: &[(&str, &str)],
) -> anyhow::Result<(tokio::process::Child, String)> {
    let addr = format!("127.0.0.1:{}", free_port()?);
    let mut env = env.to_vec();
    env.push(("METRICS_ADDR", &addr));
    let child = stack.role_command(args, &env).spawn()?;
    let url = format!("http://{addr}");
    wait_ready(&url, args[0]).await?;
    Ok((child, url))
}

async fn wait_ready(url: &str, role: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    eventually(
        &format!("the {role} is ready"),
        Duration::from_secs(20),
        || async {
            Ok(http
                .get(format!("{url}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200))
        },
    )
    .await
}

async fn metrics_text(url: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(format!("{url}/metrics")).await?.text().await?)
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
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let created = sample(
        &text,
        "hris_sync_records_applied_total",
        "endpoint=\"/hris/employees\",kind=\"created\"",
    );
    assert_eq!(created, Some(120.0), "{text}");
    assert!(
        sample(&text, "hris_sync_messages_total", "outcome=\"ok\"").is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "hris_sync_kombo_request_seconds_count",
            "/hris/employees"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(&text, "hris_sync_fetch_seconds_count", "employees").is_some_and(|n| n >= 1.0),
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
        sample(
            &text,
            "hris_sync_webhook_to_commit_seconds_count",
            "employees"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_schedulers_metrics_move_when_it_enqueues() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    stack.tenant("acme", 10, 63).await?;
    stack.store.schedule_full_sync_now(&"acme".into()).await?;
    let (_scheduler, url) =
        ready_role(&stack, &["scheduler"], &[("SCHEDULER_TICK_SECS", "0.3")]).await?;
    // Its work really happened (one message per synced entity) …
    eventually(
        "the scheduler enqueues the due full sync",
        Duration::from_secs(20),
        || async { Ok(stack.inspector.total_depth().await? >= 4) },
    )
    .await?;
    // … and its own /metrics counted it.
    let text = metrics_text(&url).await?;
    assert_eq!(
        sample(&text, "hris_sync_scheduled_full_syncs_total", ""),
        Some(1.0),
        "{text}"
    );
    // What lives in PostgreSQL, as gauges the alert rules use, described.
    assert_eq!(
        sample(&text, "hris_sync_tenants", "state=\"active\""),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hris_sync_dead_letters_pending", "class=\"poison\""),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "hris_sync_held_changes_pending", ""),
        Some(0.0),
        "{text}"
    );
    let tick = sample(&text, "hris_sync_scheduler_last_tick_timestamp_seconds", "");
    let now = chrono::Utc::now().timestamp() as f64;
    assert!(tick.is_some_and(|t| (now - t).abs() < 60.0), "{text}");
    assert!(
        text.contains("# HELP hris_sync_full_sync_oldest_age_seconds "),
        "{text}"
    );
    assert!(text.contains("hris_sync_build_info{version=\""), "{text}");
    // The process's own figures, read at the scrape.
    let resident = sample(&text, "hris_sync_process_resident_memory_bytes", "");
    assert!(resident.is_some_and(|bytes| bytes > 1_000_000.0), "{text}");
    assert!(
        sample(&text, "hris_sync_process_open_fds", "").is_some_and(|n| n >= 3.0),
        "{text}"
    );
    assert!(
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .all(|l| l.starts_with("hris_sync_")),
        "every series is hris_sync_…: {text}"
    );
    assert_eq!(reqwest::get(format!("{url}/healthz")).await?.status(), 200);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_receivers_metrics_count_webhooks() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let addr = format!("127.0.0.1:{}", free_port()?);
    let ops = format!("127.0.0.1:{}", free_port()?);
    let _receiver = stack
        .role_command(
            &["receiver"],
            &[
                ("HTTP_ADDR", &addr),
                ("METRICS_ADDR", &ops),
                ("KOMBO_WEBHOOK_SECRETS", hris_e2e::bus::SECRET),
            ],
        )
        .spawn()?;
    let url = format!("http://{addr}");
    let ops = format!("http://{ops}");
    wait_ready(&ops, "receiver").await?;
    let body = hris_e2e::bus::data_changed("obs-1", "personio:acme", &["hris_employees"]);
    let http = reqwest::Client::new();
    let post = |sig: String| {
        http.post(format!("{url}/webhooks/kombo"))
            .header("X-Kombo-Signature", sig)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
    };
    assert_eq!(
        post(hris_kombo::sign(hris_e2e::bus::SECRET, &body))
            .await?
            .status(),
        200
    );
    assert_eq!(post(hris_kombo::sign("wrong", &body)).await?.status(), 401);
    assert_eq!(post(hris_kombo::sign("wrong", &body)).await?.status(), 401);
    let text = metrics_text(&ops).await?;
    assert_eq!(
        sample(
            &text,
            "hris_sync_webhook_requests_total",
            "outcome=\"accepted\""
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "hris_sync_webhook_requests_total",
            "outcome=\"bad_signature\""
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(reqwest::get(format!("{ops}/healthz")).await?.status(), 200);
    // Only the webhook is on the public port.
    for path in ["/metrics", "/healthz", "/readyz", "/admin/tenants/acme"] {
        let status = reqwest::get(format!("{url}{path}")).await?.status();
        assert_eq!(status, 404, "{path} on HTTP_ADDR");
    }
    Ok(())
}
