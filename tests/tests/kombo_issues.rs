//! Kombo's issues (`issue-status-changed`): an authentication issue shows in
//! `tenant status` and the metrics, holds deactivations from deletions
//! upstream while it is open, and stops holding them once resolved. One test
//! in this binary: the gauges are process-wide.

use std::time::Duration;

use hris_e2e::stack::{Stack, eventually};
use hris_e2e::{conformance, metrics};
use reqwest::Method;
use serde_json::{Value, json};

async fn status(stack: &Stack) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?)
}

fn gauge(name: &str) -> u64 {
    metrics::counter(&format!("{name} "), &[])
}

async fn delete(stack: &Stack, integration: &str, id: &str) -> anyhow::Result<()> {
    stack
        .sim
        .mutate(integration, json!({"op": "delete", "employee_id": id}))
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_auth_issue_is_reported_and_holds_deletions_until_resolved() -> anyhow::Result<()> {
    // Installs this process's recorder before any gauge is set.
    let _ = gauge("hris_sync_kombo_tenants_auth_issue_open");
    let (stack, integration) = Stack::imported("acme", 60, 71).await?;
    let employees = conformance::employees(&stack, &integration).await?;
    let employed = conformance::still_employed(&employees);
    let (first, second) = (employed[0].to_owned(), employed[1].to_owned());

    let raised = stack
        .sim
        .control_call(
            Method::POST,
            "/_sim/issues",
            json!({ "change": "raised", "integration_id": integration }),
        )
        .await?;
    let issue_id = raised["issue_id"].as_str().unwrap_or_default().to_owned();
    eventually("the issue is recorded", Duration::from_secs(20), || async {
        Ok(status(&stack).await?["kombo"]["open_issues"]
            .as_array()
            .is_some_and(|a| a.len() == 1))
    })
    .await?;
    let s = status(&stack).await?;
    let open = &s["kombo"]["open_issues"][0];
    assert_eq!(open["issue_id"], issue_id.as_str());
    assert_eq!(open["issue_type"], "integration.authentication_failed");
    assert_eq!(open["integration_id"], integration.as_str());
    assert_eq!(
        s["kombo"]["deletions_held_because"],
        "Kombo reports integration.authentication_failed: deletions upstream are not trusted until it is resolved"
    );
    assert_eq!(gauge("hris_sync_kombo_tenants_auth_issue_open"), 1);

    // An issue of the whole environment: recorded without a tenant.
    stack
        .sim
        .control_call(
            Method::POST,
            "/_sim/issues",
            json!({ "change": "raised", "type": "environment.webhook_failing" }),
        )
        .await?;
    eventually(
        "the environment issue is recorded",
        Duration::from_secs(20),
        || async {
            Ok(status(&stack).await?["environment_issues"]
                .as_array()
                .is_some_and(|a| a.len() == 1))
        },
    )
    .await?;
    assert_eq!(gauge("hris_sync_kombo_environment_issues_open"), 1);
    assert_eq!(gauge("hris_sync_kombo_tenants_auth_issue_open"), 1);

    delete(&stack, &integration, &first).await?;
    assert_eq!(stack.user_status("acme", &first).await?.0, "active");
    let because: String = stack
        .store
        .client()
        .await?
        .query_one(
            "SELECT held_because FROM held_changes WHERE tenant_id = 'acme' AND user_kombo_id = $1 AND state = 'pending'",
            &[&first],
        )
        .await?
        .try_get("held_because")?;
    assert!(
        because.starts_with("Kombo reports integration.authentication_failed"),
        "{because}"
    );

    stack
        .sim
        .control_call(
            Method::POST,
            "/_sim/issues",
            json!({ "change": "resolved", "issue_id": issue_id, "integration_id": integration }),
        )
        .await?;
    eventually("the issue is closed", Duration::from_secs(20), || async {
        Ok(status(&stack).await?["kombo"]["open_issues"]
            .as_array()
            .is_some_and(Vec::is_empty))
    })
    .await?;
    assert_eq!(
        status(&stack).await?["kombo"]["deletions_held_because"],
        Value::Null
    );
    assert_eq!(gauge("hris_sync_kombo_tenants_auth_issue_open"), 0);

    delete(&stack, &integration, &second).await?;
    assert_eq!(
        stack.user_status("acme", &second).await?,
        (
            "deactivated".to_owned(),
            Some("deleted_upstream".to_owned())
        )
    );
    // The one held while the issue was open waits for an admin's decision.
    assert_eq!(stack.user_status("acme", &first).await?.0, "active");
    Ok(())
}
