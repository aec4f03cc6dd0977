//! The Kombo client against the simulator: complete paging, `updated_after`,
//! deletions, retries that end in success, permanent errors without retries.

use std::collections::HashSet;

use futures::TryStreamExt;
use hris_e2e::Sim;
use hris_kombo::records::Employee;
use hris_kombo::{Endpoint, ErrorClass, ListQuery};
use hris_sim::SimConfig;

async fn all_employees(
    sim: &Sim,
    integration: &str,
    query: ListQuery,
) -> Result<Vec<Employee>, hris_kombo::KomboError> {
    let pages: Vec<Vec<Employee>> = sim
        .client()
        .list(integration, Endpoint::Employees, query)
        .map_ok(|page| page.records)
        .try_collect()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}

fn sim_employee_count(sim: &Sim, integration: &str, include_deleted: bool) -> usize {
    let integrations = hris_sim::state::read(&sim.state.integrations);
    let company = &integrations[integration].company;
    company
        .employees
        .values()
        .filter(|e| include_deleted || e.deleted_at.is_none())
        .count()
}

#[tokio::test]
async fn a_10k_company_is_read_completely_with_page_size_250() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:big", 10_000, 3)
        .await
        .expect("integration");
    let query = ListQuery {
        page_size: Some(250),
        include_deleted: true,
        ..ListQuery::default()
    };
    let employees = all_employees(&sim, "personio:big", query)
        .await
        .expect("listing");
    let ids: HashSet<&str> = employees.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(employees.len(), 10_000, "every record once");
    assert_eq!(ids.len(), 10_000, "no duplicates");
    let stats = sim.stats("personio:big").await.expect("stats");
    assert_eq!(stats["requests"]["employees"], 40, "10,000 / 250 pages");
}

#[tokio::test]
async fn updated_after_returns_exactly_the_changed_records() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:delta", 300, 5)
        .await
        .expect("integration");
    // People nobody reports to, so a change touches only them.
    let leaves: Vec<String> = {
        let integrations = hris_sim::state::read(&sim.state.integrations);
        let company = &integrations["personio:delta"].company;
        let managers: HashSet<&String> = company
            .employees
            .values()
            .filter_map(|e| e.manager_id.as_ref())
            .collect();
        company
            .employees
            .values()
            .filter(|e| !managers.contains(&e.id) && e.deleted_at.is_none())
            .take(3)
            .map(|e| e.id.clone())
            .collect()
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let since = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for id in &leaves {
        sim.mutate(
            "personio:delta",
            serde_json::json!({"op": "promote", "employee_id": id, "job_title": "Lead"}),
        )
        .await
        .expect("mutate");
    }
    let query = ListQuery {
        updated_after: Some(since),
        include_deleted: true,
        ..ListQuery::default()
    };
    let changed = all_employees(&sim, "personio:delta", query)
        .await
        .expect("listing");
    let mut got: Vec<String> = changed.iter().map(|e| e.id.clone()).collect();
    got.sort();
    let mut want = leaves.clone();
    want.sort();
    assert_eq!(got, want);
    assert!(
        changed
            .iter()
            .all(|e| e.job_title.as_deref() == Some("Lead"))
    );
}

#[tokio::test]
async fn deletions_show_only_with_include_deleted() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:del", 200, 9)
        .await
        .expect("integration");
    let victim = hris_sim::state::read(&sim.state.integrations)["personio:del"]
        .company
        .employees
        .keys()
        .next()
        .cloned()
        .expect("someone");
    sim.mutate(
        "personio:del",
        serde_json::json!({"op": "delete", "employee_id": victim}),
    )
    .await
    .expect("delete");

    let without = all_employees(&sim, "personio:del", ListQuery::default())
        .await
        .expect("listing");
    assert!(
        without
            .iter()
            .all(|e| e.id != victim && e.remote_deleted_at.is_none())
    );
    assert_eq!(
        without.len(),
        sim_employee_count(&sim, "personio:del", false)
    );

    let with = all_employees(
        &sim,
        "personio:del",
        ListQuery {
            include_deleted: true,
            ..ListQuery::default()
        },
    )
    .await
    .expect("listing");
    let deleted = with
        .iter()
        .find(|e| e.id == victim)
        .expect("deleted record listed");
    assert!(deleted.remote_deleted_at.is_some());
    assert_eq!(with.len(), sim_employee_count(&sim, "personio:del", true));
}

#[tokio::test]
async fn rate_limits_outages_and_truncated_bodies_are_retried_to_success() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:flaky", 2_000, 11)
        .await
        .expect("integration");
    sim.set_faults("personio:flaky", serde_json::json!({"rate_429": 0.2, "retry_after_secs": 0, "rate_503": 0.15, "rate_truncated": 0.1, "rate_malformed": 0.05}))
        .await
        .expect("faults");
    let query = ListQuery {
        page_size: Some(100),
        include_deleted: true,
        ..ListQuery::default()
    };
    let employees = all_employees(&sim, "personio:flaky", query)
        .await
        .expect("listing survives faults");
    let ids: HashSet<&str> = employees.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 2_000);
    assert_eq!(employees.len(), 2_000);
    let stats = sim.stats("personio:flaky").await.expect("stats");
    assert!(
        stats["faults_injected"].as_u64().unwrap_or(0) > 0,
        "faults were injected: {stats}"
    );
}

#[tokio::test]
async fn permanent_errors_surface_without_retrying() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:revoked", 50, 2)
        .await
        .expect("integration");
    sim.set_faults(
        "personio:revoked",
        serde_json::json!({"error_code": "INTEGRATION.AUTHENTICATION_INVALID"}),
    )
    .await
    .expect("faults");
    let err = all_employees(&sim, "personio:revoked", ListQuery::default())
        .await
        .expect_err("must fail");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert_eq!(err.code(), Some("INTEGRATION.AUTHENTICATION_INVALID"));
    assert!(err.log_url().is_some());
    let stats = sim.stats("personio:revoked").await.expect("stats");
    assert_eq!(
        stats["requests"]["employees"], 1,
        "no retry of a permanent error"
    );

    sim.set_faults(
        "personio:revoked",
        serde_json::json!({"error_code": "INTEGRATION.SETUP_SYNC_PENDING"}),
    )
    .await
    .expect("faults");
    let err = all_employees(&sim, "personio:revoked", ListQuery::default())
        .await
        .expect_err("must fail");
    assert_eq!(err.class(), ErrorClass::NotReady);
}

#[tokio::test]
async fn a_long_retry_after_is_left_to_the_caller() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:slowdown", 10, 2)
        .await
        .expect("integration");
    sim.set_faults(
        "personio:slowdown",
        serde_json::json!({"rate_429": 1.0, "retry_after_secs": 120}),
    )
    .await
    .expect("faults");
    let err = all_employees(&sim, "personio:slowdown", ListQuery::default())
        .await
        .expect_err("must fail");
    assert_eq!(
        err.class(),
        ErrorClass::Retryable {
            retry_after: Some(std::time::Duration::from_secs(120))
        }
    );
    let stats = sim.stats("personio:slowdown").await.expect("stats");
    assert_eq!(
        stats["requests"]["employees"], 1,
        "a 2-minute Retry-After is not slept in-process"
    );
}

#[tokio::test]
async fn a_listing_past_the_page_cap_ends_with_a_permanent_error() {
    let sim = Sim::start(SimConfig::default()).await.expect("sim");
    sim.add_integration("personio:big", 600, 7)
        .await
        .expect("integration");
    let mut config = hris_kombo::KomboClientConfig::new(sim.api_url(), sim.api_key());
    config.max_pages = 2;
    let client = hris_kombo::KomboClient::new(config).expect("client");
    let result: Result<Vec<_>, _> = client
        .list::<Employee>("personio:big", Endpoint::Employees, ListQuery::default())
        .try_collect()
        .await;
    let error = result.expect_err("600 people in pages of 250 need 3 pages");
    assert!(
        matches!(error, hris_kombo::KomboError::TooManyPages { pages: 2, .. }),
        "{error}"
    );
    assert_eq!(error.class(), hris_kombo::ErrorClass::Permanent);
}
