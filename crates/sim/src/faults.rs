//! Per-integration fault injection: what share of requests fail, and how.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Share of requests answered 429 `PLATFORM.RATE_LIMIT_EXCEEDED` with `Retry-After`.
    pub rate_429: f64,
    /// Seconds sent in `Retry-After` with a 429.
    pub retry_after_secs: u64,
    /// Share answered 503 `REMOTE.SERVICE_UNAVAILABLE`.
    pub rate_503: f64,
    /// Share answered 200 with the body cut short.
    pub rate_truncated: f64,
    /// Share answered 200 with a body that is not JSON at all.
    pub rate_malformed: f64,
    /// Delay before every answer.
    pub slow_ms: u64,
    /// Every request fails with this Kombo error code (a revoked key, say).
    pub error_code: Option<String>,
    /// The `error.message` sent with `error_code` (default "Injected failure.").
    pub error_message: Option<String>,
    /// Listings hand back the cursor they were asked for as `next`: a broken
    /// pagination that would serve the same page forever.
    pub cursor_loop: bool,
    /// Listings cycle between their first two cursors: the second page's
    /// `next` is the first page's again (A → B → A), a loop no check of the
    /// last cursor alone would see.
    pub cursor_cycle: bool,
    /// Odd bytes in records, as an HR system can hold them: by record id, by
    /// field, the raw JSON text served in place of the field's value (e.g.
    /// `"\u0000"`, `"\ud800"`, `42`, `{}`). Raw text, because some of what
    /// real systems send (a lone surrogate) has no `serde_json::Value`.
    pub corrupt: BTreeMap<String, BTreeMap<String, String>>,
}

/// Serves `page` as JSON with the raw field values of `corrupt` spliced into
/// the records they name.
pub fn render_corrupted(
    page: serde_json::Value,
    corrupt: &BTreeMap<String, BTreeMap<String, String>>,
) -> Vec<u8> {
    let mut page = page;
    let mut raws = Vec::new();
    if let Some(results) = page
        .pointer_mut("/data/results")
        .and_then(serde_json::Value::as_array_mut)
    {
        for record in results.iter_mut() {
            let Some(fields) = record
                .get("id")
                .and_then(serde_json::Value::as_str)
                .and_then(|id| corrupt.get(id))
            else {
                continue;
            };
            for (field, raw) in fields {
                let marker = format!("__sim_raw_{}__", raws.len());
                record[field.as_str()] = serde_json::Value::String(marker.clone());
                raws.push((format!("\"{marker}\""), raw.clone()));
            }
        }
    }
    let mut text = serde_json::to_string(&page).unwrap_or_default();
    for (marker, raw) in raws {
        text = text.replacen(&marker, &raw, 1);
    }
    text.into_bytes()
}

/// What to do with one request.
#[derive(Debug, Clone, PartialEq)]
pub enum Injected {
    None,
    RateLimited { retry_after: u64 },
    Unavailable,
    Truncated,
    Malformed,
    Error { code: String },
}

impl Faults {
    pub fn delay(&self) -> Option<Duration> {
        (self.slow_ms > 0).then(|| Duration::from_millis(self.slow_ms))
    }

    pub fn draw(&self, rng: &mut impl Rng) -> Injected {
        if let Some(code) = &self.error_code {
            return Injected::Error { code: code.clone() };
        }
        let roll: f64 = rng.random();
        let mut edge = self.rate_429;
        if roll < edge {
            return Injected::RateLimited {
                retry_after: self.retry_after_secs,
            };
        }
        edge += self.rate_503;
        if roll < edge {
            return Injected::Unavailable;
        }
        edge += self.rate_truncated;
        if roll < edge {
            return Injected::Truncated;
        }
        edge += self.rate_malformed;
        if roll < edge {
            return Injected::Malformed;
        }
        Injected::None
    }
}

/// The HTTP status Kombo uses for an error code.
pub fn status_for(code: &str) -> u16 {
    match code {
        "PLATFORM.RATE_LIMIT_EXCEEDED"
        | "REMOTE.RATE_LIMIT_EXCEEDED"
        | "PLATFORM.CONCURRENCY_LIMIT_EXCEEDED" => 429,
        "REMOTE.SERVICE_UNAVAILABLE" => 503,
        "PLATFORM.AUTHENTICATION_INVALID" => 401,
        "INTEGRATION.AUTHENTICATION_INVALID"
        | "INTEGRATION.PERMISSION_MISSING"
        | "PLATFORM.IP_NOT_WHITELISTED" => 403,
        "PLATFORM.INTEGRATION_NOT_FOUND" => 404,
        "INTEGRATION.SETUP_SYNC_PENDING" => 409,
        "PLATFORM.TASK_TIMED_OUT" => 504,
        "PLATFORM.UNKNOWN_ERROR" | "REMOTE.UNKNOWN_HTTP_ERROR" => 500,
        _ => 400,
    }
}
