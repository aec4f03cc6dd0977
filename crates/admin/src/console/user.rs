//! One user, as `explain` tells it: current fields, every field's history
//! with its cause (job titles, status, …), team memberships, identity, and
//! the held changes and dead letters that concern them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use hris_store::explanation::Explanation;
use hris_types::TenantId;
use maud::{Markup, html};
use serde_json::Value;

use super::auth::Viewer;
use super::form::encode;
use super::layout::{age, page as shell, short, state_badge, time};
use super::tenant::name;
use crate::api::Admin;

/// A value longer than this (a whole record, when one was created) is cut,
/// whole on hover.
const VALUE_SHOWN: usize = 120;

/// The user page of `who` (a Kombo id or an email, what `explain` takes).
pub fn path(tenant: &str, who: &str) -> String {
    format!("{}/users/{}", super::tenant::path(tenant), encode(who))
}

pub async fn page(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    Path((tenant, who)): Path<(TenantId, String)>,
) -> Response {
    let store = &admin.ctx.store;
    let explained = match store.find_user(&tenant, &who).await {
        Ok(user) => store.explain_user(&tenant, user).await,
        Err(e) => Err(e),
    };
    let (e, held) = match explained {
        Ok(e) => match store.held_preview(&tenant).await {
            Ok(held) => (e, held),
            Err(err) => return super::store_failure(&viewer, &err),
        },
        Err(err) => return super::store_failure(&viewer, &err),
    };
    let held: Vec<_> = held
        .into_iter()
        .filter(|h| h.user_id == e.user.id)
        .collect();
    let u = &e.user;
    let title = name(u.first_name.as_deref(), u.last_name.as_deref());
    let body = html! {
        p { a href=(super::tenant::path(tenant.as_str())) { "← " (tenant) } }
        h1 { (title) " " (state_badge(&u.status)) }
        (facts(&e))
        h2 { "Field history (" (e.history.len()) ", oldest first)" }
        (history(&e))
        h2 { "Teams" }
        @if e.teams.is_empty() { p.muted { "No team." } } @else {
            table #teams {
                thead { tr { th { "Team" } th { "Source" } th { "Since" } } }
                tbody { @for t in &e.teams {
                    tr { td { (t.team_name.as_deref().or(t.team_kombo_id.as_deref()).unwrap_or("-")) }
                         td { (if t.source == "hris" { "HR system" } else { "manual (platform)" }) }
                         td { (age(Some(t.since))) } }
                } }
            }
        }
        h2 { "Held changes" }
        @if held.is_empty() { p.muted { "Nothing held for this person." } } @else {
            ul { @for h in &held { li { "Deactivation (" (h.reason) ") held: " (h.held_because) ", " (age(Some(h.held_at))) ". "
                a href=(format!("{}#held-changes", super::tenant::path(tenant.as_str()))) { "Decide on the tenant page" } } } }
        }
        h2 { "Dead letters of this tenant's employee sync" }
        @if e.dead_letters.is_empty() { p.muted { "None pending." } } @else {
            p.muted { "Dead letters are per fetch, not per person: these may hold this person's latest change." }
            ul { @for d in &e.dead_letters {
                li { a href=(format!("/console/dead-letters/{}", d.id)) { "#" (d.id) } " " (d.letter.error_class) " "
                     (d.letter.error_code.as_deref().unwrap_or(&d.letter.reason)) ", " (age(Some(d.archived_at))) }
            } }
        }
        @if !e.record_issues.is_empty() {
            h2 { "Open record issues" }
            ul { @for i in &e.record_issues { li { (i.severity) " " (i.entity) " (" (i.stage) "): " (i.reason) } } }
        }
    };
    shell(&title, Some(&viewer), body).into_response()
}

fn facts(e: &Explanation) -> Markup {
    let u = &e.user;
    html! {
        dl.facts #user-facts {
            dt { "User id" } dd { (u.id) }
            dt { "Kombo id" } dd { (u.kombo_id.as_deref().unwrap_or("— created by the platform")) }
            dt { "Status" } dd { (u.status) @if let Some(r) = &u.deactivation_reason { " — " (r) } }
            dt { "Email" } dd { (u.email.as_deref().unwrap_or("-")) " (" (u.email_status) ")" }
            dt { "Job title" } dd #job-title { (u.job_title.as_deref().unwrap_or("-")) }
            dt { "HR status" } dd { (u.employment_status.as_deref().unwrap_or("-")) }
            dt { "Hire / leave" } dd { (opt(u.hire_date)) " / " (opt(u.leave_date)) }
            dt { "Manager" } dd { (u.manager_kombo_id.as_deref().unwrap_or("-")) }
            dt { "Primary team" } dd { (u.primary_team.as_deref().unwrap_or("-")) }
            dt { "Location" } dd { (u.location.as_deref().unwrap_or("-")) }
            dt { "Deleted in HR" } dd { (time(u.remote_deleted_at)) }
            @if let Some(reason) = &u.pending_deactivation_reason {
                dt { "Pending" } dd.err { "deactivation (" (reason) ") at " (time(u.pending_deactivation_at)) ", unless the person comes back" }
            }
            @if let Some(evidence) = &u.deactivation_evidence { dt { "Evidence" } dd { code { (evidence) } } }
            @for m in &e.emails {
                dt { "Email seen" } dd { (m.email) " (" (m.replaced_at.map(|t| format!("until {}", time(Some(t)))).unwrap_or_else(|| "current".into())) "; " (m.why) ")" }
            }
            @for l in &e.linked_records {
                dt { "HR record" } dd { (l.kombo_id) " (by " (l.linked_by) ", " (l.unlinked_at.map(|t| format!("until {}", time(Some(t)))).unwrap_or_else(|| "current".into())) ")" }
            }
            @for c in &e.identity_conflicts {
                dt { "Conflict" } dd.err { "#" (c.id) " record " (c.kombo_id) " " (c.kind) }
            }
            dt { "Last change" } dd { (age(Some(u.updated_at))) " (Kombo changed_at " (time(u.kombo_changed_at)) ")" }
        }
    }
}

fn history(e: &Explanation) -> Markup {
    html! {
        table #history {
            thead { tr { th { "When" } th { "Field" } th { "Old" } th { "New" } th { "Cause" } } }
            tbody { @for h in &e.history {
                tr data-field=(h.field) {
                    td.nowrap { (h.changed_at.format("%Y-%m-%d %H:%M:%S")) }
                    td.nowrap { (h.field) }
                    td { (short(&show(h.old_value.as_ref()), VALUE_SHOWN)) }
                    td { (short(&show(h.new_value.as_ref()), VALUE_SHOWN)) }
                    td { (h.sync_run.as_deref().unwrap_or("-")) @if let Some(ev) = &h.cause_event_id { span.muted { ", " (ev) } } }
                }
            } }
        }
    }
}

fn opt(d: Option<chrono::NaiveDate>) -> String {
    d.map(|d| d.to_string()).unwrap_or_else(|| "-".to_owned())
}

fn show(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "∅".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}
