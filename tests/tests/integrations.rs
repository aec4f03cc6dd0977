//! The integrations worker and bad messages: lifecycle events change which
//! tenants sync; nothing here may crash-loop or lose a change.

use std::time::Duration;

use hris_bus::incoming::header;
use hris_bus::{Entity, FetchKind, RawOutgoing};
use hris_e2e::bus::data_changed;
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

async fn send_event(
    stack: &Stack,
    integration: &str,
    event_type: &str,
    data: serde_json::Value,
) -> anyhow::Result<()> {
    let r = stack
        .sim
        .http
        .post(
            stack
                .sim
                .control(&format!("/_sim/integrations/{integration}/events")),
        )
        .json(&json!({"type": event_type, "data": data}))
        .send()
        .await?;
    anyhow::ensure!(r.status().is_success(), "sim event: {}", r.status());
    Ok(())
}

async fn users(stack: &Stack, tenant: &str) -> anyhow::Result<i64> {
    stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", tenant)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn integration_created_links_the_tenant_and_imports_it() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    stack.sim.add_integration("personio:early", 120, 21).await?;
    stack.sim.add_integration("personio:known", 80, 22).await?;
    stack
        .store
        .add_tenant(&"known".into(), "Known", None)
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;

    let end_user = |origin: &str| json!({"origin_id": origin, "organization_name": "Org", "creator_email": "admin@example.com"});
    send_event(
        &stack,
        "personio:known",
        "integration-created",
        json!({"id": "personio:known", "end_user": end_user("known")}),
    )
    .await?;
    eventually(
        "the known tenant is imported",
        Duration::from_secs(30),
        || async { Ok(users(&stack, "known").await? == 80) },
    )
    .await?;
    assert_eq!(
        stack.store.tenant(&"known".into()).await?.integration_state,
        hris_store::IntegrationState::Active
    );

    // Kombo announces an integration before the platform registered the tenant.
    send_event(
        &stack,
        "personio:early",
        "integration-created",
        json!({"id": "personio:early", "end_user": end_user("early")}),
    )
    .await?;
    eventually("the event is parked", Duration::from_secs(10), || async {
        Ok(stack
            .count(
                "SELECT count(*) FROM pending_integration_events WHERE origin_id = $1",
                "early",
            )
            .await?
            == 1)
    })
    .await?;
    let out = tokio::process::Command::new(hris_e2e::hris_sync_bin())
        .args(["tenant", "add", "--id", "early", "--name", "Early"])
        .env("DATABASE_URL", &stack.db.url)
        .output()
        .await?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tenant = stack.store.tenant(&"early".into()).await?;
    assert_eq!(
        tenant.kombo_integration_id.as_deref(),
        Some("personio:early")
    );
    assert_eq!(
        tenant.integration_state,
        hris_store::IntegrationState::Active
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn paused_tenants_wait_and_resume_deleted_ones_stop_and_keep_data() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 60, 23).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let id = employees[0].id.clone();
    let title = || {
        let stack = &stack;
        let id = id.clone();
        async move {
            let client = stack.store.client().await?;
            let row = client
                .query_one(
                    "SELECT job_title FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
                    &[&id],
                )
                .await?;
            anyhow::Ok(row.get::<_, Option<String>>(0))
        }
    };

    send_event(
        &stack,
        &integration,
        "integration-state-changed",
        json!({"state": "INACTIVE"}),
    )
    .await?;
    eventually("paused", Duration::from_secs(10), || async {
        Ok(stack.store.tenant(&"acme".into()).await?.integration_state
            == hris_store::IntegrationState::Paused)
    })
    .await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "promote", "employee_id": id, "job_title": "While Paused"}),
        )
        .await?;
    stack.flush_webhooks().await?;
    eventually("the fetch is deferred", Duration::from_secs(10), || async {
        Ok(stack.count("SELECT count(*) FROM sync_state WHERE tenant_id = $1 AND entity = 'employees' AND rerun_requested IS NOT NULL", "acme").await? == 1)
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_ne!(
        title().await?.as_deref(),
        Some("While Paused"),
        "nothing fetched while paused"
    );
    assert!(
        stack.inspector.dead_letters().await?.is_empty(),
        "waiting is not failing"
    );

    send_event(
        &stack,
        &integration,
        "integration-state-changed",
        json!({"state": "ACTIVE"}),
    )
    .await?;
    eventually(
        "the deferred change lands after resuming",
        Duration::from_secs(20),
        || async { Ok(title().await?.as_deref() == Some("While Paused")) },
    )
    .await?;

    send_event(
        &stack,
        &integration,
        "sync-finished",
        json!({"sync_id": "S1", "sync_state": "SUCCEEDED", "log_url": "https://example.com/log"}),
    )
    .await?;
    eventually(
        "sync-finished recorded",
        Duration::from_secs(10),
        || async {
            Ok(stack
                .count(
                    "SELECT count(*) FROM kombo_syncs WHERE tenant_id = $1",
                    "acme",
                )
                .await?
                == 1)
        },
    )
    .await?;

    send_event(
        &stack,
        &integration,
        "integration-deleted",
        json!({"id": integration}),
    )
    .await?;
    eventually("disconnected", Duration::from_secs(10), || async {
        Ok(stack.store.tenant(&"acme".into()).await?.integration_state
            == hris_store::IntegrationState::Disconnected)
    })
    .await?;
    // The full import read that sync-finished started may still be paging
    // when the deletion lands; it ends its listing. What is asserted here is
    // that nothing starts after the deletion, so that fetch finishes first.
    stack.settle(Duration::from_secs(20)).await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "promote", "employee_id": id, "job_title": "After Delete"}),
        )
        .await?;
    stack
        .receiver
        .post_signed(&data_changed(
            "after-delete",
            &integration,
            &["hris_employees"],
        ))
        .await?;
    stack.settle(Duration::from_secs(20)).await?;
    assert_eq!(
        title().await?.as_deref(),
        Some("While Paused"),
        "a disconnected tenant is not synced"
    );
    assert_eq!(users(&stack, "acme").await?, 60, "its data is kept");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_poison_message_is_dead_lettered_on_its_first_failure() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    let topology = stack.inspector.topology().clone();
    stack
        .publisher
        .publish_raw(vec![RawOutgoing {
            exchange: topology.events_exchange(),
            routing_key: "employees".to_owned(),
            payload: b"{not json".to_vec(),
            properties: lapin::BasicProperties::default().with_message_id("poison-1".into()),
        }])
        .await?;
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while dead.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        dead.extend(stack.inspector.dead_letters().await?);
    }
    assert_eq!(dead.len(), 1);
    let d = &dead[0];
    assert_eq!(d.header_str(header::ERROR_CLASS).as_deref(), Some("poison"));
    assert_eq!(d.header_int(header::ATTEMPTS), Some(1));
    assert_eq!(
        d.header_str(header::ROUTING_KEY).as_deref(),
        Some("employees")
    );
    assert!(
        d.header_str(header::DETAIL)
            .is_some_and(|r| r.contains("unreadable envelope"))
    );
    assert_eq!(d.data, b"{not json", "the payload is kept as it came");
    stack.settle(Duration::from_secs(10)).await?;
    assert!(
        stack.inspector.dead_letters().await?.is_empty(),
        "dead-lettered once"
    );
    Ok(())
}
