//! Connecting tenants, scheduled full syncs, deletion detection, the mass-change
//! guard, effective dates and "Import all" (with its dry run).

use std::collections::BTreeSet;
use std::time::Duration;

use hris_bus::{Entity, SyncKind};
use hris_e2e::stack::{Stack, eventually};
use hris_worker::scheduler::{SchedulerConfig, tick};
use serde_json::{Value, json};

fn scheduler(owner: &str) -> SchedulerConfig {
    SchedulerConfig {
        owner: owner.to_owned(),
        tick: Duration::from_secs(1),
        batch: 7,
    }
}

async fn status_of(
    stack: &Stack,
    tenant: &str,
    kombo_id: &str,
) -> anyhow::Result<(String, Option<String>)> {
    let client = stack.store.client().await?;
    let r = client
        .query_one(
            "SELECT status, deactivation_reason FROM users WHERE tenant_id = $1 AND kombo_id = $2",
            &[&tenant, &kombo_id],
        )
        .await?;
    Ok((r.get(0), r.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tenant_connects_through_kombo_and_is_imported_without_another_step() -> anyhow::Result<()>
{
    let mut stack = Stack::start().await?;
    stack.store.add_tenant("acme", "Acme", None).await?;
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
    stack
        .cli(&["tenant", "disconnect", "--tenant", "acme"])
        .await?;
    assert_eq!(
        stack.store.tenant("acme").await?.integration_state,
        "disconnected"
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
async fn the_scheduled_full_sync_catches_deletions_whose_webhook_was_lost() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 60, 42).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let active: Vec<&str> = employees
        .iter()
        .filter(|e| {
            e.employment_status.as_deref() == Some("ACTIVE") && e.termination_date.is_none()
        })
        .map(|e| e.id.as_str())
        .collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": [active[0]], "silent": true}),
        )
        .await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "delete", "employee_id": active[1], "silent": true}),
        )
        .await?;
    stack.store.schedule_full_sync_now("acme").await?;
    let ctx = stack.worker_context("scheduler-a", Duration::from_secs(10));
    ctx.publisher
        .connector()
        .spawn(tokio_util::sync::CancellationToken::new());
    ctx.publisher
        .connector()
        .wait_connected(Duration::from_secs(10))
        .await;
    let report = tick(&ctx, &scheduler("scheduler-a"))
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(report.full_syncs, 1);
    stack.settle(Duration::from_secs(30)).await?;
    assert_eq!(
        status_of(&stack, "acme", active[0]).await?,
        ("deactivated".into(), Some("missing_from_full_sync".into()))
    );
    assert_eq!(
        status_of(&stack, "acme", active[1]).await?,
        ("deactivated".into(), Some("deleted_upstream".into()))
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        60,
        "deactivated, never deleted"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_sync_interrupted_halfway_deactivates_nobody() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 1500, 43).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", SyncKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    for worker in std::mem::take(&mut stack.workers) {
        worker.shutdown.cancel();
        let _ = worker.task.await;
    }
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let gone: Vec<&str> = employees
        .iter()
        .rev()
        .take(3)
        .map(|e| e.id.as_str())
        .collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": gone, "silent": true}),
        )
        .await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 250}))
        .await?;
    let active_before = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
            "acme",
        )
        .await?;
    let mut victim = stack.worker_process(&[("FETCH_LEASE_SECS", "3")])?;
    stack.request_sync("acme", SyncKind::Full).await?;
    eventually("halfway through the listing", Duration::from_secs(30), || async {
        Ok(stack.count("SELECT COALESCE(max(pages), 0)::bigint FROM sync_runs WHERE tenant_id = $1 AND entity = 'employees' AND status = 'running'", "acme").await? >= 2)
    })
    .await?;
    victim.kill().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let active_after = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'",
            "acme",
        )
        .await?;
    assert_eq!(
        active_after, active_before,
        "a partial listing deactivates nobody"
    );
    // A listing that completes does.
    stack.sim.set_faults(&integration, json!({})).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(3))
        .await?;
    eventually("the vanished are deactivated after a complete listing", Duration::from_secs(60), || async {
        Ok(stack.count("SELECT count(*) FROM users WHERE tenant_id = $1 AND deactivation_reason = 'missing_from_full_sync'", "acme").await? == 3)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_schedulers_never_enqueue_one_tenant_twice() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    for i in 0..40 {
        stack
            .store
            .add_tenant(&format!("t{i:02}"), "T", Some(&format!("personio:t{i:02}")))
            .await?;
        stack
            .store
            .schedule_full_sync_now(&format!("t{i:02}"))
            .await?;
    }
    let a = stack.worker_context("scheduler-a", Duration::from_secs(10));
    let b = stack.worker_context("scheduler-b", Duration::from_secs(10));
    for ctx in [&a, &b] {
        ctx.publisher
            .connector()
            .spawn(tokio_util::sync::CancellationToken::new());
        ctx.publisher
            .connector()
            .wait_connected(Duration::from_secs(10))
            .await;
    }
    let (sa, sb) = (scheduler("scheduler-a"), scheduler("scheduler-b"));
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(tick(&a, &sa), tick(&b, &sb));
        let _ = (
            ra.map_err(anyhow::Error::msg)?,
            rb.map_err(anyhow::Error::msg)?,
        );
    }
    let messages = stack.inspector.drain_entity(Entity::Employees).await?;
    let tenants: BTreeSet<String> = messages
        .iter()
        .filter_map(|m| m.envelope.tenant_id.clone())
        .collect();
    assert_eq!(
        messages.len(),
        40,
        "one full sync per tenant, whichever scheduler claimed it"
    );
    assert_eq!(tenants.len(), 40);
    let spread = stack
        .count(
            "SELECT count(DISTINCT enqueued_by) FROM full_sync_schedule WHERE $1 <> ''",
            "x",
        )
        .await?;
    println!("claims shared by {spread} schedulers");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_guard_holds_a_mass_deactivation_until_approved() -> anyhow::Result<()> {
    let (mut stack, integration) = Stack::imported("acme", 40, 44).await?;
    let other = stack.tenant("other", 30, 45).await?;
    stack.request_sync("other", SyncKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    let _ = &mut stack;
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
    let victim = other_employees
        .iter()
        .find(|e| e.termination_date.is_none() && e.employment_status.as_deref() == Some("ACTIVE"))
        .map(|e| e.id.clone())
        .unwrap_or_default();
    stack
        .sim
        .mutate(&other, json!({"op": "delete", "employee_id": victim}))
        .await?;
    stack.flush_webhooks().await?;
    stack.request_sync("acme", SyncKind::Full).await?;
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
        status_of(&stack, "other", &victim).await?.0,
        "deactivated",
        "other tenants are not affected"
    );

    stack
        .cli(&["tenant", "reject", "--tenant", "acme", "--actor", "ops"])
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
    stack.request_sync("acme", SyncKind::Full).await?;
    stack.settle(Duration::from_secs(30)).await?;
    stack
        .cli(&["tenant", "approve", "--tenant", "acme", "--actor", "ops"])
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
        .set_tenant_setting("acme", "invite_policy", "days_before")
        .await?;
    stack
        .store
        .set_tenant_setting("acme", "invite_days_before", "3")
        .await?;
    stack
        .store
        .set_tenant_setting("acme", "time_zone", "Europe/Berlin")
        .await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let leaver = employees
        .iter()
        .find(|e| e.termination_date.is_none() && e.employment_status.as_deref() == Some("ACTIVE"))
        .map(|e| e.id.clone())
        .unwrap_or_default();
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
    assert_eq!(status_of(&stack, "acme", &leaver).await?.0, "active");
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
    let report = tick(&ctx, &scheduler("scheduler"))
        .await
        .map_err(anyhow::Error::msg)?;
    assert_eq!(report.deactivated, 1);
    assert_eq!(
        status_of(&stack, "acme", &leaver).await?,
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
