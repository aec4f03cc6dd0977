//! Deactivate only when sure (the grace period, an empty listing) and who is
//! in scope. Against PostgreSQL, RabbitMQ and the simulator.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::conformance::{employees, still_employed};
use hris_e2e::stack::{Stack, scheduler_config};
use hris_worker::scheduler::tick;
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(60);

/// (status, deactivation reason, pending reason) of a record's user.
async fn state(
    stack: &Stack,
    kombo_id: &str,
) -> anyhow::Result<(String, Option<String>, Option<String>)> {
    let client = stack.store.client().await?;
    let r = client
        .query_one(
            "SELECT status, deactivation_reason, pending_deactivation_reason FROM users
             WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&kombo_id],
        )
        .await?;
    Ok((
        r.get("status"),
        r.get("deactivation_reason"),
        r.get("pending_deactivation_reason"),
    ))
}

async fn full_sync(stack: &Stack) -> anyhow::Result<()> {
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(SETTLE).await
}

/// The tenant's deactivation grace period, as an admin sets it.
async fn set_grace(stack: &Stack, seconds: &str) -> anyhow::Result<()> {
    stack
        .cli(&[
            "tenant",
            "set",
            "--tenant",
            "acme",
            "deactivation_grace_seconds",
            seconds,
        ])
        .await?;
    Ok(())
}

fn active() -> (String, Option<String>, Option<String>) {
    ("active".into(), None, None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_once_is_kept_and_missing_past_the_grace_period_is_deactivated_with_evidence()
-> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 61).await?;
    set_grace(&stack, "3").await?;
    let all = employees(&stack, &integration).await?;
    let x = still_employed(&all)[0].to_owned();
    let vanish = json!({"op": "vanish", "employee_ids": [x], "silent": true});
    let restore = json!({"op": "restore", "employee_ids": [x], "silent": true});

    stack.sim.mutate(&integration, vanish.clone()).await?;
    full_sync(&stack).await?;
    let pending = (
        "active".to_owned(),
        None,
        Some("missing_from_full_sync".to_owned()),
    );
    assert_eq!(
        state(&stack, &x).await?,
        pending,
        "missing from one listing"
    );
    stack.sim.mutate(&integration, restore).await?;
    full_sync(&stack).await?;
    assert_eq!(state(&stack, &x).await?, active(), "back in the next one");

    stack.sim.mutate(&integration, vanish).await?;
    full_sync(&stack).await?;
    assert_eq!(state(&stack, &x).await?, pending, "the grace starts again");
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    full_sync(&stack).await?;
    let gone = (
        "deactivated".to_owned(),
        Some("missing_from_full_sync".to_owned()),
        None,
    );
    assert_eq!(
        state(&stack, &x).await?,
        gone,
        "still missing after the grace"
    );
    let evidence_is_a_full_run = stack
        .scalar(
            "SELECT count(*) FROM users u JOIN sync_runs r ON r.id = (u.deactivation_evidence->>'sync_run')::uuid
             WHERE u.tenant_id = 'acme' AND u.kombo_id = $1 AND r.kind = 'full' AND r.entity = 'employees'",
            &[&x],
        )
        .await?;
    assert_eq!(
        evidence_is_a_full_run, 1,
        "the deactivation names its listing"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deletion_upstream_waits_out_the_grace_period_and_an_empty_listing_deactivates_nobody()
-> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 62).await?;
    set_grace(&stack, "3").await?;
    let all = employees(&stack, &integration).await?;
    let ids: Vec<String> = still_employed(&all)
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let y = ids[0].clone();
    stack
        .sim
        .mutate(&integration, json!({"op": "delete", "employee_id": y}))
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let waiting = (
        "active".to_owned(),
        None,
        Some("deleted_upstream".to_owned()),
    );
    assert_eq!(state(&stack, &y).await?, waiting);
    let ctx = stack.worker_context("scheduler", Duration::from_secs(10));
    tick(&ctx, &scheduler_config("scheduler")).await?;
    assert_eq!(
        state(&stack, &y).await?,
        waiting,
        "not before the grace ends"
    );
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let report = tick(&ctx, &scheduler_config("scheduler")).await?;
    assert_eq!(report.deactivated, 1);
    let gone = (
        "deactivated".to_owned(),
        Some("deleted_upstream".to_owned()),
        None,
    );
    assert_eq!(state(&stack, &y).await?, gone);

    // Everyone missing at once, with no grace: an empty listing is no news.
    set_grace(&stack, "0").await?;
    let everyone: Vec<String> = all.iter().map(|e| e.id.clone()).collect();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "vanish", "employee_ids": everyone, "silent": true}),
        )
        .await?;
    full_sync(&stack).await?;
    let touched = stack
        .count(
            "SELECT count(*) FROM users WHERE tenant_id = $1 AND status = 'active'
             AND pending_deactivation_at IS NOT NULL",
            "acme",
        )
        .await?;
    assert_eq!(touched, 0, "nobody marked missing");
    assert_eq!(state(&stack, &ids[1]).await?, active());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn people_outside_the_scope_are_never_created_and_leaving_it_goes_through_the_guard()
-> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 60, 63).await?;
    let all = employees(&stack, &integration).await?;
    let entity_of =
        |e: &hris_kombo::records::Employee| e.legal_entity_id.clone().unwrap_or_default();
    let inside = entity_of(&all[0]);
    let outside = all
        .iter()
        .map(entity_of)
        .find(|le| *le != inside)
        .expect("two legal entities");
    stack
        .cli(&[
            "tenant",
            "set",
            "--tenant",
            "acme",
            "scope_filter",
            &json!({"legal_entities": [inside]}).to_string(),
        ])
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    full_sync(&stack).await?;
    let in_scope: Vec<&str> = all
        .iter()
        .filter(|e| entity_of(e) == inside)
        .map(|e| e.id.as_str())
        .collect();
    let users = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    assert_eq!(users as usize, in_scope.len(), "only the chosen company");
    let outsiders: Vec<String> = all
        .iter()
        .filter(|e| entity_of(e) != inside)
        .map(|e| e.id.clone())
        .collect();
    let created_outside = stack
        .scalar(
            "SELECT count(*) FROM users WHERE tenant_id = 'acme' AND kombo_id = ANY($1)",
            &[&outsiders],
        )
        .await?;
    assert_eq!(created_outside, 0);

    let movable: Vec<&str> = still_employed(&all)
        .into_iter()
        .filter(|id| in_scope.contains(id))
        .collect();
    let mover = movable[0];
    let move_out = |id: &str| json!({"op": "change_legal_entity", "employee_id": id, "legal_entity_id": outside});
    stack.sim.mutate(&integration, move_out(mover)).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(
        state(&stack, mover).await?,
        ("deactivated".into(), Some("out_of_scope".into()), None)
    );

    // Many moving out at once are held for approval, as any mass change.
    let many = &movable[1..movable.len() / 2 + 1];
    for id in many {
        stack.sim.mutate(&integration, move_out(id)).await?;
    }
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let held = stack
        .count(
            "SELECT count(*) FROM held_changes WHERE tenant_id = $1 AND state = 'pending' AND reason = 'out_of_scope'",
            "acme",
        )
        .await?;
    assert_eq!(held as usize, many.len(), "held, not applied");
    for id in many {
        assert_eq!(
            state(&stack, id).await?,
            active(),
            "{id} kept until approved"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_returning_leaver_gets_their_user_back_and_one_new_invitation() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 20, 64).await?;
    let all = employees(&stack, &integration).await?;
    let x = still_employed(&all)[0].to_owned();
    let client = stack.store.client().await?;
    let user: i64 = client
        .query_one(
            "SELECT id FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&x],
        )
        .await?
        .get("id");
    // The platform invited them long ago; then they left.
    client
        .execute(
            "INSERT INTO invitations (user_id, tenant_id, due_at, state) VALUES ($1, 'acme', now() - interval '1 year', 'sent')
             ON CONFLICT (user_id) DO UPDATE SET state = 'sent'",
            &[&user],
        )
        .await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "terminate", "employee_id": x, "days_from_today": -10}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(state(&stack, &x).await?.0, "deactivated");

    // Rehired under a new record, with the same email.
    let back = stack
        .sim
        .mutate(
            &integration,
            json!({"op": "recreate", "employee_id": x, "terminate_old": true}),
        )
        .await?;
    let back = back["id"].as_str().unwrap_or_default().to_owned();
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(state(&stack, &back).await?, active(), "reactivated");
    let same = stack
        .scalar(
            "SELECT count(*) FROM users WHERE id = $1 AND kombo_id = $2",
            &[&user, &back],
        )
        .await?;
    assert_eq!(same, 1, "the same users.id, with its history");
    let invitations: Vec<String> = client
        .query("SELECT state FROM invitations WHERE user_id = $1", &[&user])
        .await?
        .iter()
        .map(|r| r.get("state"))
        .collect();
    assert_eq!(invitations, ["scheduled"], "invited again, once");
    Ok(())
}
