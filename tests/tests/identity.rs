//! One person, one user: platform users adopted, re-created and re-contracted
//! people kept on their user, ambiguous records held as conflicts, earlier
//! emails kept. Against PostgreSQL, RabbitMQ and the simulator.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::people::{change_email, duplicated_emails, people, user_of};
use hris_e2e::stack::Stack;
use serde_json::{Value, json};

const SETTLE: Duration = Duration::from_secs(60);

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
