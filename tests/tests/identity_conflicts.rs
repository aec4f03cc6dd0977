//! Identity conflicts: ambiguous HR records change nobody, are shown, settle
//! when the HR system is fixed, and obey a person's decision. Against
//! PostgreSQL, RabbitMQ and the simulator.

use std::time::Duration;

use hris_bus::FetchKind;
use hris_e2e::people::{change_email, duplicated_emails, people, user_of};
use hris_e2e::stack::Stack;
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(60);

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
