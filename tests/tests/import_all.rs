//! "Import all": its dry run predicts the real run exactly; the admin API
//! starts it behind a bearer token.

use std::collections::BTreeSet;
use std::time::Duration;

use hris_e2e::stack::Stack;
use serde_json::{Value, json};

/// (kombo_id, field, new value) of every user change.
type Changes = BTreeSet<(String, String, String)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_all_dry_run_writes_nothing_and_predicts_the_real_run() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 300, 47).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let ids: Vec<&str> = hris_e2e::conformance::still_employed(&employees)
        .into_iter()
        .take(5)
        .collect();
    for m in [
        json!({"op": "promote", "employee_id": ids[0], "job_title": "Chief Dry Runner", "silent": true}),
        json!({"op": "rename", "employee_id": ids[1], "first_name": "Renamed", "silent": true}),
        json!({"op": "change_email", "employee_id": ids[2], "email": "moved@example.org", "silent": true}),
        json!({"op": "terminate", "employee_id": ids[3], "days_from_today": -3, "silent": true}),
        json!({"op": "vanish", "employee_ids": [ids[4]], "silent": true}),
        json!({"op": "hire", "job_title": "Newcomer", "start_in_days": -2, "silent": true}),
    ] {
        stack.sim.mutate(&integration, m).await?;
    }
    let log_before = stack
        .count(
            "SELECT count(*) FROM change_log WHERE tenant_id = $1",
            "acme",
        )
        .await?;
    let runs_before = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1",
            "acme",
        )
        .await?;
    let out = stack
        .cli(&["import-all", "--tenant", "acme", "--dry-run", "--json"])
        .await?;
    let preview: Value = serde_json::from_str(&out).map_err(|e| anyhow::anyhow!("{e}: {out}"))?;
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM change_log WHERE tenant_id = $1",
                "acme"
            )
            .await?,
        log_before,
        "a dry run writes nothing"
    );
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM sync_runs WHERE tenant_id = $1",
                "acme"
            )
            .await?,
        runs_before
    );
    let mut predicted = Changes::new();
    for c in preview["changes"].as_array().into_iter().flatten() {
        for f in c["fields"].as_array().into_iter().flatten() {
            predicted.insert((
                c["kombo_id"].as_str().unwrap_or("").into(),
                f["field"].as_str().unwrap_or("").into(),
                f["new"].to_string(),
            ));
        }
    }
    for id in preview["vanished"].as_array().into_iter().flatten() {
        let id = id.as_str().unwrap_or("").to_owned();
        predicted.insert((id.clone(), "status".into(), "\"deactivated\"".into()));
        predicted.insert((
            id,
            "deactivation_reason".into(),
            "\"missing_from_full_sync\"".into(),
        ));
    }
    assert!(
        predicted.len() >= 8,
        "the preview saw the changes: {predicted:?}"
    );

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = stack
        .cli(&["import-all", "--tenant", "acme", "--json"])
        .await?;
    let summary: Value = serde_json::from_str(&out).map_err(|e| anyhow::anyhow!("{e}: {out}"))?;
    assert_eq!(summary["status"], "succeeded");
    assert_eq!(summary["summary"]["created"], 1, "{summary}");
    let client = stack.store.client().await?;
    let actual: Changes = client
        .query("SELECT record_kombo_id, field, new_value::text FROM change_log WHERE tenant_id = 'acme' AND record_type = 'user' AND id > (SELECT COALESCE(max(id), 0) FROM change_log WHERE id <= $1)", &[&log_before])
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), serde_json::from_str::<Value>(r.get::<_, &str>(2)).map(|v| v.to_string()).unwrap_or_default()))
        .collect();
    assert_eq!(
        actual, predicted,
        "the dry run predicted exactly what the real run did"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_api_imports_and_reports_with_a_bearer_token() -> anyhow::Result<()> {
    let (stack, _) = Stack::imported("acme", 40, 48).await?;
    let token = "an-admin-token-of-some-length";
    let admin = hris_e2e::admin::AdminServer::for_stack(&stack, token).await?;
    let http = reqwest::Client::new();
    let url = admin.url("/admin/tenants/acme/import-all");
    assert_eq!(http.post(&url).send().await?.status(), 401);
    assert_eq!(
        http.post(&url)
            .bearer_auth("wrong-token-wrong-token")
            .send()
            .await?
            .status(),
        401
    );
    let r = http.post(&url).bearer_auth(token).send().await?;
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await?;
    let run = body["sync_run_id"].as_str().unwrap_or_default().to_owned();
    assert!(!run.is_empty());
    assert_eq!(body["kombo_refresh"], "requested");
    assert_eq!(body["already_queued"], false);
    let sync_id = body["kombo_sync_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!sync_id.is_empty(), "{body}");
    // The read starts once Kombo's sync-finished arrived (in the background).
    let children_sql =
        format!("SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND parent_id = '{run}'");
    hris_e2e::stack::eventually(
        "the import's full runs",
        Duration::from_secs(30),
        || async { Ok(stack.count(&children_sql, "acme").await? == 4) },
    )
    .await?;
    stack.settle(Duration::from_secs(30)).await?;
    let children = stack.count(&children_sql, "acme").await?;
    assert_eq!(children, 4, "one full run per entity under the import");
    assert_eq!(
        stack
            .scalar(
                "SELECT count(*) FROM kombo_syncs WHERE sync_id = $1",
                &[&sync_id]
            )
            .await?,
        1
    );
    let status: Value = http
        .get(admin.url("/admin/tenants/acme/status"))
        .bearer_auth(token)
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(status["state"], "active");
    assert_eq!(status["held_changes"], 0);
    let missing = http
        .post(admin.url("/admin/tenants/nobody/import-all"))
        .bearer_auth(token)
        .send()
        .await?;
    assert_eq!(missing.status(), 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_all_reads_only_after_kombos_sync_finished_and_reuses_a_queued_one()
-> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 60, 49).await?;
    stack
        .sim
        .slow_sync_with_a_staged_hire(&integration, 3000)
        .await?;
    // A sync already queued when the button is pressed: the import waits for it.
    let queued = stack.sim.client().force_sync(&integration).await?;
    assert!(!queued.already_queued);
    let (code, out, err) = stack
        .cli_status(&["import-all", "--tenant", "acme", "--json"])
        .await?;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(&format!(
            "waiting for Kombo's sync {} (already queued) to finish",
            queued.sync_id
        )),
        "{err}"
    );
    assert!(
        err.contains("Kombo's sync finished (SUCCEEDED); reading everything"),
        "{err}"
    );
    let summary: Value = serde_json::from_str(&out).map_err(|e| anyhow::anyhow!("{e}: {out}"))?;
    assert_eq!(summary["status"], "succeeded");
    // The hire Kombo's sync brought was read, and nothing was read before
    // the sync ended (the simulator counts reads made while it ran).
    assert_eq!(summary["summary"]["created"], 1, "{summary}");
    assert_eq!(
        stack.sim.stats(&integration).await?["reads_while_syncing"],
        0
    );
    assert_eq!(
        stack
            .count(
                "SELECT count(*) FROM users WHERE tenant_id = $1 AND job_title = 'Staged Hire'",
                "acme"
            )
            .await?,
        1
    );
    assert_eq!(stack.sim.action_count("force-sync").await?, 2);
    let recorded = stack
        .scalar(
            "SELECT count(*) FROM kombo_syncs WHERE integration_id = $1 AND sync_id = $2",
            &[&integration, &queued.sync_id],
        )
        .await?;
    assert_eq!(recorded, 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn import_all_stops_waiting_at_its_bound_and_says_so() -> anyhow::Result<()> {
    let (stack, integration) = Stack::imported("acme", 40, 50).await?;
    stack
        .sim
        .slow_sync_with_a_staged_hire(&integration, 60_000)
        .await?;
    let (code, out, err) = stack
        .cli_status(&[
            "import-all",
            "--tenant",
            "acme",
            "--json",
            "--kombo-sync-wait-secs",
            "1",
        ])
        .await?;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("Kombo's sync did not finish within 1 s; reading what Kombo has now"),
        "{err}"
    );
    let summary: Value = serde_json::from_str(&out).map_err(|e| anyhow::anyhow!("{e}: {out}"))?;
    assert_eq!(summary["status"], "succeeded");
    // Kombo's old copy: the staged hire is not there yet.
    assert_eq!(summary["summary"]["created"], 0, "{summary}");
    Ok(())
}
