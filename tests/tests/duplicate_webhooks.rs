//! The same webhook delivered twice at once, and a late copy of an older one,
//! through the real receiver and workers, leave exactly what one delivery does.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::bus::data_changed;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicate_deliveries_are_harmless() -> anyhow::Result<()> {
    use hris_e2e::conformance::{employees, full_mismatches, still_employed, users};
    use hris_e2e::stack::Stack;
    use serde_json::json;

    // Nothing deduplicates on the message id: the receiver publishes every copy
    // Kombo sends (each got a 200, so each must be durable) and the workers
    // process every copy. What makes a duplicate harmless is the apply: a fetch
    // reads Kombo's current records, and an upsert that changes nothing writes
    // no row and no history. So two tenants get the same company and the same
    // changes; "once" receives each webhook once, "dup" each twice (at the same
    // time), plus a late copy of the older one after the newer one. Their rows
    // and change logs must come out identical.
    let mut stack = Stack::start().await?;
    let once = stack.tenant("once", 40, 81).await?;
    let dup = stack.tenant("dup", 40, 81).await?;
    let people = employees(&stack, &once).await?;
    let ids: Vec<&str> = people.iter().map(|e| e.id.as_str()).collect();
    let dup_people = employees(&stack, &dup).await?;
    let dup_ids: Vec<&str> = dup_people.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, dup_ids, "the same seed makes the same company");
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(10))
        .await?;
    stack.request_sync("once", FetchKind::Full).await?;
    stack.request_sync("dup", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let targets = still_employed(&people);
    let (x, y) = (targets[0], targets[1]);
    let both = |mutation: serde_json::Value| {
        let stack = &stack;
        let (once, dup) = (once.clone(), dup.clone());
        async move {
            // Silent: this test sends the webhooks itself, as often as it likes.
            let mut mutation = mutation;
            mutation["silent"] = json!(true);
            stack.sim.mutate(&once, mutation.clone()).await?;
            stack.sim.mutate(&dup, mutation).await?;
            anyhow::Ok(())
        }
    };
    let post = |event: &str, integration: &str| {
        let body = data_changed(event, integration, &["hris_employees"]);
        let receiver = &stack.receiver;
        async move { receiver.post_signed(&body).await }
    };
    let mut accepted = 0;

    // First change: "dup" gets its webhook twice at once.
    both(json!({"op": "promote", "employee_id": x, "job_title": "Lead"})).await?;
    assert_eq!(post("E-1", &once).await?, 200);
    let (a, b) = tokio::join!(post("E-1", &dup), post("E-1", &dup));
    for status in [a?, b?] {
        assert_eq!(status, 200);
        accepted += 1;
    }
    stack.settle(Duration::from_secs(30)).await?;

    // Second change: "dup" gets it, then the first event late, then it again.
    both(json!({"op": "promote", "employee_id": x, "job_title": "Head"})).await?;
    both(json!({"op": "rename", "employee_id": y, "first_name": "Renamed"})).await?;
    assert_eq!(post("E-2", &once).await?, 200);
    for event in ["E-2", "E-1", "E-2"] {
        assert_eq!(post(event, &dup).await?, 200);
        accepted += 1;
    }
    stack.settle(Duration::from_secs(30)).await?;

    // Both are right …
    for (tenant, integration) in [("once", &once), ("dup", &dup)] {
        let diffs = full_mismatches(&stack, tenant, integration, 10).await?;
        assert!(diffs.is_empty(), "{tenant}:\n{}", diffs.join("\n"));
    }
    // … and the same: rows (references resolved to Kombo ids) and history.
    assert_eq!(users(&stack, "dup").await?, users(&stack, "once").await?);
    let history = |tenant: &'static str| {
        let stack = &stack;
        async move {
            let client = stack.store.client().await?;
            let rows = client
                .query(
                    "SELECT record_type, record_kombo_id, field, old_value::text, new_value::text
                     FROM change_log WHERE tenant_id = $1 ORDER BY 1, 2, 3, id",
                    &[&tenant],
                )
                .await?;
            anyhow::Ok(
                rows.iter()
                    .map(|r| {
                        let cols: Vec<Option<String>> = (0..5).map(|i| r.get(i)).collect();
                        cols
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    let (h_once, h_dup) = (history("once").await?, history("dup").await?);
    let titles: Vec<_> = h_dup
        .iter()
        .filter(|r| r[1].as_deref() == Some(x) && r[2].as_deref() == Some("job_title"))
        .map(|r| r[3..].to_vec())
        .collect();
    println!(
        "{accepted} copies delivered to \"dup\" for 2 changes; change log: {} rows once, {} rows with duplicates; job title history {titles:?}",
        h_once.len(),
        h_dup.len()
    );
    // Not vacuous: both changes really arrived, one history row each.
    assert_eq!(titles.len(), 2, "each change recorded once: {titles:?}");
    let only_in = |a: &Vec<Vec<Option<String>>>, b: &Vec<Vec<Option<String>>>| {
        let mut rest = b.clone();
        a.iter()
            .filter(|row| match rest.iter().position(|r| r == *row) {
                Some(i) => {
                    rest.remove(i);
                    false
                }
                None => true,
            })
            .cloned()
            .collect::<Vec<_>>()
    };
    let (extra, missing) = (only_in(&h_dup, &h_once), only_in(&h_once, &h_dup));
    assert!(
        extra.is_empty() && missing.is_empty(),
        "duplicates changed the history: extra {extra:?}, missing {missing:?}"
    );
    assert_eq!(h_dup, h_once, "and in the same order");
    Ok(())
}
