//! A reqwest client for Kombo's HRIS read endpoints and the few actions we call.
//!
//! Listings are streams of pages: each page is fetched with a short in-process
//! retry (backon) for retryable errors, honouring `Retry-After` up to a cap; past
//! the cap, or on a permanent error, the error is returned to the caller, whose
//! retry layer (delay queues) takes over. Nothing here retries forever.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use futures::Stream;
use reqwest::header::{AUTHORIZATION, HeaderMap, RETRY_AFTER};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

use crate::decode::{RecordPage, decode, decode_page};
use crate::envelope::{
    CreateLinkRequest, CreateLinkResponse, ErrorBody, ErrorEnvelope, ForceSyncResponse,
    SuccessEnvelope,
};
use crate::error::{ErrorClass, KomboError};
use crate::query::{Endpoint, ListQuery, MAX_PAGE_SIZE};
use crate::records::Record;
use crate::repair::repair_lone_surrogates;

/// Header naming the integration a request is about.
pub const INTEGRATION_HEADER: &str = "X-Integration-Id";

#[derive(Debug, Clone)]
pub struct KomboClientConfig {
    /// Includes `/v1`, e.g. `https://api.kombo.dev/v1`.
    pub base_url: String,
    /// Printed as `[REDACTED]` by `Debug`.
    pub api_key: SecretString,
    /// Whole-request timeout (connect, send, read the body).
    pub timeout: Duration,
    pub page_size: u32,
    /// In-process retries per page before the error goes to the caller.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// A `Retry-After` longer than this is not waited out in-process.
    pub max_in_process_wait: Duration,
    /// Pages one listing may have before it is taken for a runaway (250 records
    /// a page: the default allows 2.5 million people).
    pub max_pages: usize,
}

impl KomboClientConfig {
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Self {
        Self {
            base_url: base_url.into(),
            api_key: SecretString::from(api_key.into()),
            timeout: Duration::from_secs(30),
            page_size: MAX_PAGE_SIZE,
            max_retries: 4,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
            max_in_process_wait: Duration::from_secs(10),
            max_pages: 10_000,
        }
    }
}

/// Where a listing is: the next cursor, every cursor seen so far.
struct Listing {
    cursor: Option<String>,
    seen: HashSet<String>,
    pages: usize,
    done: bool,
}

#[derive(Clone, Debug)]
pub struct KomboClient {
    http: reqwest::Client,
    config: KomboClientConfig,
}

impl KomboClient {
    pub fn new(config: KomboClientConfig) -> Result<Self, KomboError> {
        if config.base_url.trim().is_empty() {
            return Err(KomboError::Config("KOMBO_API_URL is empty".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(Duration::from_secs(5).min(config.timeout))
            .pool_max_idle_per_host(32)
            .build()
            .map_err(|e| KomboError::Config(format!("HTTP client: {e}")))?;
        Ok(Self { http, config })
    }

    pub fn config(&self) -> &KomboClientConfig {
        &self.config
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url.trim_end_matches('/'), path)
    }

    /// Streams every page of `endpoint` matching `query`, in Kombo's order.
    /// Each record is decoded on its own (see [`RecordPage`]). The listing ends
    /// with a permanent error when Kombo repeats a cursor or passes the page cap.
    pub fn list<T: Record>(
        &self,
        integration_id: &str,
        endpoint: Endpoint,
        query: ListQuery,
    ) -> impl Stream<Item = Result<RecordPage<T>, KomboError>> + Send + 'static {
        let client = self.clone();
        let integration_id = integration_id.to_owned();
        let mut query = query;
        query.page_size.get_or_insert(client.config.page_size);
        let state = Listing {
            cursor: None,
            seen: HashSet::new(),
            pages: 0,
            done: false,
        };
        futures::stream::try_unfold(state, move |mut state| {
            let client = client.clone();
            let integration_id = integration_id.clone();
            let query = query.clone();
            async move {
                if state.done {
                    return Ok(None);
                }
                if state.pages >= client.config.max_pages {
                    return Err(KomboError::TooManyPages {
                        endpoint: endpoint.path(),
                        pages: state.pages,
                    });
                }
                let page: RecordPage<T> = client
                    .get_page(&integration_id, endpoint, &query, state.cursor.as_deref())
                    .await?;
                state.pages += 1;
                match page.next.clone().filter(|c| !c.is_empty()) {
                    None => state.done = true,
                    // A cursor seen before (the same one, or a cycle of them)
                    // would serve the same pages forever.
                    Some(next) if !state.seen.insert(next.clone()) => {
                        return Err(KomboError::CursorLoop {
                            endpoint: endpoint.path(),
                            pages: state.pages,
                        });
                    }
                    Some(next) => state.cursor = Some(next),
                }
                Ok(Some((page, state)))
            }
        })
    }

    /// One page, with in-process retries for blips.
    pub async fn get_page<T: DeserializeOwned>(
        &self,
        integration_id: &str,
        endpoint: Endpoint,
        query: &ListQuery,
        cursor: Option<&str>,
    ) -> Result<RecordPage<T>, KomboError> {
        let mut pairs = query.to_pairs();
        if let Some(cursor) = cursor {
            pairs.push(("cursor", cursor.to_owned()));
        }
        let url = self.url(endpoint.path());
        let fetch = || async {
            let request = self
                .http
                .get(&url)
                .query(&pairs)
                .header(INTEGRATION_HEADER, integration_id);
            let body = self.send_raw(request, endpoint.path()).await?;
            decode_page::<T>(&repair_lone_surrogates(&body)).map_err(|error| {
                self.count_error(endpoint.path(), "decode");
                KomboError::Decode {
                    context: "listing page",
                    error,
                }
            })
        };
        fetch
            .retry(self.backoff())
            .when(|e: &KomboError| matches!(e.class(), ErrorClass::Retryable { .. }))
            .adjust(|e: &KomboError, planned| self.honour_retry_after(e, planned))
            .notify(|e: &KomboError, after: Duration| {
                tracing::debug!(integration_id, endpoint = endpoint.path(), error = %e, ?after, "retrying Kombo page");
            })
            .await
    }

    /// `POST /force-sync` of a FULL sync: only for a user's explicit "Import all".
    pub async fn force_sync(&self, integration_id: &str) -> Result<ForceSyncResponse, KomboError> {
        self.force_sync_of(integration_id, crate::integration::SyncType::Full)
            .await
    }

    /// `POST /connect/create-link`: the URL of Kombo's connection flow.
    pub async fn create_link(&self, body: &CreateLinkRequest) -> Result<String, KomboError> {
        let request = self.http.post(self.url("/connect/create-link")).json(body);
        let answer: CreateLinkResponse = self.send(request, "/connect/create-link").await?;
        Ok(answer.link)
    }

    fn backoff(&self) -> ExponentialBuilder {
        ExponentialBuilder::default()
            .with_min_delay(self.config.min_backoff)
            .with_max_delay(self.config.max_backoff)
            .with_max_times(self.config.max_retries)
            .with_jitter()
    }

    /// Waits what Kombo asked for, unless that is too long to hold a worker slot:
    /// then stop retrying here and let the delay queues wait instead.
    fn honour_retry_after(
        &self,
        error: &KomboError,
        planned: Option<Duration>,
    ) -> Option<Duration> {
        let planned = planned?;
        match error.class() {
            ErrorClass::Retryable {
                retry_after: Some(after),
            } => (after <= self.config.max_in_process_wait).then_some(after.max(planned)),
            _ => Some(planned),
        }
    }

    /// Sends a request and decodes the `data` of Kombo's success envelope.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        label: &'static str,
    ) -> Result<T, KomboError> {
        let body = self.send_raw(request, label).await?;
        decode::<SuccessEnvelope<T>>(&repair_lone_surrogates(&body))
            .map(|envelope| envelope.data)
            .map_err(|error| {
                self.count_error(label, "decode");
                KomboError::Decode {
                    context: "success body",
                    error,
                }
            })
    }

    /// Sends a request; returns a success answer's body, or the classified error.
    async fn send_raw(
        &self,
        request: reqwest::RequestBuilder,
        label: &'static str,
    ) -> Result<bytes::Bytes, KomboError> {
        let started = Instant::now();
        let result = self.send_inner(request).await;
        metrics::histogram!("kombo_request_seconds", "endpoint" => label)
            .record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            let code = e.code().unwrap_or(match e {
                KomboError::Timeout(_) => "timeout",
                KomboError::Transport(_) => "transport",
                _ => "http",
            });
            self.count_error(label, code);
        }
        result
    }

    fn count_error(&self, label: &'static str, code: &str) {
        metrics::counter!("kombo_errors_total", "endpoint" => label, "code" => code.to_owned())
            .increment(1);
    }

    async fn send_inner(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<bytes::Bytes, KomboError> {
        let response = request
            .header(
                AUTHORIZATION,
                format!("Bearer {}", self.config.api_key.expose_secret()),
            )
            .send()
            .await
            .map_err(|e| self.transport_error(e))?;
        let status = response.status().as_u16();
        let retry_after = parse_retry_after(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(e))?;
        if (200..300).contains(&status) {
            return Ok(bytes);
        }
        // An error body that is not Kombo's envelope (a proxy's 502 page) still
        // classifies by its status.
        let body = serde_json::from_slice::<ErrorEnvelope>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| ErrorBody {
                message: format!("HTTP {status} without a Kombo error body"),
                ..ErrorBody::default()
            });
        Err(KomboError::Api {
            status,
            body,
            retry_after,
        })
    }

    fn transport_error(&self, e: reqwest::Error) -> KomboError {
        if e.is_timeout() {
            KomboError::Timeout(self.config.timeout)
        } else {
            KomboError::Transport(e)
        }
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Kombo).
fn parse_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_api_key_never_shows_in_debug_output() {
        let config = KomboClientConfig::new("https://api.kombo.dev/v1", "sk_live_secret_42");
        let client = KomboClient::new(config.clone()).expect("client");
        for text in [format!("{config:?}"), format!("{client:?}")] {
            assert!(!text.contains("sk_live_secret_42"), "{text}");
        }
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        let mut headers = HeaderMap::new();
        assert_eq!(parse_retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(parse_retry_after(&headers), Some(Duration::from_secs(3)));
        headers.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(parse_retry_after(&headers), None);
    }
}
