//! The tenants overview: one row per tenant, problems first, filtered and
//! sorted by the database a page at a time.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use hris_store::console::{TenantOverview, TenantQuery, TenantSort};
use maud::{Markup, html};

use super::auth::Viewer;
use super::form::{FormData, query};
use super::layout::{age, count_cell, duration, page as shell, short, state_badge};
use crate::api::Admin;

const PAGE_SIZE: i64 = 50;
const STATES: [&str; 4] = ["active", "unconnected", "paused", "disconnected"];

/// The request's filters, as the page's links repeat them.
struct Filters {
    state: Option<String>,
    search: Option<String>,
    problems_only: bool,
    sort: TenantSort,
    page: i64,
}

impl Filters {
    fn from_query(raw: Option<&str>) -> Self {
        let q = FormData::parse(raw.unwrap_or_default().as_bytes());
        Self {
            state: q
                .get("state")
                .filter(|s| STATES.contains(s))
                .map(str::to_owned),
            search: q.get("q").map(str::to_owned),
            problems_only: q.get("problems").is_some(),
            sort: q
                .get("sort")
                .and_then(TenantSort::parse)
                .unwrap_or_default(),
            page: q
                .get("page")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0)
                .max(0),
        }
    }

    fn link(&self, sort: TenantSort, page: i64) -> String {
        let page = page.to_string();
        let q = query(&[
            ("state", self.state.as_deref()),
            ("q", self.search.as_deref()),
            ("problems", self.problems_only.then_some("1")),
            ("sort", Some(sort.name())),
            ("page", Some(page.as_str()).filter(|p| *p != "0")),
        ]);
        format!("/console/tenants?{q}")
    }
}

pub async fn page(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let f = Filters::from_query(raw.as_deref());
    let q = TenantQuery {
        state: f.state.clone(),
        search: f.search.clone(),
        problems_only: f.problems_only,
        sort: f.sort,
        page: f.page,
        page_size: PAGE_SIZE,
    };
    let result = match admin.ctx.store.tenant_overview(&q).await {
        Ok(r) => r,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let pages = (result.total + PAGE_SIZE - 1) / PAGE_SIZE;
    let body = html! {
        h1 { "Tenants " span.muted { "(" (result.total) ")" } }
        (filter_form(&f))
        table #tenants {
            thead { tr {
                (header(&f, "Tenant", TenantSort::Id))
                (header(&f, "State", TenantSort::State))
                th { "Kombo" }
                th { "Last incremental" }
                (header(&f, "Last full", TenantSort::LastFull))
                (header(&f, "Lag", TenantSort::Lag))
                (header(&f, "Held", TenantSort::Held))
                th.num { "Conflicts" }
                (header(&f, "Dead letters", TenantSort::DeadLetters))
                th { "Last error" }
            } }
            tbody {
                @for t in &result.tenants { (row(t)) }
                @if result.tenants.is_empty() {
                    tr { td.muted colspan="10" { "No tenant matches." } }
                }
            }
        }
        div.pager {
            @if f.page > 0 { a #prev href=(f.link(f.sort, f.page - 1)) { "← previous" } }
            span.muted { "page " (f.page + 1) " of " (pages.max(1)) }
            @if f.page + 1 < pages { a #next href=(f.link(f.sort, f.page + 1)) { "next →" } }
        }
    };
    shell("Tenants", Some(&viewer), body).into_response()
}

fn filter_form(f: &Filters) -> Markup {
    html! {
        form.filters method="get" action="/console/tenants" {
            label { "Search" input #search type="search" name="q" value=[f.search.as_deref()] placeholder="id, name or integration"; }
            label { "State" select name="state" {
                option value="" { "any" }
                @for s in STATES { option value=(s) selected[f.state.as_deref() == Some(s)] { (s) } }
            } }
            label { "Sort" select name="sort" {
                @for s in TenantSort::ALL { option value=(s.name()) selected[f.sort == s] { (s.name().replace('_', " ")) } }
            } }
            label { span { input type="checkbox" name="problems" value="1" checked[f.problems_only]; " problems only" } }
            button type="submit" { "Filter" }
        }
    }
}

fn header(f: &Filters, title: &str, sort: TenantSort) -> Markup {
    let numeric = matches!(sort, TenantSort::Held | TenantSort::DeadLetters);
    html! {
        th class=[numeric.then_some("num")] {
            a href=(f.link(sort, 0)) { (title) @if f.sort == sort { " ▾" } }
        }
    }
}

fn kombo_health(t: &TenantOverview) -> Markup {
    html! {
        @if let Some(status) = &t.kombo_status { (state_badge(status)) " " }
        @if let Some(setup) = t.setup_status.as_deref().filter(|s| *s != "COMPLETED") { (state_badge(setup)) " " }
        @if t.data_expired_at.is_some() { span.badge.bad { "data expired" } " " }
        @if t.kombo_issues > 0 { span.badge.bad { (t.kombo_issues) " issue(s)" } }
        @if t.kombo_status.is_none() && t.kombo_issues == 0 { span.muted { "-" } }
    }
}

fn row(t: &TenantOverview) -> Markup {
    let href = format!("/console/tenants/{}", super::form::encode(t.id.as_str()));
    html! {
        tr class=[(t.problems > 0).then_some("problem")] data-tenant=(t.id) {
            td { a href=(href) { (t.id) } br; span.muted { (short(&t.name, 40)) } }
            td { (state_badge(&t.integration_state)) }
            td { (kombo_health(t)) }
            td { (age(t.last_incremental_at)) }
            td {
                (age(t.oldest_full_at))
                @if t.full_sync_overdue { " " span.badge.bad { "overdue" } }
            }
            td.num { (t.lag_seconds.map(|s| duration(s.max(0.0) as u64)).unwrap_or_else(|| "-".into())) }
            (count_cell(t.held))
            (count_cell(t.conflicts))
            (count_cell(t.dead_letters))
            td.err { @if let Some(e) = &t.last_error { (short(e, 60)) } }
        }
    }
}
