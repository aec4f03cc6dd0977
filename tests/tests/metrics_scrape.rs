//! Every metric the alert rules and the dashboard use is really served: each
//! role runs as its own process (receiver, worker, scheduler, admin) on one
//! stack, a webhook goes through them and a sync fails at Kombo, then every
//! role's /metrics is scraped and each name the rules and the dashboard use
//! has a sample in one of them. (That the names are catalogued and recorded
//! in code: `metrics_catalogue.rs`.)

use std::collections::BTreeSet;
use std::time::Duration;

use hris_bus::FetchKind;
use hris_e2e::metrics::{MONITORING_FILES, base_name, named_in};
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

fn free_addr() -> anyhow::Result<String> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .to_string())
}

/// Our names with at least one sample in a scrape (not only a `# HELP`).
fn sampled(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .filter_map(base_name)
        .collect()
}

async fn scrape(metrics_addr: &str) -> anyhow::Result<String> {
    Ok(reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await?
        .text()
        .await?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_metric_the_alerts_and_the_dashboard_use_is_served_after_a_sync() -> anyhow::Result<()>
{
    let stack = Stack::start().await?;
    let integration = stack.tenant("acme", 40, 191).await?;
    let broken = stack.tenant("broken", 10, 192).await?;
    stack
        .sim
        .set_faults(
            &broken,
            json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID", "error_message": "revoked"}),
        )
        .await?;
    let http_addr = free_addr()?;
    let roles: Vec<(&str, Vec<&str>, String)> = vec![
        ("receiver", vec!["receiver"], free_addr()?),
        ("worker", vec!["worker", "--entity", "all"], free_addr()?),
        ("scheduler", vec!["scheduler"], free_addr()?),
        ("admin", vec!["admin"], free_addr()?),
    ];
    let admin_addr = free_addr()?;
    let mut children = Vec::new();
    for (_, args, metrics) in &roles {
        let env = [
            ("METRICS_ADDR", metrics.as_str()),
            ("HTTP_ADDR", http_addr.as_str()),
            ("KOMBO_WEBHOOK_SECRETS", hris_e2e::bus::SECRET),
            ("SCHEDULER_TICK_SECS", "0.3"),
            ("ADMIN_ADDR", admin_addr.as_str()),
            ("ADMIN_TOKEN", "a-token-for-the-scrape-test"),
        ];
        children.push(stack.role_command(args, &env).spawn()?);
    }
    let http = reqwest::Client::new();
    for (role, _, metrics) in &roles {
        eventually(
            &format!("the {role} is ready"),
            Duration::from_secs(30),
            || async {
                Ok(http
                    .get(format!("http://{metrics}/readyz"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status() == 200))
            },
        )
        .await?;
    }

    // A change by webhook through the receiver process to the worker process …
    let body = hris_e2e::bus::data_changed("scrape-1", &integration, &["hris_employees"]);
    let answer = http
        .post(format!("http://{http_addr}/webhooks/kombo"))
        .header(
            "X-Kombo-Signature",
            hris_kombo::sign(hris_e2e::bus::SECRET, &body),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    assert_eq!(answer.status(), 200);
    // … and a sync Kombo refuses (its errors, the failure, a dead letter).
    stack.request_sync("broken", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    eventually(
        "the dead letters are archived",
        Duration::from_secs(30),
        || async {
            Ok(stack
                .count(
                    "SELECT count(*) FROM dead_letters WHERE tenant_id = $1",
                    "broken",
                )
                .await?
                >= 4)
        },
    )
    .await?;

    let wanted: BTreeSet<String> = MONITORING_FILES.iter().flat_map(|f| named_in(f)).collect();
    // The scheduler's gauges are refreshed on its tick: a few scrapes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let missing = loop {
        let mut served = BTreeSet::new();
        for (_, _, metrics) in &roles {
            served.extend(sampled(&scrape(metrics).await?));
        }
        let missing: Vec<String> = wanted.difference(&served).cloned().collect();
        if missing.is_empty() || tokio::time::Instant::now() > deadline {
            break missing;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(missing.is_empty(), "not served by any role: {missing:?}");
    println!(
        "{} names the rules and dashboard use, all served",
        wanted.len()
    );
    drop(children);
    Ok(())
}
