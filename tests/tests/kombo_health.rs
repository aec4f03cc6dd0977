//! Kombo integration health: the client's management calls against the
//! simulator, and a change of Kombo's filters (data_expired_at) that marks
//! people deleted deactivating nobody.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::stack::Stack;
use hris_e2e::{Sim, conformance};
use hris_sim::SimConfig;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn the_client_reads_health_and_asks_for_links_and_switches() -> anyhow::Result<()> {
    let sim = Sim::start(SimConfig::default()).await?;
    sim.add_integration("personio:health", 10, 5).await?;
    let client = sim.client();
    let details = client.integration("personio:health").await?;
    assert_eq!(details.status, "ACTIVE");
    assert_eq!(details.setup_status.as_deref(), Some("COMPLETED"));
    assert_eq!(details.data_expired_at, None);

    sim.control_call(
        Method::PUT,
        "/_sim/integrations/personio:health/health",
        json!({ "data_expired": true, "setup_status": "INCOMPLETE" }),
    )
    .await?;
    let details = client.integration("personio:health").await?;
    assert_eq!(details.setup_status.as_deref(), Some("INCOMPLETE"));
    let expired = details.data_expired_at.expect("data_expired_at set");
    assert!(
        chrono::DateTime::parse_from_rfc3339(&expired).is_ok(),
        "{expired}"
    );

    let link = client.relink("personio:health").await?;
    assert!(link.contains("relink=personio:health"), "{link}");
    let link = client.setup_link("personio:health").await?;
    assert!(link.contains("setup=personio:health"), "{link}");
    client.set_enabled("personio:health", false).await?;
    assert_eq!(
        client.integration("personio:health").await?.status,
        "INACTIVE"
    );
    client.set_enabled("personio:health", true).await?;
    assert_eq!(
        client.integration("personio:health").await?.status,
        "ACTIVE"
    );

    let first = client.force_sync("personio:health").await?;
    let again = client.force_sync("personio:health").await?;
    assert!(!first.already_queued);
    assert!(again.already_queued);
    assert_eq!(again.sync_id, first.sync_id);
    assert_eq!(first.sync_type, "FULL");

    let missing = client
        .relink("personio:nobody")
        .await
        .expect_err("unknown integration");
    assert_eq!(missing.code(), Some("PLATFORM.INTEGRATION_NOT_FOUND"));
    assert_eq!(missing.class(), hris_kombo::ErrorClass::Permanent);
    assert_eq!(
        sim.actions().await?,
        json!({ "integration": 4, "relink": 2, "setup-link": 1, "enabled": 2, "force-sync": 2 })
    );
    Ok(())
}

/// Tenant `acme` imported by workers that read Kombo's health before every
/// employee fetch (the default is at most once a minute).
async fn imported_checking_health(employees: usize, seed: u64) -> anyhow::Result<(Stack, String)> {
    let mut stack = Stack::start().await?;
    stack.health_refresh = Duration::ZERO;
    let integration = stack.tenant("acme", employees, seed).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    Ok((stack, integration))
}

/// Users of `tenant` whose Kombo id is in `ids` and are active.
async fn active_among(stack: &Stack, tenant: &str, ids: &[String]) -> anyhow::Result<i64> {
    stack
        .scalar(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND kombo_id = ANY($2) AND status = 'active'",
            &[&tenant, &ids],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_filter_change_deactivates_nobody_and_holds_them_with_its_reason() -> anyhow::Result<()> {
    let (stack, integration) = imported_checking_health(100, 61).await?;
    let deactivated_before = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'deactivated'",
            "acme",
        )
        .await?;

    let change = stack
        .sim
        .control_call(
            Method::POST,
            &format!("/_sim/integrations/{integration}/filter-change"),
            json!({ "deleted_percent": 30 }),
        )
        .await?;
    let deleted: Vec<String> = serde_json::from_value(change["deleted"].clone())?;
    let active = active_among(&stack, "acme", &deleted).await?;
    assert!(active >= 20, "30% of the company was active: {active}");
    // The people left out of the filter are more than the guard's 20 %: the
    // reason, not the budget, must be what holds them.
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;

    assert_eq!(active_among(&stack, "acme", &deleted).await?, active);
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'deactivated'",
                "acme"
            )
            .await?,
        deactivated_before,
        "a filter change deactivates nobody"
    );
    let client = stack.store.client().await?;
    let held = client
        .query(
            "SELECT user_kombo_id, reason, held_because FROM held_changes WHERE tenant_id = 'acme' AND state = 'pending'",
            &[],
        )
        .await?;
    assert_eq!(held.len() as i64, active);
    for row in &held {
        let (id, reason, because): (String, String, String) = (
            row.try_get("user_kombo_id")?,
            row.try_get("reason")?,
            row.try_get("held_because")?,
        );
        assert!(deleted.contains(&id), "{id} was not filtered out");
        assert_eq!(reason, "deleted_upstream");
        assert!(
            because.starts_with("Kombo's data expired at ")
                && because.ends_with("(the customer changed filters or scope): deletions upstream are not news about people leaving"),
            "{because}"
        );
    }

    let status: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert!(status["kombo"]["data_expired_at"].is_string(), "{status}");
    assert_eq!(status["kombo"]["kombo_status"], "ACTIVE");
    assert_eq!(status["kombo"]["setup_status"], "COMPLETED");
    assert!(
        status["kombo"]["deletions_held_because"]
            .as_str()
            .is_some_and(|b| b.starts_with("Kombo's data expired at ")),
        "{status}"
    );

    // A termination with a date is the HR system's word: it still applies.
    let employees = conformance::employees(&stack, &integration).await?;
    let leaver = conformance::still_employed(&employees)
        .into_iter()
        .find(|id| !deleted.iter().any(|d| d == id))
        .expect("someone still employed")
        .to_owned();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "terminate", "employee_id": leaver, "days_from_today": -3}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let (status, _) = stack.user_status("acme", &leaver).await?;
    assert_eq!(status, "deactivated");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unfinished_setup_holds_a_full_syncs_vanished_and_deleted_people() -> anyhow::Result<()>
{
    let (stack, integration) = imported_checking_health(60, 62).await?;
    let employees = conformance::employees(&stack, &integration).await?;
    let employed = conformance::still_employed(&employees);
    let (vanished, deleted) = (employed[0].to_owned(), employed[1].to_owned());

    stack
        .sim
        .control_call(
            Method::PUT,
            &format!("/_sim/integrations/{integration}/health"),
            json!({ "setup_status": "FINAL_SYNC_PENDING" }),
        )
        .await?;
    for m in [
        json!({"op": "vanish", "employee_ids": [vanished], "silent": true}),
        json!({"op": "delete", "employee_id": deleted, "silent": true}),
    ] {
        stack.sim.mutate(&integration, m).await?;
    }
    // The deletion is held with its page, the vanished person at the end of
    // the listing: both of the guard's paths.
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;

    let client = stack.store.client().await?;
    let held = client
        .query(
            "SELECT user_kombo_id, reason, held_because FROM held_changes
             WHERE tenant_id = 'acme' AND state = 'pending' ORDER BY user_kombo_id",
            &[],
        )
        .await?;
    let mut got: Vec<(String, String)> = Vec::new();
    for row in &held {
        let because: String = row.try_get("held_because")?;
        assert_eq!(
            because,
            "Kombo's setup is FINAL_SYNC_PENDING, not COMPLETED: deletions upstream are not trusted yet"
        );
        got.push((row.try_get("user_kombo_id")?, row.try_get("reason")?));
    }
    let mut expected = vec![
        (vanished.clone(), "missing_from_full_sync".to_owned()),
        (deleted.clone(), "deleted_upstream".to_owned()),
    ];
    expected.sort();
    assert_eq!(got, expected);
    for id in [&vanished, &deleted] {
        assert_eq!(stack.user_status("acme", id).await?.0, "active");
    }
    Ok(())
}
