//! One tenant: its health, entities and runs, held changes (approve or
//! reject, all or some), identity conflicts, "Import all" with its progress,
//! and the people directory.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use hris_store::console::{HeldPreview, ImportProgress};
use hris_store::identity::IdentityConflict;
use hris_store::{FetchStatus, Tenant, TenantHealth};
use hris_types::TenantId;
use hris_worker::import::ImportError;
use maud::{Markup, html};

use super::auth::Viewer;
use super::form::{FormData, encode};
use super::layout::{age, csrf_field, notice, page as shell, short, state_badge, time};
use crate::api::Admin;

const PEOPLE_SHOWN: i64 = 50;
const RUNS_SHOWN: i64 = 15;

pub fn path(tenant: &str) -> String {
    format!("/console/tenants/{}", encode(tenant))
}

pub async fn page(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    Path(id): Path<TenantId>,
    RawQuery(raw): RawQuery,
) -> Response {
    let q = FormData::parse(raw.unwrap_or_default().as_bytes());
    let search = q.get("people").unwrap_or_default().to_owned();
    let store = &admin.ctx.store;
    let tenant = match store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let loaded = tokio::try_join!(
        store.tenant_health(&id),
        store.fetch_status(&id),
        store.recent_runs(&id, RUNS_SHOWN),
        store.held_preview(&id),
        store.identity_conflicts(&id, false),
        store.import_progress(&id),
        store.people(&id, &search, PEOPLE_SHOWN),
    );
    let (health, entities, runs, held, conflicts, import, people) = match loaded {
        Ok(x) => x,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let importing = import
        .as_ref()
        .is_some_and(|i| i.umbrella.status == "running");
    let body = html! {
        // Without JavaScript, the page follows an import by reloading itself.
        @if importing { meta http-equiv="refresh" content="3"; }
        (notice(q.get("notice")))
        h1 {
            (tenant.name) " "
            @if tenant.name != tenant.id.as_str() { span.muted { (tenant.id) } " " }
            (state_badge(&tenant.integration_state.to_string()))
        }
        (summary(&tenant, &health))
        (import_section(&viewer, &tenant, import.as_ref()))
        h2 { "Entities" }
        (entities_table(&entities))
        h2 { "Recent runs" }
        (runs_table(&runs))
        h2 #held-changes { "Held changes (" (held.len()) ")" }
        (held_section(&viewer, tenant.id.as_str(), &held))
        h2 { "Identity conflicts (" (conflicts.len()) ")" }
        (conflicts_table(&conflicts))
        h2 { "People" }
        form.filters method="get" action=(path(tenant.id.as_str())) {
            label { "Name, email or Kombo id" input #people-search type="search" name="people" value=(search); }
            button #people-search-submit type="submit" { "Search" }
        }
        table #people {
            thead { tr { th { "Name" } th { "Email" } th { "Job title" } th { "Kombo id" } th { "Status" } } }
            tbody {
                @for p in &people {
                    tr {
                        td { @if let Some(key) = p.lookup_key() {
                            a href=(super::user::path(tenant.id.as_str(), key)) { (name(p.first_name.as_deref(), p.last_name.as_deref())) }
                        } }
                        td { (p.email.as_deref().unwrap_or("-")) }
                        td { (p.job_title.as_deref().unwrap_or("-")) }
                        td.muted { (p.kombo_id.as_deref().unwrap_or("-")) }
                        td { (state_badge(&p.status)) }
                    }
                }
            }
        }
    };
    shell(tenant.id.as_str(), Some(&viewer), body).into_response()
}

pub fn name(first: Option<&str>, last: Option<&str>) -> String {
    let full = format!("{} {}", first.unwrap_or(""), last.unwrap_or(""));
    let full = full.trim();
    if full.is_empty() {
        "(no name)".to_owned()
    } else {
        full.to_owned()
    }
}

fn summary(tenant: &Tenant, health: &TenantHealth) -> Markup {
    html! {
        dl.facts {
            dt { "Integration" } dd { (tenant.kombo_integration_id.as_deref().unwrap_or("-")) }
            @if let Some(reason) = &tenant.integration_state_reason { dt { "State reason" } dd { (reason) } }
            dt { "Kombo" } dd {
                "status " (health.kombo_status.as_deref().unwrap_or("-"))
                ", setup " (health.setup_status.as_deref().unwrap_or("-"))
                ", checked " (age(health.checked_at))
                @if let Some(e) = &health.check_error { span.err { " — last check failed: " (e) } }
            }
            @if health.data_expired_at.is_some() { dt { "Data expired" } dd.err { (time(health.data_expired_at)) } }
            @for issue in &health.open_issues {
                dt { "Open Kombo issue" } dd.err { (issue.issue_type) " " (issue.title.as_deref().unwrap_or("")) " since " (age(issue.first_observed_at)) }
            }
            @if let Some(because) = &health.deletions_held_because { dt { "Deletions held" } dd.err { (because) } }
            dt { "Full sync every" } dd { (super::layout::duration(u64::try_from(tenant.settings.full_sync_interval_seconds).unwrap_or(0))) }
        }
    }
}

fn import_section(viewer: &Viewer, tenant: &Tenant, import: Option<&ImportProgress>) -> Markup {
    html! {
        h2 { "Import all" }
        @if viewer.can_write() {
            form.inline method="post" action=(format!("{}/import-all", path(tenant.id.as_str()))) {
                (csrf_field(viewer))
                button #import-all type="submit" { "Import all" }
            }
            " "
        }
        @match import {
            None => span.muted { "No import yet." },
            Some(i) => span #import-progress {
                "Latest: started " (age(Some(i.umbrella.started_at))) " — " (state_badge(&i.umbrella.status))
                @if i.umbrella.status == "running" {
                    @if i.reading {
                        " reading " (i.entities.iter().filter(|e| e.status != "running").count()) " of " (i.entities.len().max(4)) " entities done"
                    } @else { " waiting for Kombo's own sync to finish" }
                }
                @for e in &i.entities {
                    br;
                    span.muted { (e.entity.as_deref().unwrap_or("-")) ": " }
                    (state_badge(&e.status)) " " (e.pages) " pages, " (e.created) " created, " (e.updated) " updated, " (e.deactivated) " deactivated, " (e.held) " held"
                }
            },
        }
    }
}

fn entities_table(entities: &[FetchStatus]) -> Markup {
    html! {
        table #entities {
            thead { tr { th { "Entity" } th { "Watermark" } th { "Last incremental" } th { "Last full" } th { "Last fetch started" } th { "Last error" } } }
            tbody { @for e in entities {
                tr {
                    td { (e.entity) @if e.fetching { " " span.badge.warn { "fetching" } } }
                    td { (time(e.watermark)) }
                    td { (age(e.last_incremental_at)) }
                    td { (age(e.last_full_at)) }
                    td { (age(e.last_fetch_started_at)) }
                    td.err { @if let Some(err) = &e.last_error { (short(err, 80)) " " (age(e.last_error_at)) } }
                }
            } }
        }
    }
}

fn runs_table(runs: &[hris_store::console::RecentRun]) -> Markup {
    html! {
        table #runs {
            thead { tr {
                th { "Started" } th { "Entity" } th { "Kind / trigger" } th { "Status" } th.num { "Pages" }
                th.num { "Created" } th.num { "Updated" } th.num { "Deactivated" } th.num { "Held" } th { "Error" }
            } }
            tbody { @for r in runs {
                tr {
                    td { (age(Some(r.started_at))) }
                    td { (r.entity.as_deref().unwrap_or("import all")) }
                    td { (r.kind) " / " (r.trigger) }
                    td { (state_badge(&r.status)) }
                    td.num { (r.pages) } td.num { (r.created) } td.num { (r.updated) }
                    td.num { (r.deactivated) } td.num { (r.held) }
                    td.err { @if let Some(e) = &r.error { (short(e, 60)) } }
                }
            } }
        }
    }
}

fn held_section(viewer: &Viewer, tenant: &str, held: &[HeldPreview]) -> Markup {
    if held.is_empty() {
        return html! { p.muted { "Nothing held." } };
    }
    let rows = html! {
        table #held {
            thead { tr {
                @if viewer.can_write() { th { "" } }
                th { "Person" } th { "Email" } th { "Job title" } th { "Would be deactivated because" } th { "Held because" } th { "Held" }
            } }
            tbody { @for h in held {
                tr {
                    @if viewer.can_write() { td { input type="checkbox" name="user" value=(h.user_kombo_id); } }
                    td { a href=(super::user::path(tenant, &h.user_kombo_id)) { (name(h.first_name.as_deref(), h.last_name.as_deref())) } }
                    td { (h.email.as_deref().unwrap_or("-")) }
                    td { (h.job_title.as_deref().unwrap_or("-")) }
                    td { (h.reason) }
                    td { (h.held_because) }
                    td { (age(Some(h.held_at))) }
                }
            } }
        }
    };
    if !viewer.can_write() {
        return rows;
    }
    html! {
        form #held-form method="post" action=(format!("{}/held", path(tenant))) {
            (csrf_field(viewer))
            p {
                button #approve-all type="submit" name="action" value="approve-all" { "Approve all " (held.len()) }
                " "
                button.danger #reject-all type="submit" name="action" value="reject-all" { "Reject all" }
                " "
                button.secondary #approve-selected type="submit" name="action" value="approve-selected" { "Approve selected" }
                " "
                button.secondary #reject-selected type="submit" name="action" value="reject-selected" { "Reject selected" }
            }
            (rows)
        }
    }
}

fn conflicts_table(conflicts: &[IdentityConflict]) -> Markup {
    if conflicts.is_empty() {
        return html! { p.muted { "No open conflict." } };
    }
    html! {
        table #conflicts {
            thead { tr { th { "HR record" } th { "Kind" } th { "Other records" } th { "Users" } th { "First seen" } th { "Last seen" } } }
            tbody { @for c in conflicts {
                tr {
                    td { (c.kombo_id) } td { (c.kind) } td { (c.other_kombo_ids.join(", ")) }
                    td { (c.user_ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")) }
                    td { (age(Some(c.first_seen_at))) } td { (age(Some(c.last_seen_at))) }
                }
            } }
        }
        p.muted { "Resolve with " code { "hris-sync tenant identity" } " (see deploy/RUNBOOK.md)." }
    }
}

/// Approve or reject held changes: all, or the people ticked. The same
/// `decide_held` the CLI's `tenant approve|reject` and the admin API call.
pub async fn decide(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    Path(id): Path<TenantId>,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let (approve, selected) = match form.get("action") {
        Some("approve-all") => (true, false),
        Some("reject-all") => (false, false),
        Some("approve-selected") => (true, true),
        Some("reject-selected") => (false, true),
        _ => return super::done(&path(id.as_str()), "Choose approve or reject."),
    };
    let people = form.all("user");
    if selected && people.is_empty() {
        return super::done(&path(id.as_str()), "Nobody was selected: nothing decided.");
    }
    let only = selected.then_some(people.as_slice());
    let store = &admin.ctx.store;
    if let Err(e) = store.tenant(&id).await {
        return super::store_failure(&viewer, &e);
    }
    match store
        .decide_held(&id, approve, viewer.access.actor(), only)
        .await
    {
        Ok(n) => {
            let verb = if approve { "approved" } else { "rejected" };
            tracing::info!(tenant_id = %id, decided = n, approve, actor = viewer.access.actor(), "console: held changes decided");
            super::done(&path(id.as_str()), &format!("{n} held change(s) {verb}."))
        }
        Err(e) => super::store_failure(&viewer, &e),
    }
}

/// "Import all": the admin API's own start (Kombo's refresh, then the read).
pub async fn import_all(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    Path(id): Path<TenantId>,
) -> Response {
    let tenant = match admin.ctx.store.tenant(&id).await {
        Ok(t) => t,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let notice = match crate::api::start_import_all(&admin, tenant).await {
        Ok(started) => {
            tracing::info!(tenant_id = %id, sync_run_id = %started.sync_run_id, actor = viewer.access.actor(), "console: import all started");
            "Import started: Kombo refreshes from the HR system, then everything is read."
                .to_owned()
        }
        Err(e @ ImportError::NotActive { .. }) => e.to_string(),
        Err(e) => {
            tracing::warn!(tenant_id = %id, error = %e, "console: import all failed to start");
            format!("Import could not start: {e}")
        }
    };
    super::done(&path(id.as_str()), &notice)
}
