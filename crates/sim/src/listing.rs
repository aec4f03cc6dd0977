//! Listing: the filters every endpoint shares, and cursor pagination over
//! records ordered by id (the cursor is the last id served, base64url).

// Handlers return the error `Response` itself; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, HashMap};

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hris_kombo::envelope::Page;

use crate::api::error;
use crate::company::SimRecord;

pub type Params = HashMap<String, String>;

/// Listing filters common to every endpoint.
#[derive(Clone)]
pub struct Filters {
    pub page_size: usize,
    pub after_id: Option<String>,
    updated_after: Option<DateTime<Utc>>,
    include_deleted: bool,
    ids: Option<Vec<String>>,
    remote_ids: Option<Vec<String>>,
}

pub fn list_param(params: &Params, name: &str) -> Option<Vec<String>> {
    params.get(name).map(|v| {
        v.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

pub fn parse_filters(params: &Params) -> Result<Filters, Response> {
    let page_size = match params.get("page_size") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=250).contains(&n) => n,
            _ => {
                return Err(error(
                    "PLATFORM.INPUT_INVALID",
                    "page_size must be an integer from 1 to 250.",
                ));
            }
        },
    };
    let after_id = match params.get("cursor") {
        None => None,
        Some(c) => Some(
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| error("PLATFORM.INPUT_INVALID", "The cursor is invalid."))?,
        ),
    };
    let updated_after = match params.get("updated_after") {
        None => None,
        Some(v) => Some(
            DateTime::parse_from_rfc3339(v)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|_| {
                    error(
                        "PLATFORM.INPUT_INVALID",
                        "updated_after must be YYYY-MM-DDTHH:mm:ss.sssZ.",
                    )
                })?,
        ),
    };
    let include_deleted = match params.get("include_deleted").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(error(
                "PLATFORM.INPUT_INVALID",
                "include_deleted must be true or false.",
            ));
        }
    };
    Ok(Filters {
        page_size,
        after_id,
        updated_after,
        include_deleted,
        ids: list_param(params, "ids"),
        remote_ids: list_param(params, "remote_ids"),
    })
}

/// One page of `records` (ordered by id) that pass the filters and `extra`.
pub fn page<R: SimRecord, T>(
    records: &BTreeMap<String, R>,
    filters: &Filters,
    extra: impl Fn(&R) -> bool,
    render: impl Fn(&R) -> T,
) -> Page<T> {
    let start = match &filters.after_id {
        Some(after) => records
            .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded)),
        None => records.range::<String, _>(..),
    };
    let mut results = Vec::with_capacity(filters.page_size);
    let mut last = None;
    let mut more = false;
    for (_, r) in start {
        let pass = (filters.include_deleted || r.deleted_at().is_none())
            && filters
                .updated_after
                .is_none_or(|after| r.updated_at() > after)
            && filters
                .ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == r.id()))
            && filters
                .remote_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i == r.remote_id()))
            && extra(r);
        if !pass {
            continue;
        }
        if results.len() == filters.page_size {
            more = true;
            break;
        }
        last = Some(r.id().to_owned());
        results.push(render(r));
    }
    Page {
        next: if more {
            last.map(|id| URL_SAFE_NO_PAD.encode(id))
        } else {
            None
        },
        results,
    }
}
