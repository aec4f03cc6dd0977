//! Kombo integration health, from the workers' side: a bounded, throttled
//! `GET /integrations/{id}` before employees are read (so the guard knows
//! whether deletions can be trusted), issues recorded from webhooks, and the
//! health gauges (counts over tenants, never a tenant label).

use hris_types::TenantId;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hris_kombo::envelope::IntegrationDetails;
use hris_kombo::issue::IssueStatusChanged;
use hris_store::{IntegrationReport, IssueEvent, Store};

use crate::context::WorkerContext;

/// The longest a health read may hold up a fetch; past it the fetch goes on
/// with what the database last knew.
const READ_BOUND: Duration = Duration::from_secs(10);

/// Kombo's answer as stored. An unreadable `data_expired_at` still says the
/// data expired: it counts as expired now, the safe side for deactivations.
pub fn report_of(details: &IntegrationDetails, now: DateTime<Utc>) -> IntegrationReport {
    IntegrationReport {
        status: details.status.clone(),
        setup_status: details.setup_status.clone(),
        data_expired_at: details
            .data_expired_at
            .as_deref()
            .map(|at| parse_time(at).unwrap_or(now)),
    }
}

fn parse_time(at: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(at)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Refreshes a tenant's integration health if no worker did within the
/// interval. Never fails the fetch: a failed read is recorded and the guard
/// decides on the last known health.
pub async fn refresh(ctx: &WorkerContext, tenant_id: &TenantId, integration_id: &str) {
    match ctx
        .store
        .claim_health_check(tenant_id, ctx.settings.health_refresh)
        .await
    {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(%tenant_id, error = %e, "could not claim the integration health check");
            return;
        }
    }
    let outcome = match tokio::time::timeout(READ_BOUND, ctx.kombo.integration(integration_id))
        .await
    {
        Ok(Ok(details)) => {
            ctx.store
                .record_integration_report(tenant_id, &report_of(&details, Utc::now()))
                .await
        }
        Ok(Err(e)) => {
            tracing::warn!(%tenant_id, error = %e, "could not read the integration's health from Kombo");
            let code = e.code().unwrap_or("unreachable").to_owned();
            ctx.store.record_health_check_error(tenant_id, &code).await
        }
        Err(_) => {
            tracing::warn!(%tenant_id, "Kombo's integration health read timed out");
            ctx.store
                .record_health_check_error(tenant_id, "timeout")
                .await
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(%tenant_id, error = %e, "could not record the integration's health");
    }
    update_gauges(&ctx.store).await;
}

/// The stored form of an `issue-status-changed` event.
pub fn issue_event<'a>(
    event_id: &'a str,
    changed: &'a IssueStatusChanged,
    tenant_id: Option<&'a str>,
) -> IssueEvent<'a> {
    let issue = &changed.issue;
    IssueEvent {
        event_id,
        issue_id: &issue.id,
        issue_type: &issue.issue_type,
        integration_id: changed.integration.as_ref().map(|i| i.id.as_str()),
        tenant_id,
        title: issue.title.as_deref(),
        open: changed.is_open(),
        first_observed_at: issue.first_observed_at.as_deref().and_then(parse_time),
        resolved_at: issue.resolved_at.as_deref().and_then(parse_time),
    }
}

/// Sets the health gauges from the database (counts over every tenant).
pub async fn update_gauges(store: &Store) {
    match store.health_counts().await {
        Ok(c) => {
            metrics::gauge!("kombo_tenants_auth_issue_open").set(c.auth_issue_tenants as f64);
            metrics::gauge!("kombo_tenants_data_expired").set(c.data_expired_tenants as f64);
            metrics::gauge!("kombo_tenants_setup_incomplete")
                .set(c.setup_incomplete_tenants as f64);
            metrics::gauge!("kombo_tenants_integration_invalid")
                .set(c.kombo_invalid_tenants as f64);
            metrics::gauge!("kombo_environment_issues_open").set(c.environment_issues as f64);
        }
        Err(e) => tracing::warn!(error = %e, "could not count integration health for metrics"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(expired: Option<&str>) -> IntegrationDetails {
        IntegrationDetails {
            id: "personio:x".to_owned(),
            status: "ACTIVE".to_owned(),
            setup_status: Some("COMPLETED".to_owned()),
            data_expired_at: expired.map(str::to_owned),
        }
    }

    #[test]
    fn an_unreadable_expiry_still_counts_as_expired() {
        let now = Utc::now();
        assert_eq!(report_of(&details(None), now).data_expired_at, None);
        assert_eq!(
            report_of(&details(Some("2026-05-01T10:00:00.000Z")), now).data_expired_at,
            parse_time("2026-05-01T10:00:00Z")
        );
        assert_eq!(
            report_of(&details(Some("yesterday")), now).data_expired_at,
            Some(now)
        );
    }
}
