//! The entity workers end to end: real PostgreSQL and RabbitMQ, the simulator
//! sending signed webhooks over HTTP to a real receiver.

use std::time::Duration;

use hris_bus::Entity;
use hris_e2e::conformance::{full_mismatches, mismatches};
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

const ALL: [Entity; 5] = Entity::ALL;

async fn assert_matches(stack: &Stack, integration: &str) -> anyhow::Result<()> {
    let diffs = mismatches(stack, "acme", integration, 5).await?;
    assert!(
        diffs.is_empty(),
        "database differs from the mapping:\n{}",
        diffs.join("\n")
    );
    Ok(())
}

/// Applies a mutation through the simulator (which sends the webhook) and waits
/// until the workers have applied it.
async fn change(
    stack: &Stack,
    integration: &str,
    mutation: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let outcome = stack.sim.mutate(integration, mutation).await?;
    stack.flush_webhooks().await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    stack.settle(Duration::from_secs(60)).await?;
    Ok(outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_company_is_imported_exactly() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 300, 7).await?;
    // Every entity, field by field, both ways: users (with references and
    // memberships), teams, locations and absences as Kombo lists them, and
    // nothing stored that Kombo does not list.
    let diffs = full_mismatches(&stack, "acme", &integration, 10).await?;
    assert!(
        diffs.is_empty(),
        "database differs from the mapping:\n{}",
        diffs.join("\n")
    );
    let count = |table: &'static str| {
        let stack = &stack;
        async move {
            stack
                .count(
                    &format!("SELECT count(*) FROM {table} WHERE tenant_id = $1"),
                    "acme",
                )
                .await
        }
    };
    let (users, teams, locations, absences) = (
        count("users").await?,
        count("teams").await?,
        count("locations").await?,
        count("absences").await?,
    );
    println!(
        "imported exactly: {users} users, {teams} teams, {locations} locations, {absences} absences"
    );
    // The oracle compares what Kombo lists; an empty listing would compare
    // nothing, so the company must really have each kind of record.
    assert_eq!(users, 300);
    assert!(teams > 0 && locations > 0 && absences > 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_10k_company_is_imported_and_every_change_follows() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 10_000, 7).await?;
    assert_eq!(
        stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?,
        10_000
    );
    assert_matches(&stack, &integration).await?;

    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let active: Vec<&str> = hris_e2e::conformance::still_employed(&employees)
        .into_iter()
        .collect();
    let (a, b, c, d, e) = (active[0], active[1], active[2], active[3], active[4]);
    let team = employees
        .iter()
        .flat_map(|e| &e.groups)
        .find(|g| g.group_type.as_deref() == Some("TEAM"))
        .map(|g| g.id.clone())
        .unwrap_or_default();
    let location = employees
        .iter()
        .find_map(|e| e.work_location.as_ref())
        .map(|l| l.id.clone())
        .unwrap_or_default();

    let hired = change(
        &stack,
        &integration,
        json!({"op": "hire", "job_title": "Welder", "start_in_days": -1}),
    )
    .await?;
    let new_id = hired["id"].as_str().unwrap_or_default().to_owned();
    for m in [
        json!({"op": "promote", "employee_id": a, "job_title": "Principal"}),
        json!({"op": "change_email", "employee_id": a, "email": "New.Address@Example.com"}),
        json!({"op": "move_team", "employee_id": b, "team_id": team}),
        // The manager is created after the employee who reports to it.
        json!({"op": "change_manager", "employee_id": c, "manager_id": new_id}),
        json!({"op": "terminate", "employee_id": d, "days_from_today": 30}),
        json!({"op": "terminate", "employee_id": e, "days_from_today": -2}),
        json!({"op": "rename_group", "group_id": team, "name": "Renamed Team"}),
        json!({"op": "change_location", "employee_id": a, "location_id": location}),
        json!({"op": "add_absence", "employee_id": b, "start_in_days": 3, "days": 2}),
    ] {
        change(&stack, &integration, m).await?;
    }
    assert_matches(&stack, &integration).await?;
    let client = stack.store.client().await?;
    let row = client
        .query_one(
            "SELECT job_title, email, status FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&a],
        )
        .await?;
    assert_eq!(
        row.get::<_, Option<String>>(0).as_deref(),
        Some("Principal")
    );
    assert_eq!(
        row.get::<_, Option<String>>(1).as_deref(),
        Some("new.address@example.com")
    );
    let status = |id: &str| {
        let client = &client;
        let id = id.to_owned();
        async move {
            let r = client
                .query_one(
                    "SELECT status FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
                    &[&id],
                )
                .await?;
            anyhow::Ok(r.get::<_, String>(0))
        }
    };
    assert_eq!(
        status(d).await?,
        "active",
        "a future leaver stays active until the date"
    );
    assert_eq!(
        status(e).await?,
        "deactivated",
        "a past leaver is deactivated"
    );
    let renamed: String = client
        .query_one(
            "SELECT name FROM teams WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&team],
        )
        .await?
        .get(0);
    assert_eq!(renamed, "Renamed Team");

    // Rehire, delete, cancel the absence.
    change(
        &stack,
        &integration,
        json!({"op": "rehire", "employee_id": e}),
    )
    .await?;
    assert_eq!(status(e).await?, "active", "a rehire is reactivated");
    change(
        &stack,
        &integration,
        json!({"op": "delete", "employee_id": b}),
    )
    .await?;
    assert_eq!(
        status(b).await?,
        "deactivated",
        "deleted upstream: deactivated, never removed"
    );
    let absence: String = client
        .query_one("SELECT kombo_id FROM absences WHERE tenant_id = 'acme' AND employee_kombo_id = $1 AND counts ORDER BY created_at DESC LIMIT 1", &[&b])
        .await?
        .get(0);
    change(
        &stack,
        &integration,
        json!({"op": "cancel_absence", "absence_id": absence}),
    )
    .await?;
    let counts: bool = client
        .query_one(
            "SELECT counts FROM absences WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&absence],
        )
        .await?
        .get(0);
    assert!(!counts, "a cancelled absence stops counting");
    assert_matches(&stack, &integration).await?;

    // The change log says what changed, field by field, with its cause.
    let logged: i64 = client
        .query_one("SELECT count(*) FROM change_log WHERE tenant_id = 'acme' AND record_kombo_id = $1 AND field = 'job_title' AND new_value = '\"Principal\"' AND cause_event_id IS NOT NULL AND sync_run_id IS NOT NULL", &[&a])
        .await?
        .get(0);
    assert_eq!(logged, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unknown_integrations_are_dropped_without_a_crash_loop() -> anyhow::Result<()> {
    let mut stack = Stack::start().await?;
    stack.spawn_worker(&ALL, Duration::from_secs(10)).await?;
    let status = stack
        .receiver
        .post_signed(&hris_e2e::bus::data_changed(
            "E-unknown",
            "personio:nobody",
            &["hris_employees"],
        ))
        .await?;
    assert_eq!(status, 200);
    stack.settle(Duration::from_secs(20)).await?;
    let dead = stack
        .inspector
        .depth(&stack.inspector.topology().dead_letter_queue())
        .await?;
    assert_eq!(dead, 0);
    eventually("nothing left", Duration::from_secs(5), || async {
        stack.idle().await
    })
    .await
}
