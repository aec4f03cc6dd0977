//! Dead letters, grouped by error class × Kombo code × entity, with the
//! letters of a filter and one letter in full.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use hris_store::DeadLetterFilter;
use hris_store::console::DeadLetterKind;
use hris_store::dead_letters::NONE;
use hris_types::TenantId;
use maud::{Markup, html};

use super::auth::Viewer;
use super::form::{FormData, query};
use super::layout::{age, csrf_field, notice, page as shell, short, state_badge, time};
use crate::api::Admin;

/// How many letters of a filter are listed.
const LETTERS_SHOWN: i64 = 100;
const STATES: [&str; 3] = ["pending", "replayed", "purged"];
const CLASSES: [&str; 4] = ["retryable", "not_ready", "permanent", "poison"];

/// The console's dead-letter filter, as its forms and links carry it.
#[derive(Debug, Clone, Default)]
pub(super) struct LetterFilter {
    pub state: String,
    pub class: Option<String>,
    pub code: Option<String>,
    pub entity: Option<String>,
    pub tenant: Option<String>,
}

impl LetterFilter {
    /// From a query or form; the state defaults to pending.
    pub fn from_form(form: &FormData) -> Self {
        let own = |name: &str| form.get(name).map(str::to_owned);
        Self {
            state: form
                .get("state")
                .filter(|s| STATES.contains(s))
                .unwrap_or("pending")
                .to_owned(),
            class: own("class"),
            code: own("code"),
            entity: own("entity"),
            tenant: own("tenant"),
        }
    }

    pub fn store_filter(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            state: Some(self.state.clone()),
            error_class: self.class.clone(),
            error_code: self.code.clone(),
            entity: self.entity.clone(),
            tenant_id: self.tenant.clone().map(TenantId::from),
            ..DeadLetterFilter::default()
        }
    }

    fn of_kind(&self, kind: &DeadLetterKind) -> Self {
        Self {
            class: Some(kind.error_class.clone()),
            code: Some(kind.error_code.clone().unwrap_or_else(|| NONE.to_owned())),
            entity: Some(kind.entity.clone().unwrap_or_else(|| NONE.to_owned())),
            ..self.clone()
        }
    }

    pub fn query(&self) -> String {
        query(&[
            ("state", Some(&self.state)),
            ("class", self.class.as_deref()),
            ("code", self.code.as_deref()),
            ("entity", self.entity.as_deref()),
            ("tenant", self.tenant.as_deref()),
        ])
    }

    /// Narrowed beyond the state: the letters themselves are listed.
    fn narrows(&self) -> bool {
        self.class.is_some()
            || self.code.is_some()
            || self.entity.is_some()
            || self.tenant.is_some()
    }

    pub fn hidden_fields(&self) -> Markup {
        html! {
            input type="hidden" name="state" value=(self.state);
            @if let Some(v) = &self.class { input type="hidden" name="class" value=(v); }
            @if let Some(v) = &self.code { input type="hidden" name="code" value=(v); }
            @if let Some(v) = &self.entity { input type="hidden" name="entity" value=(v); }
            @if let Some(v) = &self.tenant { input type="hidden" name="tenant" value=(v); }
        }
    }

    /// "permanent · INTEGRATION.AUTHENTICATION_INVALID · employees · tenant acme".
    pub fn describe(&self) -> String {
        let mut parts = vec![self.state.clone()];
        parts.extend(self.class.clone());
        parts.extend(
            self.code
                .clone()
                .map(|c| if c == NONE { "no code".into() } else { c }),
        );
        parts.extend(
            self.entity
                .clone()
                .map(|e| if e == NONE { "no entity".into() } else { e }),
        );
        parts.extend(self.tenant.as_ref().map(|t| format!("tenant {t}")));
        parts.join(" · ")
    }
}

pub async fn page(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let form = FormData::parse(raw.unwrap_or_default().as_bytes());
    let f = LetterFilter::from_form(&form);
    let store = &admin.ctx.store;
    let filter = f.store_filter();
    let loaded = tokio::try_join!(store.dead_letter_kinds(&filter), async {
        if f.narrows() {
            store.dead_letters(&filter, LETTERS_SHOWN).await
        } else {
            Ok(Vec::new())
        }
    });
    let (kinds, letters) = match loaded {
        Ok(x) => x,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let pending = f.state == "pending";
    let body = html! {
        (notice(form.get("notice")))
        h1 { "Dead letters " span.muted { "(" (kinds.iter().map(|k| k.count).sum::<i64>()) " " (f.state) ")" } }
        (filter_form(&f))
        table #groups {
            thead { tr {
                th { "Class" } th { "Kombo code" } th { "Entity" } th.num { "Count" } th.num { "Tenants" }
                th { "First seen" } th { "Last seen" } th { "Example" } th { "" }
            } }
            tbody {
                @for k in &kinds { (group_row(&viewer, &f, k, pending)) }
                @if kinds.is_empty() { tr { td.muted colspan="9" { "No dead letter matches." } } }
            }
        }
        @if f.narrows() {
            h2 { "Letters: " (f.describe()) }
            (letters_table(&viewer, &f, &letters, pending))
        }
    };
    shell("Dead letters", Some(&viewer), body).into_response()
}

fn filter_form(f: &LetterFilter) -> Markup {
    html! {
        form.filters method="get" action="/console/dead-letters" {
            label { "State" select name="state" { @for s in STATES { option value=(s) selected[f.state == s] { (s) } } } }
            label { "Class" select name="class" {
                option value="" { "any" }
                @for c in CLASSES { option value=(c) selected[f.class.as_deref() == Some(c)] { (c) } }
            } }
            label { "Kombo code" input type="text" name="code" value=[f.code.as_deref()]; }
            label { "Entity" input type="text" name="entity" value=[f.entity.as_deref()]; }
            label { "Tenant" input type="text" name="tenant" value=[f.tenant.as_deref()]; }
            button type="submit" { "Filter" }
        }
    }
}

fn group_row(viewer: &Viewer, f: &LetterFilter, k: &DeadLetterKind, pending: bool) -> Markup {
    let group = f.of_kind(k).query();
    html! {
        tr.group data-class=(k.error_class) data-code=(k.error_code.as_deref().unwrap_or(NONE)) {
            td { (k.error_class) }
            td { (k.error_code.as_deref().unwrap_or("-")) }
            td { (k.entity.as_deref().unwrap_or("-")) }
            td.num { (k.count) }
            td.num { (k.tenants) }
            td { (age(Some(k.first_seen))) }
            td { (age(Some(k.last_seen))) }
            td { (short(&k.example_reason, 70)) }
            td {
                a href=(format!("/console/dead-letters?{group}")) { "letters" }
                @if viewer.can_write() && pending {
                    " · " a.replay href=(format!("/console/dead-letters/replay?{group}")) { "replay…" }
                    " · " a.purge href=(format!("/console/dead-letters/purge?{group}")) { "purge…" }
                }
            }
        }
    }
}

fn letters_table(
    viewer: &Viewer,
    f: &LetterFilter,
    letters: &[hris_store::DeadLetter],
    pending: bool,
) -> Markup {
    let selectable = viewer.can_write() && pending;
    let table = html! {
        table #letters {
            thead { tr {
                @if selectable { th { "" } }
                th { "Id" } th { "Tenant" } th { "Entity" } th { "Class" } th { "Code or reason" } th.num { "Tries" } th { "Archived" } th { "State" }
            } }
            tbody { @for d in letters {
                tr {
                    @if selectable { td { input type="checkbox" name="id" value=(d.id); } }
                    td { a href=(format!("/console/dead-letters/{}", d.id)) { "#" (d.id) } }
                    td { (d.letter.tenant_id.as_ref().map_or("-", TenantId::as_str)) }
                    td { (d.letter.entity.as_deref().unwrap_or("-")) }
                    td { (d.letter.error_class) }
                    td { (short(d.letter.error_code.as_deref().unwrap_or(&d.letter.reason), 70)) }
                    td.num { (d.letter.attempts) }
                    td { (age(Some(d.archived_at))) }
                    td { (state_badge(&d.state)) }
                }
            } }
        }
    };
    if !selectable {
        return table;
    }
    html! {
        form method="post" action="/console/dead-letters/replay" {
            (csrf_field(viewer))
            (f.hidden_fields())
            input type="hidden" name="selected" value="1";
            p { button #replay-selected type="submit" { "Replay selected" } }
            (table)
        }
    }
}

pub async fn show(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    Path(id): Path<i64>,
) -> Response {
    let store = &admin.ctx.store;
    let letter = match store.dead_letter(id).await {
        Ok(l) => l,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let effect = hris_worker::replay::replay_effect(store, &letter).await;
    let l = &letter.letter;
    let body = html! {
        p { a href="/console/dead-letters" { "← Dead letters" } }
        h1 { "Dead letter #" (letter.id) " " (state_badge(&letter.state)) }
        dl.facts {
            dt { "Message id" } dd { (l.message_id.as_deref().unwrap_or("-")) }
            dt { "Tenant" } dd { @if let Some(t) = &l.tenant_id { a href=(super::tenant::path(t.as_str())) { (t) } } @else { "-" } }
            dt { "Integration" } dd { (l.integration_id.as_deref().unwrap_or("-")) }
            dt { "Entity" } dd { (l.entity.as_deref().unwrap_or("-")) }
            dt { "Routing key" } dd { (l.routing_key) }
            dt { "Reason" } dd { (l.reason) }
            dt { "Error class" } dd { (l.error_class) }
            dt { "Error code" } dd { (l.error_code.as_deref().unwrap_or("-")) }
            dt { "Kombo message" } dd { (l.error_message.as_deref().unwrap_or("-")) }
            dt { "Kombo log" } dd { @if let Some(u) = &l.log_url { a href=(u) { (u) } } @else { "-" } }
            dt { "Attempts" } dd { (l.attempts) }
            dt { "First / last failure" } dd { (time(l.first_failed_at)) " / " (time(l.last_failed_at)) }
            dt { "Archived" } dd { (time(Some(letter.archived_at))) }
            @if letter.replay_count > 0 {
                dt { "Replayed" } dd { (letter.replay_count) " time(s), last " (time(letter.replayed_at)) " by " (letter.replayed_by.as_deref().unwrap_or("-")) }
            }
            @if letter.state == "purged" { dt { "Purged" } dd { (time(letter.purged_at)) " by " (letter.purged_by.as_deref().unwrap_or("-")) } }
            dt { "Replaying would" } dd #effect { (effect) }
        }
        h2 { "Error chain" }
        ul { @for part in letter.detail().unwrap_or(&l.reason).split(": ") { li { (part) } } }
        h2 { "Payload" }
        pre { (String::from_utf8_lossy(&l.payload)) }
        @if viewer.can_write() && letter.state == "pending" {
            form method="post" action="/console/dead-letters/replay" {
                (csrf_field(&viewer))
                input type="hidden" name="id" value=(letter.id);
                input type="hidden" name="selected" value="1";
                button type="submit" { "Replay this letter" }
            }
        }
    };
    shell(&format!("Dead letter {id}"), Some(&viewer), body).into_response()
}
