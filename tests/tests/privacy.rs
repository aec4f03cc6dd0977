//! Personal data: a leaver anonymised leaves nothing behind in the database
//! (checked on a `pg_dump`), not even after a full sync re-reads them; a
//! disconnected tenant is erased from every table. Against PostgreSQL,
//! RabbitMQ and the simulator.

use std::time::Duration;

use hris_bus::FetchKind;
use hris_e2e::people::{change_email, people};
use hris_e2e::privacy::{found_in, pg_dump};
use hris_e2e::stack::Stack;
use serde_json::json;

const SETTLE: Duration = Duration::from_secs(60);
const FIRST: &str = "Zephyrine";
const LAST: &str = "Quillfeather";
const EMAIL: &str = "zephyrine.quillfeather@acme.example";
const TITLE: &str = "Chief Cartography Officer";
/// The title the HR system gives the leaver after they were anonymised.
const LATER_TITLE: &str = "Emeritus Cartographer";

/// A dead letter of `tenant` whose payload and headers name someone.
async fn dead_letter(stack: &Stack, key: &str, payload: &str, detail: &str) -> anyhow::Result<()> {
    let client = stack.store.client().await?;
    client
        .execute(
            "INSERT INTO dead_letters (dedupe_key, routing_key, tenant_id, reason, error_class, headers, payload)
             VALUES ($1, 'employees', 'acme', 'test', 'permanent', jsonb_build_object('x-hris-detail', $3::text),
                     convert_to($2, 'UTF8'))",
            &[&key, &payload, &detail],
        )
        .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_anonymised_leaver_is_nowhere_in_a_dump_even_after_a_full_sync() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 30, 71).await?;
    let people = people(&stack, &integration).await?;
    let client = stack.store.client().await?;
    // Someone whose own names nobody else's row repeats (names like Wagner
    // are common), so that the dump can be searched for them.
    let ids: Vec<String> = people.iter().map(|p| p.0.clone()).collect();
    let r = client
        .query_one(
            "SELECT u.id, u.kombo_id, u.first_name, u.last_name FROM users u
             WHERE u.tenant_id = 'acme' AND u.kombo_id = ANY($1) AND NOT EXISTS (
                SELECT 1 FROM (SELECT concat_ws(' ', o.first_name, o.last_name, o.email, o.job_title) AS t
                               FROM users o WHERE o.tenant_id = 'acme' AND o.id <> u.id
                               UNION ALL SELECT name FROM teams UNION ALL SELECT name FROM locations) AS other
                WHERE strpos(lower(other.t), lower(u.first_name)) > 0 OR strpos(lower(other.t), lower(u.last_name)) > 0)
             ORDER BY u.id LIMIT 1",
            &[&ids],
        )
        .await?;
    let (user, leaver): (i64, String) = (r.get("id"), r.get("kombo_id"));
    let original: (String, String) = (r.get("first_name"), r.get("last_name"));
    let first_email = people
        .iter()
        .find(|p| p.0 == leaver)
        .map(|p| p.1.clone())
        .unwrap_or_default();
    let other_email = people
        .iter()
        .find(|p| p.0 != leaver)
        .map(|p| p.1.clone())
        .unwrap_or_default();
    // Names nobody else has, so that the dump can be searched for them.
    let mutate = |op: serde_json::Value| stack.sim.mutate(&integration, op);
    mutate(json!({"op": "rename", "employee_id": leaver, "first_name": FIRST, "last_name": LAST}))
        .await?;
    mutate(json!({"op": "promote", "employee_id": leaver, "job_title": TITLE})).await?;
    change_email(&stack, &integration, &leaver, EMAIL, false).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let earlier = stack
        .scalar(
            "SELECT count(*) FROM user_emails WHERE user_id = $1 AND email = $2 AND replaced_at IS NOT NULL",
            &[&user, &first_email],
        )
        .await?;
    assert_eq!(earlier, 1, "the first email is kept as an earlier one");

    // An active person is refused, exit 4, nothing changed.
    let id = user.to_string();
    let args = [
        "tenant",
        "anonymise",
        "--tenant",
        "acme",
        "--user",
        &id,
        "--actor",
        "dpo",
    ];
    let (code, _, stderr) = stack.cli_status(&[&args[..], &["--yes"]].concat()).await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("is active"), "{stderr}");
    let unknown = [
        "tenant",
        "anonymise",
        "--tenant",
        "acme",
        "--user",
        "999999",
        "--yes",
    ];
    assert_eq!(stack.cli_status(&unknown).await?.0, Some(3), "no such user");

    mutate(json!({"op": "terminate", "employee_id": leaver, "days_from_today": -10})).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    assert_eq!(stack.user_status("acme", &leaver).await?.0, "deactivated");
    dead_letter(
        &stack,
        "leaver",
        &format!(r#"{{"work_email":"{EMAIL}"}}"#),
        &format!("{FIRST} {LAST} failed"),
    )
    .await?;
    dead_letter(
        &stack,
        "other",
        &format!(r#"{{"work_email":"{other_email}"}}"#),
        "someone else",
    )
    .await?;
    client
        .execute(
            "INSERT INTO sync_runs (id, tenant_id, entity, kind, trigger, status, error)
             VALUES (gen_random_uuid(), 'acme', 'employees', 'incremental', 'schedule', 'failed', $1)",
            &[&format!("could not write {EMAIL}")],
        )
        .await?;

    // Without --yes: exact counts of what it would do, exit 4, nothing changed.
    let (code, _, stderr) = stack.cli_status(&args).await?;
    assert_eq!(code, Some(4), "{stderr}");
    let expected = format!(
        "user {user}: personal fields blanked, 2 earlier emails deleted, 5 change log entries, \
         1 dead letters and 1 run errors cleaned"
    );
    assert!(
        stderr.contains(&format!("would anonymise {expected}")),
        "{stderr}"
    );
    let still = stack
        .scalar(
            "SELECT count(*) FROM users WHERE id = $1 AND first_name = $2",
            &[&user, &FIRST],
        )
        .await?;
    assert_eq!(still, 1, "a dry run changes nothing");

    let out = stack.cli(&[&args[..], &["--yes"]].concat()).await?;
    assert_eq!(out.trim(), format!("anonymised {expected}"));

    let secrets = [
        FIRST,
        LAST,
        EMAIL,
        first_email.as_str(),
        TITLE,
        &original.0,
        &original.1,
    ];
    for round in ["after anonymising", "after a full sync"] {
        let dump = pg_dump(&stack.db).await?;
        assert_eq!(found_in(&dump, &secrets), Vec::<String>::new(), "{round}");
        assert_eq!(
            found_in(&dump, &[LATER_TITLE]),
            Vec::<String>::new(),
            "{round}"
        );
        assert_eq!(
            found_in(&dump, &[&other_email]),
            vec![other_email.clone()],
            "{round}"
        );
        let kept = client
            .query_one(
                "SELECT kombo_id, status, anonymised_at IS NOT NULL AS anonymised, hire_date IS NOT NULL AS dated
                 FROM users WHERE id = $1",
                &[&user],
            )
            .await?;
        assert_eq!(
            kept.get::<_, Option<String>>("kombo_id"),
            Some(leaver.clone()),
            "{round}"
        );
        assert_eq!(kept.get::<_, String>("status"), "deactivated", "{round}");
        assert!(kept.get::<_, bool>("anonymised"), "{round}");
        assert!(kept.get::<_, bool>("dated"), "{round}");
        // The HR system changes the leaver's record (a newer snapshot, with
        // their names), then a full sync reads everyone.
        mutate(json!({"op": "promote", "employee_id": leaver, "job_title": LATER_TITLE, "silent": true})).await?;
        stack.request_sync("acme", FetchKind::Full).await?;
        stack.settle(SETTLE).await?;
    }
    let audit = stack
        .count(
            "SELECT count(*) FROM privacy_audit WHERE tenant_id = $1 AND action = 'anonymise' AND actor = 'dpo'",
            "acme",
        )
        .await?;
    assert_eq!(audit, 1);

    // Rehired in the HR system: the person is served again, with their data.
    mutate(json!({"op": "rehire", "employee_id": leaver})).await?;
    stack.flush_webhooks().await?;
    stack.settle(SETTLE).await?;
    let back = stack
        .scalar(
            "SELECT count(*) FROM users WHERE id = $1 AND status = 'active' AND first_name = $2
             AND job_title = $3 AND anonymised_at IS NULL",
            &[&user, &FIRST, &LATER_TITLE],
        )
        .await?;
    assert_eq!(back, 1, "a rehire brings the person back");
    Ok(())
}

/// Rows of tenant `acme` in each table that has a `tenant_id` (the audit
/// aside), as "table n" for the tables that have any.
async fn tenant_rows(stack: &Stack) -> anyhow::Result<Vec<String>> {
    let client = stack.store.client().await?;
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text AS t FROM information_schema.columns
             WHERE table_schema = 'public' AND column_name = 'tenant_id' AND table_name <> 'privacy_audit'
             ORDER BY 1",
            &[],
        )
        .await?
        .iter()
        .map(|r| r.get("t"))
        .collect();
    let mut left = Vec::new();
    for table in tables {
        let sql = format!("SELECT count(*) FROM {table} WHERE tenant_id = $1");
        let n = stack.count(&sql, "acme").await?;
        if n > 0 {
            left.push(format!("{table} {n}"));
        }
    }
    Ok(left)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_disconnected_tenant_is_erased_from_every_table_and_only_then() -> anyhow::Result<()> {
    let (stack, _) = Stack::imported("acme", 20, 72).await?;
    let client = stack.store.client().await?;
    stack
        .store
        .add_tenant(&"other".into(), "Other", None)
        .await?;
    client
        .execute(
            "INSERT INTO users (tenant_id, email, first_name, status) VALUES ('other', 'keep@other.example', 'Keeper', 'active')",
            &[],
        )
        .await?;
    dead_letter(&stack, "acme-1", "{}", "acme's").await?;
    let letter: i64 = client
        .query_one(
            "SELECT id FROM dead_letters WHERE dedupe_key = 'acme-1'",
            &[],
        )
        .await?
        .get("id");
    stack.store.purge_dead_letter(letter, "oncall").await?;
    assert!(tenant_rows(&stack).await?.contains(&"users 20".to_owned()));

    let args = ["tenant", "purge", "--tenant", "acme", "--actor", "dpo"];
    let (code, _, stderr) = stack.cli_status(&[&args[..], &["--yes"]].concat()).await?;
    assert_eq!(code, Some(4), "a connected tenant is refused: {stderr}");
    assert!(stderr.contains("disconnect it first"), "{stderr}");
    stack
        .cli(&["tenant", "disconnect", "--tenant", "acme", "--yes"])
        .await?;
    let before = tenant_rows(&stack).await?;
    let (code, _, stderr) = stack.cli_status(&args).await?;
    assert_eq!(code, Some(4), "{stderr}");
    assert!(stderr.contains("would delete tenant acme:"), "{stderr}");
    assert_eq!(
        tenant_rows(&stack).await?,
        before,
        "a dry run deletes nothing"
    );

    let out = stack.cli(&[&args[..], &["--yes"]].concat()).await?;
    for part in ["users 20", "dead_letters 1", "dlq_audit 1", "tenants 1"] {
        assert!(out.contains(part), "{part}: {out}");
    }
    assert_eq!(tenant_rows(&stack).await?, Vec::<String>::new());
    for (sql, expected) in [
        ("SELECT count(*) FROM tenants WHERE id = $1", 0),
        ("SELECT count(*) FROM team_memberships WHERE $1 <> ''", 0),
        ("SELECT count(*) FROM dlq_audit WHERE $1 <> ''", 0),
        ("SELECT count(*) FROM users WHERE tenant_id <> $1", 1),
        (
            "SELECT count(*) FROM privacy_audit WHERE tenant_id = $1 AND action = 'purge_tenant'
             AND (detail->'rows'->>'users')::int = 20",
            1,
        ),
    ] {
        assert_eq!(stack.count(sql, "acme").await?, expected, "{sql}");
    }
    Ok(())
}
