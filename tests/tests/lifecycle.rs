//! Connecting a tenant, the mass-change guard, and effective dates (leavers
//! and invitations).

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::stack::{Stack, eventually, scheduler_config};
use hris_worker::scheduler::tick;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_connects_through_kombo_and_is_imported_without_another_step() -> anyhow::Result<()>
{
    let mut stack = Stack::start().await?;
    stack.store.add_tenant(&"acme".into(), "Acme", None).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    let link = stack
        .cli(&[
            "tenant",
            "connect",
            "--tenant",
            "acme",
            "--tool",
            "personio",
            "--admin-email",
            "it@acme.example",
        ])
        .await?;
    let token = link
        .trim()
        .rsplit_once("token=")
        .map(|(_, t)| t.to_owned())
        .unwrap_or_default();
    assert!(!token.is_empty(), "a connection link: {link}");
    // The customer's admin finishes Kombo's flow.
    let r = stack
        .sim
        .http
        .post(stack.sim.control("/_sim/connect/complete"))
        .json(&json!({"token": token, "company": {"employees": 50, "seed": 41}}))
        .send()
        .await?;
    assert!(r.status().is_success());
    eventually(
        "the first import ran by itself",
        Duration::from_secs(30),
        || async {
            Ok(stack
                .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
                .await?
                == 50)
        },
    )
    .await?;
    stack.settle(Duration::from_secs(30)).await?;
    let status: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert_eq!(status["state"], "active");
    assert_eq!(status["entities"].as_array().map(Vec::len), Some(4));
    assert!(
        status["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|e| !e["last_full_at"].is_null())
    );
    // Without --yes it refuses (exit 4) and the tenant stays connected.
    let (code, _, stderr) = stack
        .cli_status(&["tenant", "disconnect", "--tenant", "acme"])
        .await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert_eq!(
        stack.store.tenant(&"acme".into()).await?.integration_state,
        hris_store::IntegrationState::Active
    );
    stack
        .cli(&["tenant", "disconnect", "--tenant", "acme", "--yes"])
        .await?;
    assert_eq!(
        stack.store.tenant(&"acme".into()).await?.integration_state,
        hris_store::IntegrationState::Disconnected
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        50,
        "data kept"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_a_mass_deactivation_until_approved() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 40, 44).await?;
    let other = stack.tenant("other", 30, 45).await?;
    stack.request_sync("other", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let active: Vec<String> = {
        let client = stack.store.client().await?;
        client.query("SELECT kombo_id FROM users WHERE tenant_id = 'acme' AND status = 'active' ORDER BY kombo_id", &[]).await?.iter().map(|r| r.get(0)).collect()
    };
    let half: Vec<&String> = active.iter().take(active.len() / 2).collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": half, "silent": true}),
        )
        .await?;
    // Another tenant deactivating one person at the same time is not held.
    let other_employees = hris_e2e::conformance::employees(&stack, &other).await?;
    let victim = hris_e2e::conformance::still_employed(&other_employees)[0].to_owned();
    stack
        .sim
        .mutate(&other, json!({"op": "delete", "employee_id": victim}))
        .await?;
    stack.flush_webhooks().await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;

    let still_active = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
            "acme",
        )
        .await?;
    assert_eq!(
        still_active as usize,
        active.len(),
        "nothing deactivated: the batch is held"
    );
    let held: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "held", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert_eq!(held.as_array().map(Vec::len), Some(half.len()));
    assert_eq!(
        stack.user_status("other", &victim).await?.0,
        "deactivated",
        "other tenants are not affected"
    );

    stack
        .cli(&[
            "tenant", "reject", "--tenant", "acme", "--actor", "ops", "--yes",
        ])
        .await?;
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
                "acme"
            )
            .await? as usize,
        active.len()
    );
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM held_changes WHERE tenant_id = $1 AND state = 'rejected'",
                "acme"
            )
            .await? as usize,
        half.len()
    );

    // The next full sync holds them again; this time they are approved.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    stack
        .cli(&[
            "tenant", "approve", "--tenant", "acme", "--actor", "ops", "--yes",
        ])
        .await?;
    let deactivated = stack.count("SELECT count(*) FROM users WHERE tenant_id = $1 AND deactivation_reason = 'missing_from_full_sync'", "acme").await?;
    assert_eq!(deactivated as usize, half.len());
    let logged = stack.count("SELECT count(*) FROM change_log WHERE tenant_id = $1 AND field = 'status' AND cause_event_id LIKE 'held-change approved by ops'", "acme").await?;
    assert_eq!(logged as usize, half.len());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leavers_and_starters_follow_their_dates() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 46).await?;
    stack
        .store
        .set_tenant_setting(&"acme".into(), "invite_policy", "days_before")
        .await?;
    stack
        .store
        .set_tenant_setting(&"acme".into(), "invite_days_before", "3")
        .await?;
    stack
        .store
        .set_tenant_setting(&"acme".into(), "time_zone", "Europe/Berlin")
        .await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let leaver = hris_e2e::conformance::still_employed(&employees)[0].to_owned();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "terminate", "employee_id": leaver, "days_from_today": 0}),
        )
        .await?;
    let later = stack
        .sim
        .mutate(&integration, json!({"op": "hire", "start_in_days": 10}))
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = stack
        .sim
        .mutate(&integration, json!({"op": "hire", "start_in_days": -1}))
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let quitter = stack
        .sim
        .mutate(&integration, json!({"op": "hire", "start_in_days": 20}))
        .await?["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;

    // The leave day itself: still active, deactivated at its end (Berlin time).
    assert_eq!(stack.user_status("acme", &leaver).await?.0, "active");
    let client = stack.store.client().await?;
    let due: String = client
        .query_one("SELECT to_char(deactivate_at AT TIME ZONE 'Europe/Berlin', 'HH24:MI') FROM users WHERE tenant_id = 'acme' AND kombo_id = $1", &[&leaver])
        .await?
        .get(0);
    assert_eq!(due, "00:00", "end of the leave day in the tenant's zone");
    let invite = |id: String| {
        let client = &client;
        async move {
            let r = client
                .query_one("SELECT i.state, to_char(i.due_at AT TIME ZONE 'Europe/Berlin', 'YYYY-MM-DD HH24:MI'), to_char(u.hire_date - 3, 'YYYY-MM-DD') || ' 00:00'
                            FROM invitations i JOIN users u ON u.id = i.user_id WHERE u.tenant_id = 'acme' AND u.kombo_id = $1", &[&id])
                .await?;
            anyhow::Ok((
                r.get::<_, String>(0),
                r.get::<_, String>(1),
                r.get::<_, String>(2),
            ))
        }
    };
    let (state, due_at, expected) = invite(later.clone()).await?;
    assert_eq!(
        (state.as_str(), due_at.as_str()),
        ("scheduled", expected.as_str()),
        "3 days before the start, at midnight in Berlin"
    );

    // Time passes: the leave day ends, the started hire's invite falls due.
    client.execute("UPDATE users SET deactivate_at = now() - interval '1 second' WHERE tenant_id = 'acme' AND kombo_id = $1", &[&leaver]).await?;
    let ctx = stack.worker_context("scheduler", Duration::from_secs(10));
    let report = tick(&ctx, &scheduler_config("scheduler"))
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(report.deactivated, 1);
    assert_eq!(
        stack.user_status("acme", &leaver).await?,
        ("deactivated".into(), Some("leave_date_reached".into()))
    );
    assert_eq!(invite(started).await?.0, "due");
    // Someone who leaves before starting is never invited.
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "terminate", "employee_id": quitter, "days_from_today": -1}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(invite(quitter).await?.0, "cancelled");
    Ok(())
}
