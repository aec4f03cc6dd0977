//! A value the database refuses (a CHECK of the platform's schema, a NOT NULL
//! column the HR data leaves empty) sets aside only its record: the rest of
//! the page is written, the issue names the SQLSTATE and the constraint or
//! column, never the value, and nothing fails or is dead-lettered.

use std::time::Duration;

use hris_e2e::conformance::{employees, still_employed};
use hris_e2e::faults::{dead_letters, issues};
use hris_e2e::stack::Stack;
use serde_json::{Value, json};

/// What three people's changes (one of them refused) left behind.
struct Outcome {
    ids: Vec<String>,
    titles: Vec<Option<String>>,
    open: Vec<Value>,
}

/// Imports a company, applies `schema` (a platform rule), lets Kombo serve
/// `faults`, then promotes three people to `titles` by webhook.
async fn three_changes(
    seed: u64,
    schema: &str,
    faults: impl Fn(&[String]) -> Value,
    titles: [&str; 3],
) -> anyhow::Result<(Stack, Outcome)> {
    let (stack, acme) = Stack::imported("acme", 60, seed).await?;
    stack.store.client().await?.batch_execute(schema).await?;
    let people = employees(&stack, &acme).await?;
    let ids: Vec<String> = still_employed(&people)
        .into_iter()
        .take(3)
        .map(str::to_owned)
        .collect();
    stack.sim.set_faults(&acme, faults(&ids)).await?;
    for (id, title) in ids.iter().zip(titles) {
        stack
            .sim
            .mutate(
                &acme,
                json!({"op": "promote", "employee_id": id, "job_title": title}),
            )
            .await?;
    }
    stack.flush_webhooks().await?;
    stack.settle(Duration::from_secs(30)).await?;
    let mut out: Vec<Option<String>> = Vec::new();
    {
        let client = stack.store.client().await?;
        for id in &ids {
            out.push(
                client
                    .query_one(
                        "SELECT job_title FROM users WHERE tenant_id = 'acme' AND kombo_id = $1",
                        &[id],
                    )
                    .await?
                    .get("job_title"),
            );
        }
    }
    let open = issues(&stack, "acme", false).await?;
    let failed_runs = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status <> 'succeeded'",
            "acme",
        )
        .await?;
    println!("write failure: titles now {out:?}; issues {open:?}; failed runs {failed_runs}");
    assert_eq!(out[0].as_deref(), Some(titles[0]), "the page was written");
    assert_eq!(out[2].as_deref(), Some(titles[2]), "the page was written");
    assert_eq!(open.len(), 1, "{open:#?}");
    assert_eq!(open[0]["kombo_id"], ids[1].as_str());
    assert_eq!(open[0]["stage"], "write");
    assert_eq!(failed_runs, 0);
    assert_eq!(dead_letters(&stack).await?, 0);
    let outcome = Outcome {
        ids,
        titles: out,
        open,
    };
    Ok((stack, outcome))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_value_the_database_refuses_sets_aside_only_its_record() -> anyhow::Result<()> {
    let (_stack, out) = three_changes(
        133,
        // A rule of the platform's own schema that HR data can break.
        "ALTER TABLE users ADD CONSTRAINT platform_title_rule CHECK (job_title IS DISTINCT FROM 'Forbidden Title')",
        |_| json!({}),
        ["Lead", "Forbidden Title", "Architect"],
    )
    .await?;
    assert_ne!(out.titles[1].as_deref(), Some("Forbidden Title"));
    assert_eq!(out.open[0]["sqlstate"], "23514");
    let reason = out.open[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("check_violation"), "{reason}");
    assert!(reason.contains("platform_title_rule"), "{reason}");
    assert!(!reason.contains("Forbidden"), "no value: {reason}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_empty_value_the_database_requires_names_its_column() -> anyhow::Result<()> {
    let (_stack, out) = three_changes(
        137,
        // Every person has a title; the platform now requires one.
        "ALTER TABLE users ALTER COLUMN job_title SET NOT NULL",
        // Kombo serves the second person's title as null.
        |ids| json!({ "corrupt": { ids[1].clone(): { "job_title": "null" } } }),
        ["Lead", "Unseen Title", "Architect"],
    )
    .await?;
    assert!(out.titles[1].is_some(), "the stored title stays");
    assert_eq!(out.open[0]["kombo_id"], out.ids[1].as_str());
    assert_eq!(out.open[0]["sqlstate"], "23502");
    let reason = out.open[0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("not_null_violation"), "{reason}");
    assert!(reason.contains("column job_title"), "{reason}");
    assert!(reason.contains("table users"), "{reason}");
    Ok(())
}
