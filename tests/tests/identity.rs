//! One person, one user: platform users adopted, re-created and re-contracted
//! people kept on their user, ambiguous records held as conflicts, earlier
//! emails kept. Against PostgreSQL, RabbitMQ and the simulator.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::conformance::{employees, still_employed};
use hris_e2e::stack::Stack;
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(60);

/// Active employees with a work email: (Kombo id, email).
async fn people(stack: &Stack, integration: &str) -> anyhow::Result<Vec<(String, String)>> {
    let all = employees(stack, integration).await?;
    let active = still_employed(&all);
    Ok(all
        .iter()
        .filter(|e| active.contains(&e.id.as_str()))
        .filter_map(|e| Some((e.id.clone(), e.work_email.clone()?.to_lowercase())))
        .collect())
}

async fn user_of(stack: &Stack, kombo_id: &str) -> anyhow::Result<Option<i64>> {
    let client = stack.store.client().await?;
    Ok(client
        .query_opt(
            "SELECT id FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
            &[&kombo_id],
        )
        .await?
        .map(|r| r.get("id")))
}

/// The HR system changes a record's work email (`silent`: no webhook).
async fn change_email(
    stack: &Stack,
    integration: &str,
    id: &str,
    email: &str,
    silent: bool,
) -> anyhow::Result<()> {
    let op = json!({"op": "change_email", "employee_id": id, "email": email, "silent": silent});
    stack.sim.mutate(integration, op).await?;
    Ok(())
}

/// Active users of the tenant that share a normalised email with another.
async fn duplicated_emails(stack: &Stack) -> anyhow::Result<i64> {
    stack
        .count(
            "SELECT count(*) FROM (SELECT lower(btrim(email)) FROM users
             WHERE tenant_id = $1 AND status = 'active' AND email IS NOT NULL
             GROUP BY 1 HAVING count(*) > 1) AS d",
            "acme",
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn platform_users_are_adopted_with_their_ids_and_nobody_is_duplicated() -> anyhow::Result<()>
{
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 80, 51).await?;
    let people = people(&stack, &integration).await?;
    assert!(people.len() >= 50, "{} people", people.len());
    let client = stack.store.client().await?;
    // Fifty users the platform has before the HR system is connected, typed
    // as people type them; every other one has signed in already.
    let mut platform = Vec::new();
    for (i, (kombo_id, email)) in people.iter().take(50).enumerate() {
        let typed = match i % 3 {
            0 => email.clone(),
            1 => email.to_uppercase(),
            _ => format!("  {email} "),
        };
        let row = client
            .query_one(
                "INSERT INTO users (tenant_id, email, first_name, status, last_sign_in_at)
                 VALUES ('acme', $1, 'typed by hand', 'active', CASE WHEN $2 THEN now() END) RETURNING id",
                &[&typed, &(i % 2 == 0)],
            )
            .await?;
        platform.push((row.get::<_, i64>("id"), kombo_id.clone(), i % 2 == 0));
    }
    let mut strangers = Vec::new();
    for i in 0..5 {
        let row = client
            .query_one(
                "INSERT INTO users (tenant_id, email, first_name, status)
                 VALUES ('acme', $1, 'contractor', 'active') RETURNING id",
                &[&format!("stranger{i}@elsewhere.example")],
            )
            .await?;
        strangers.push(row.get::<_, i64>("id"));
    }
    let snapshot = "SELECT string_agg(concat_ws('|', id, kombo_id, email, first_name, status, updated_at), ',' ORDER BY id)
                    FROM users WHERE id = ANY($1)";
    let strangers_before: String = client.query_one(snapshot, &[&strangers]).await?.get(0);

    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(SETTLE).await?;

    for (id, kombo_id, _) in &platform {
        assert_eq!(
            user_of(&stack, kombo_id).await?,
            Some(*id),
            "record {kombo_id} took platform user {id} over"
        );
    }
    let total = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    assert_eq!(total, 80 + 5, "every HR record one user, strangers kept");
    assert_eq!(duplicated_emails(&stack).await?, 0);
    let signed_in: Vec<i64> = platform.iter().filter(|p| p.2).map(|p| p.0).collect();
    let invited_again = stack
        .scalar(
            "SELECT count(*) FROM invitations WHERE user_id = ANY($1)",
            &[&signed_in],
        )
        .await?;
    assert_eq!(invited_again, 0, "someone who signed in is never invited");

    // Another full sync leaves the platform's own users exactly as they were.
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(SETTLE).await?;
    let strangers_after: String = client.query_one(snapshot, &[&strangers]).await?.get(0);
    assert_eq!(strangers_after, strangers_before);
    let total = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
        .await?;
    assert_eq!(total, 85);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_re_created_or_made_permanent_keeps_their_user() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 52).await?;
    let people = people(&stack, &integration).await?;
    let (deleted, contractor) = (&people[0].0, &people[1].0);
    let (user_deleted, user_contractor) = (
        user_of(&stack, deleted).await?.expect("imported"),
        user_of(&stack, contractor).await?.expect("imported"),
    );
    let recreated = stack
        .sim
        .mutate(
            &integration,
            json!({"op": "recreate", "employee_id": deleted}),
        )
        .await?;
    let permanent = stack
        .sim
        .mutate(
            &integration,
            json!({"op": "recreate", "employee_id": contractor, "terminate_old": true}),
        )
        .await?;
    let (recreated, permanent) = (
        recreated["id"].as_str().unwrap_or_default().to_owned(),
        permanent["id"].as_str().unwrap_or_default().to_owned(),
    );
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;

    for round in ["by webhook", "after a full listing"] {
        assert_eq!(
            user_of(&stack, &recreated).await?,
            Some(user_deleted),
            "{round}"
        );
        assert_eq!(
            user_of(&stack, &permanent).await?,
            Some(user_contractor),
            "{round}"
        );
        for user in [user_deleted, user_contractor] {
            let client = stack.store.client().await?;
            let status: String = client
                .query_one("SELECT status FROM users WHERE id = $1", &[&user])
                .await?
                .get(0);
            assert_eq!(status, "active", "user {user} {round}");
        }
        // The old records made no user of their own, not even a deactivated one.
        assert_eq!(user_of(&stack, deleted).await?, None, "{round}");
        assert_eq!(user_of(&stack, contractor).await?, None, "{round}");
        let total = stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?;
        assert_eq!(total, 30, "{round}");
        // The full listing lists the old records again (deleted, terminated).
        stack.request_sync("acme", FetchKind::Full).await?;
        stack.settle(SETTLE).await?;
    }
    let former = stack
        .scalar(
            "SELECT count(*) FROM user_links WHERE user_id = $1 AND kombo_id = $2 AND unlinked_at IS NOT NULL",
            &[&user_deleted, deleted],
        )
        .await?;
    assert_eq!(former, 1, "the old record is kept as a former link");
    let explained: Value = serde_json::from_str(
        &stack
            .cli(&["explain", "--tenant", "acme", "--user", deleted, "--json"])
            .await?,
    )?;
    assert_eq!(explained["user"]["id"], json!(user_deleted));
    assert!(
        explained["history"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|h| h["field"] == "linked_record"),
        "the relink is in the history"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_live_records_with_one_email_are_a_conflict_until_fixed_upstream() -> anyhow::Result<()>
{
    let (stack, integration) = Stack::imported("acme", 30, 53).await?;
    let people = people(&stack, &integration).await?;
    let ((ada, ada_email), (bob, bob_email), (cy, _)) = (&people[0], &people[1], &people[2]);
    let (user_ada, user_bob) = (
        user_of(&stack, ada).await?.expect("imported"),
        user_of(&stack, bob).await?.expect("imported"),
    );
    change_email(&stack, &integration, bob, ada_email, false).await?;
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "promote", "employee_id": cy, "job_title": "Chief Tester"}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;

    let listed: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "identity", "--tenant", "acme", "--json"])
            .await?,
    )?;
    let conflicts = listed["conflicts"].as_array().cloned().unwrap_or_default();
    assert_eq!(conflicts.len(), 1, "{listed}");
    assert_eq!(conflicts[0]["kombo_id"], json!(bob));
    assert_eq!(conflicts[0]["kind"], "email_held");
    assert_eq!(conflicts[0]["user_ids"], json!([user_ada]));
    let client = stack.store.client().await?;
    let email_of = |id: i64| {
        let client = &client;
        async move {
            let email: Option<String> = client
                .query_one("SELECT email FROM users WHERE id = $1", &[&id])
                .await?
                .get(0);
            anyhow::Ok(email.unwrap_or_default())
        }
    };
    assert_eq!(&email_of(user_bob).await?, bob_email, "Bob as he was");
    assert_eq!(&email_of(user_ada).await?, ada_email, "Ada as she was");
    assert_eq!(duplicated_emails(&stack).await?, 0);
    let title: Option<String> = client
        .query_one("SELECT job_title FROM users WHERE kombo_id = $1", &[cy])
        .await?
        .get(0);
    assert_eq!(title.as_deref(), Some("Chief Tester"), "the rest applied");
    let dead = stack
        .count(
            "SELECT count(*) FROM dead_letters WHERE tenant_id = $1",
            "acme",
        )
        .await?;
    assert_eq!(dead, 0, "a conflict is never a dead letter");
    let status: Value = serde_json::from_str(
        &stack
            .cli(&["tenant", "status", "--tenant", "acme", "--json"])
            .await?,
    )?;
    assert_eq!(status["identity_conflicts"], 1);

    // The HR system fixes Bob's address: the next sync resolves it.
    let fixed = "bob.fixed@acme.example";
    change_email(&stack, &integration, bob, fixed, false).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(email_of(user_bob).await?, fixed);
    let open = stack
        .count(
            "SELECT count(*) FROM identity_conflicts WHERE tenant_id = $1 AND state = 'open'",
            "acme",
        )
        .await?;
    assert_eq!(open, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_email_change_keeps_the_earlier_address_which_still_finds_the_user() -> anyhow::Result<()>
{
    let (stack, integration) = Stack::imported("acme", 20, 54).await?;
    let people = people(&stack, &integration).await?;
    let (ada, old_email) = &people[0];
    let user = user_of(&stack, ada).await?.expect("imported");
    let new_email = "ada.renamed@acme.example";
    change_email(&stack, &integration, ada, new_email, false).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let current = stack
        .scalar(
            "SELECT count(*) FROM users WHERE id = $1 AND email = $2",
            &[&user, &new_email],
        )
        .await?;
    assert_eq!(current, 1);
    let kept = stack
        .scalar(
            "SELECT count(*) FROM user_emails WHERE user_id = $1 AND email = $2 AND replaced_at IS NOT NULL",
            &[&user, old_email],
        )
        .await?;
    assert_eq!(
        kept, 1,
        "the earlier address is kept, with when it was replaced"
    );
    let explained: Value = serde_json::from_str(
        &stack
            .cli(&["explain", "--tenant", "acme", "--user", old_email, "--json"])
            .await?,
    )?;
    assert_eq!(explained["user"]["id"], json!(user));
    assert_eq!(explained["user"]["email"], json!(new_email));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_person_decides_a_conflict_and_every_later_sync_obeys() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 20, 55).await?;
    // Two new hires share the HR team's mailbox.
    let mut hires = Vec::new();
    for _ in 0..2 {
        let hired = stack
            .sim
            .mutate(&integration, json!({"op": "hire", "start_in_days": -1}))
            .await?;
        let id = hired["id"].as_str().unwrap_or_default().to_owned();
        change_email(&stack, &integration, &id, "HR@acme.example", false).await?;
        hires.push(id);
    }
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(user_of(&stack, &hires[0]).await?, None);
    assert_eq!(user_of(&stack, &hires[1]).await?, None);
    let client = stack.store.client().await?;
    let conflict_of = |kombo: String| {
        let client = &client;
        async move {
            let id: i64 = client
                .query_one(
                    "SELECT id FROM identity_conflicts WHERE kombo_id = $1 AND state = 'open' AND kind = 'shared_email'",
                    &[&kombo],
                )
                .await?
                .get(0);
            anyhow::Ok(id.to_string())
        }
    };
    let (first, second) = (
        conflict_of(hires[0].clone()).await?,
        conflict_of(hires[1].clone()).await?,
    );
    // Linking a user whose record is live is refused, and changes nothing.
    let someone = user_of(&stack, &people(&stack, &integration).await?[0].0)
        .await?
        .expect("imported")
        .to_string();
    let resolve = |conflict: &str, how: &[&str]| {
        let mut args = vec!["tenant", "identity", "resolve", "--tenant", "acme"];
        args.extend(["--conflict", conflict]);
        args.extend(how);
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let refused = resolve(&first, &["--link", &someone]);
    let refused: Vec<&str> = refused.iter().map(String::as_str).collect();
    let (code, _, stderr) = stack.cli_status(&refused).await?;
    assert_eq!(code, Some(4), "{stderr}");
    for args in [
        resolve(&first, &["--create", "--actor", "ops-alice"]),
        resolve(&second, &["--ignore"]),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        stack.cli(&args).await?;
    }
    for _ in 0..2 {
        stack.request_sync("acme", FetchKind::Full).await?;
        stack.settle(SETTLE).await?;
        assert!(
            user_of(&stack, &hires[0]).await?.is_some(),
            "created as decided"
        );
        assert_eq!(
            user_of(&stack, &hires[1]).await?,
            None,
            "ignored as decided"
        );
        let open = stack
            .count(
                "SELECT count(*) FROM identity_conflicts WHERE tenant_id = $1 AND state = 'open'",
                "acme",
            )
            .await?;
        assert_eq!(open, 0, "a decided conflict does not come back");
    }
    let audited = stack
        .scalar(
            "SELECT count(*) FROM identity_conflicts WHERE id = $1 AND resolved_by = 'ops-alice'",
            &[&first.parse::<i64>()?],
        )
        .await?;
    assert_eq!(audited, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fixing_one_side_of_a_shared_mailbox_settles_both_without_a_full_sync() -> anyhow::Result<()>
{
    let (stack, integration) = Stack::imported("acme", 20, 56).await?;
    let mut hires = Vec::new();
    for _ in 0..2 {
        let hired = stack
            .sim
            .mutate(
                &integration,
                json!({"op": "hire", "start_in_days": -1, "silent": true}),
            )
            .await?;
        let id = hired["id"].as_str().unwrap_or_default().to_owned();
        change_email(&stack, &integration, &id, "team@acme.example", true).await?;
        hires.push(id);
    }
    // Announced later, so that the next watermark (this fetch's start minus
    // its overlap) is past the hires: a later incremental fetch will not
    // list them again by itself.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let anyone = people(&stack, &integration).await?[0].0.clone();
    stack
        .sim
        .mutate(
            &integration,
            json!({"op": "promote", "employee_id": anyone, "job_title": "Announcer"}),
        )
        .await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let open = "SELECT count(*) FROM identity_conflicts WHERE tenant_id = $1 AND state = 'open'";
    assert_eq!(stack.count(open, "acme").await?, 2, "both sides wait");
    // The HR system gives the second hire an address of their own; only that
    // record changes, and only it is in the webhook's fetch.
    change_email(
        &stack,
        &integration,
        &hires[1],
        "second.hire@acme.example",
        false,
    )
    .await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(stack.count(open, "acme").await?, 0);
    for (hire, email) in hires
        .iter()
        .zip(["team@acme.example", "second.hire@acme.example"])
    {
        let found = stack
            .scalar(
                "SELECT count(*) FROM users WHERE kombo_id = $1 AND email = $2 AND status = 'active'",
                &[hire, &email],
            )
            .await?;
        assert_eq!(found, 1, "{hire} has its user with {email}");
    }
    Ok(())
}
