//! The page shell (navigation, who is looking, the style sheet) and the
//! small pieces every page uses: ages, badges, forms with their CSRF token.

use chrono::{DateTime, SecondsFormat, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::auth::Viewer;

const STYLE: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
header{background:#1f2933;color:#fff;padding:.6rem 1.5rem;display:flex;gap:1.5rem;align-items:center}
header a{color:#cbd2d9;text-decoration:none;font-weight:500}
header a.brand{color:#fff;font-weight:700;margin-right:1rem}
header .who{margin-left:auto;display:flex;gap:.75rem;align-items:center;color:#9aa5b1}
main{padding:1.25rem 1.5rem;max-width:1500px}
h1{font-size:1.35rem;margin:.2rem 0 1rem}
h2{font-size:1.05rem;margin:1.6rem 0 .6rem}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e4e7eb}
th,td{text-align:left;padding:.38rem .6rem;border-bottom:1px solid #e4e7eb;vertical-align:top;overflow-wrap:anywhere}
.nowrap{white-space:nowrap}
th{background:#f0f4f8;font-weight:600;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#52606d}
th a{color:inherit}
tr.problem td:first-child{border-left:3px solid #e12d39}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
a{color:#2680c2}
.muted{color:#7b8794}
.err{color:#ab091e}
.badge{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:12px;font-weight:600;background:#e4e7eb;color:#3e4c59}
.badge.ok{background:#e3f9e5;color:#05400a}
.badge.warn{background:#fffbea;color:#8d2b0b}
.badge.bad{background:#ffe3e3;color:#8a041a}
.cards{display:flex;gap:1rem;flex-wrap:wrap;margin-bottom:1rem}
.card{background:#fff;border:1px solid #e4e7eb;padding:.6rem .9rem;min-width:150px}
.card b{display:block;font-size:1.3rem}
form.inline{display:inline}
.filters{display:flex;gap:.6rem;align-items:end;flex-wrap:wrap;margin-bottom:.9rem}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#52606d}
input,select,button{font:inherit;padding:.25rem .45rem;border:1px solid #cbd2d9;border-radius:3px;background:#fff}
button{background:#2680c2;color:#fff;border-color:#2680c2;cursor:pointer}
button.danger{background:#cf1124;border-color:#cf1124}
button.secondary{background:#fff;color:#1f2933}
.notice{background:#e3f9e5;border:1px solid #91e697;padding:.5rem .8rem;margin-bottom:1rem}
.pager{margin:.7rem 0;display:flex;gap:1rem;align-items:center}
pre{background:#fff;border:1px solid #e4e7eb;padding:.6rem;white-space:pre-wrap;word-break:break-all}
dl.facts{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem;background:#fff;border:1px solid #e4e7eb;padding:.7rem 1rem}
dl.facts dt{color:#52606d}
dl.facts dd{margin:0}
"#;

/// A whole page: `title`, the navigation and `viewer`'s access, `body`.
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · hris-sync console" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    a.brand href="/console/tenants" { "hris-sync" }
                    @if viewer.is_some() {
                        a href="/console/tenants" { "Tenants" }
                        a href="/console/dead-letters" { "Dead letters" }
                    }
                    @if let Some(viewer) = viewer {
                        span.who {
                            span #access { (viewer.access.label()) }
                            form.inline method="post" action="/console/logout" {
                                (csrf_field(viewer))
                                button.secondary type="submit" { "Log out" }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// The hidden CSRF field every form carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! {
        @if let Some(token) = &viewer.csrf {
            input type="hidden" name="csrf" value=(token);
        }
    }
}

/// "3 min ago" with the exact time on hover; "never" for none.
pub fn age(t: Option<DateTime<Utc>>) -> Markup {
    match t {
        None => html! { span.muted { "never" } },
        Some(t) => html! {
            span title=(t.to_rfc3339_opts(SecondsFormat::Secs, true)) { (ago(t)) }
        },
    }
}

pub fn ago(t: DateTime<Utc>) -> String {
    let secs = (Utc::now() - t).num_seconds();
    let span = duration(secs.unsigned_abs());
    if secs < 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// Seconds as the largest unit that fits: "45 s", "12 min", "3 h", "2 d".
pub fn duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s if s < 2 * 86400 => format!("{} h", s / 3600),
        s => format!("{} d", s / 86400),
    }
}

pub fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true))
        .unwrap_or_else(|| "-".to_owned())
}

/// An integration or run state as a coloured badge.
pub fn state_badge(state: &str) -> Markup {
    let class = match state {
        "active" | "succeeded" | "ACTIVE" | "COMPLETED" | "replayed" => "badge ok",
        "paused" | "running" | "pending" | "partial" | "unconnected" | "INCOMPLETE"
        | "FINAL_SYNC_PENDING" => "badge warn",
        "disconnected" | "failed" | "INVALID" | "INACTIVE" | "deactivated" => "badge bad",
        _ => "badge",
    };
    html! { span class=(class) { (state) } }
}

/// A count that is a problem when it is not zero.
pub fn count_cell(n: i64) -> Markup {
    html! {
        td.num { @if n > 0 { span.badge.bad { (n) } } @else { span.muted { "0" } } }
    }
}

/// A notice carried by a redirect after an action (`?notice=`).
pub fn notice(text: Option<&str>) -> Markup {
    html! { @if let Some(text) = text { div.notice #notice { (text) } } }
}

/// Text cut to `max` characters, whole on hover.
pub fn short(text: &str, max: usize) -> Markup {
    if text.chars().count() <= max {
        return html! { (text) };
    }
    let cut: String = text.chars().take(max).collect();
    html! { span title=(text) { (cut) "…" } }
}
