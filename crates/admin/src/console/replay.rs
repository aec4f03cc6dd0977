//! Replay and purge from the console: a confirmation page previews how many
//! letters a filter (or a selection) takes, the POST acts on at most that
//! many, through `hris_worker::replay` (what `hris-sync dlq replay|purge`
//! runs), paced, one replay at a time, audited with the console's actor.

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::auth::Viewer;
use super::dead_letters::LetterFilter;
use super::form::FormData;
use super::layout::{csrf_field, page as shell};
use crate::api::Admin;

/// Letters published a second (the CLI's default `--rate`).
const REPLAY_PER_SECOND: f64 = 50.0;
/// The most one click replays: ten seconds at that pace, well inside the
/// admin role's request timeout. More takes more clicks (or the CLI).
const REPLAY_MAX: i64 = 500;
/// The most one click purges.
const PURGE_MAX: i64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Action {
    Replay,
    Purge,
}

impl Action {
    fn path(self) -> &'static str {
        match self {
            Action::Replay => "/console/dead-letters/replay",
            Action::Purge => "/console/dead-letters/purge",
        }
    }

    fn max(self) -> i64 {
        match self {
            Action::Replay => REPLAY_MAX,
            Action::Purge => PURGE_MAX,
        }
    }
}

pub async fn confirm_replay(v: Viewer, s: State<Arc<Admin>>, q: RawQuery) -> Response {
    confirm(Action::Replay, v, s, q).await
}

pub async fn confirm_purge(v: Viewer, s: State<Arc<Admin>>, q: RawQuery) -> Response {
    confirm(Action::Purge, v, s, q).await
}

/// The preview: how many pending letters the filter takes, and the button.
async fn confirm(
    action: Action,
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    RawQuery(raw): RawQuery,
) -> Response {
    let mut f = LetterFilter::from_form(&FormData::parse(raw.unwrap_or_default().as_bytes()));
    f.state = "pending".into();
    let count = match admin.ctx.store.count_dead_letters(&f.store_filter()).await {
        Ok(n) => n,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let taken = count.min(action.max());
    let body = html! {
        p { a href=(format!("/console/dead-letters?{}", f.query())) { "← back" } }
        @match action {
            Action::Replay => h1 { "Replay dead letters" },
            Action::Purge => h1 { "Purge dead letters" },
        }
        p #preview { strong #preview-count { (count) } " pending dead letter(s) match: " (f.describe()) "." }
        @if taken < count { p.err { "One click takes the first " (taken) "; click again for the rest." } }
        @match action {
            Action::Replay => p { "Each is published again through the normal path, "
                (REPLAY_PER_SECOND) " a second; the worker fetches from the watermark, so replaying twice is harmless." },
            Action::Purge => p.err { "Purging drops their payloads (personal data) for good; the rows and an audit record stay." },
        }
        @if !viewer.can_write() {
            p.muted { "Read-only: only the admin token may act." }
        } @else if count > 0 {
            form method="post" action=(action.path()) {
                (csrf_field(&viewer))
                (f.hidden_fields())
                input type="hidden" name="expected" value=(taken);
                @if action == Action::Purge {
                    p { label { input #confirm type="checkbox" name="confirm" value="yes"; " I understand the payloads are gone for good" } }
                    button.danger #confirm-purge type="submit" { "Purge " (taken) }
                } @else {
                    button #confirm-replay type="submit" { "Replay " (taken) }
                }
            }
        }
    };
    shell("Confirm", Some(&viewer), body).into_response()
}

/// The letters a POST acts on: the ticked ones (pending), else the filter's,
/// at most as many as the preview showed.
async fn chosen(
    admin: &Admin,
    form: &FormData,
    action: Action,
) -> Result<(LetterFilter, Vec<hris_store::DeadLetter>), hris_store::StoreError> {
    let mut f = LetterFilter::from_form(form);
    f.state = "pending".into();
    let mut filter = f.store_filter();
    let limit = if form.get("selected").is_some() {
        filter.ids = form
            .all("id")
            .iter()
            .filter_map(|id| id.parse().ok())
            .collect();
        if filter.ids.is_empty() {
            return Ok((f, Vec::new()));
        }
        action.max()
    } else {
        form.get("expected")
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(0)
            .clamp(0, action.max())
    };
    let letters = admin.ctx.store.dead_letters(&filter, limit).await?;
    Ok((f, letters))
}

pub async fn replay(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    let Ok(_turn) = admin.replaying.try_lock() else {
        return super::done(
            "/console/dead-letters",
            "Another replay is running; try again when it is done.",
        );
    };
    let (f, letters) = match chosen(&admin, &form, Action::Replay).await {
        Ok(x) => x,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let actor = viewer.access.actor();
    let report = hris_worker::replay::replay(
        &admin.ctx.store,
        &admin.ctx.publisher,
        &letters,
        REPLAY_PER_SECOND,
        actor,
        || {},
    )
    .await;
    let notice = match report {
        Ok(r) if r.skipped.is_empty() => format!(
            "Replayed {} ({}) as {actor}.",
            r.replayed.len(),
            f.describe()
        ),
        Ok(r) => format!(
            "Replayed {}; {} not replayed, their payload is no readable message (purge them).",
            r.replayed.len(),
            r.skipped.len()
        ),
        Err(e) => {
            tracing::warn!(error = %e, "console: replay stopped");
            format!("Replay stopped: {e}")
        }
    };
    super::done("/console/dead-letters", &notice)
}

pub async fn purge(
    viewer: Viewer,
    State(admin): State<Arc<Admin>>,
    body: axum::body::Bytes,
) -> Response {
    let form = FormData::parse(&body);
    if form.get("confirm") != Some("yes") {
        return super::done(
            "/console/dead-letters",
            "Nothing purged: tick the confirmation first.",
        );
    }
    let (f, letters) = match chosen(&admin, &form, Action::Purge).await {
        Ok(x) => x,
        Err(e) => return super::store_failure(&viewer, &e),
    };
    let actor = viewer.access.actor();
    match hris_worker::replay::purge(&admin.ctx.store, &letters, actor).await {
        Ok(ids) => super::done(
            "/console/dead-letters",
            &format!("Purged {} ({}) as {actor}.", ids.len(), f.describe()),
        ),
        Err(e) => super::store_failure(&viewer, &e),
    }
}
