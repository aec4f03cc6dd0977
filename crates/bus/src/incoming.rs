//! A delivery as handlers see it, and the headers that travel with a message
//! through retries into the dead-letter queue.

use chrono::{DateTime, Utc};
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};

use crate::failure::Failure;
use crate::publisher::ATTEMPT_HEADER;
use crate::topology::long_string;

/// Header names set on dead letters (and on retries, for the first failure).
pub mod header {
    pub const REASON: &str = "x-hris-reason";
    pub const DETAIL: &str = "x-hris-detail";
    pub const ERROR_CLASS: &str = "x-hris-error-class";
    pub const ERROR_CODE: &str = "x-hris-error-code";
    pub const LOG_URL: &str = "x-hris-log-url";
    pub const ERROR_MESSAGE: &str = "x-hris-error-message";
    pub const ATTEMPTS: &str = "x-hris-attempts";
    pub const FIRST_FAILED_AT: &str = "x-hris-first-failed-at";
    pub const LAST_FAILED_AT: &str = "x-hris-last-failed-at";
    pub const ROUTING_KEY: &str = "x-hris-routing-key";
    pub const QUEUE: &str = "x-hris-queue";
    pub const TENANT: &str = "tenant_id";
}

/// One delivery: the bytes, where it came from, and its headers.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub data: Vec<u8>,
    pub routing_key: String,
    pub queue: String,
    pub redelivered: bool,
    pub properties: BasicProperties,
}

impl Incoming {
    pub fn headers(&self) -> Option<&FieldTable> {
        self.properties.headers().as_ref()
    }

    pub fn header(&self, name: &str) -> Option<&AMQPValue> {
        self.headers()?.inner().get(name)
    }

    pub fn header_str(&self, name: &str) -> Option<String> {
        match self.header(name)? {
            AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
            AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
            _ => None,
        }
    }

    pub fn header_int(&self, name: &str) -> Option<i64> {
        match self.header(name)? {
            AMQPValue::LongLongInt(n) => Some(*n),
            AMQPValue::LongInt(n) => Some(i64::from(*n)),
            AMQPValue::LongUInt(n) => Some(i64::from(*n)),
            AMQPValue::ShortInt(n) => Some(i64::from(*n)),
            AMQPValue::ShortUInt(n) => Some(i64::from(*n)),
            _ => None,
        }
    }

    /// Trips through the delay queues so far.
    pub fn attempt(&self) -> u32 {
        self.header_int(ATTEMPT_HEADER)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0)
    }

    pub fn message_id(&self) -> Option<String> {
        self.properties
            .message_id()
            .as_ref()
            .map(|s| s.as_str().to_owned())
    }

    /// When this message first failed (kept across retries).
    pub fn first_failed_at(&self) -> Option<DateTime<Utc>> {
        let s = self.header_str(header::FIRST_FAILED_AT)?;
        DateTime::parse_from_rfc3339(&s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// Headers for the next trip: the original ones, the attempt count, and the
    /// failure so far.
    pub fn retry_headers(&self, failure: &Failure, now: DateTime<Utc>) -> FieldTable {
        let mut headers = self.headers().cloned().unwrap_or_default();
        headers.insert(
            ATTEMPT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(self.attempt()) + 1),
        );
        let first = self.first_failed_at().unwrap_or(now);
        headers.insert(
            header::FIRST_FAILED_AT.into(),
            long_string(&first.to_rfc3339()),
        );
        headers.insert(
            header::LAST_FAILED_AT.into(),
            long_string(&now.to_rfc3339()),
        );
        headers.insert(header::DETAIL.into(), long_string(&failure.reason));
        headers
    }

    /// Headers of the dead letter: everything on-call needs to see why.
    pub fn dead_letter_headers(
        &self,
        failure: &Failure,
        reason: &str,
        now: DateTime<Utc>,
    ) -> FieldTable {
        let mut headers = self.headers().cloned().unwrap_or_default();
        let first = self.first_failed_at().unwrap_or(now);
        let set = |h: &mut FieldTable, k: &str, v: &str| {
            h.insert(k.into(), long_string(v));
        };
        set(&mut headers, header::REASON, reason);
        set(&mut headers, header::DETAIL, &failure.reason);
        set(&mut headers, header::ERROR_CLASS, failure.class.as_str());
        if let Some(code) = &failure.code {
            set(&mut headers, header::ERROR_CODE, code);
        }
        if let Some(kombo) = &failure.kombo {
            if let Some(url) = &kombo.log_url {
                set(&mut headers, header::LOG_URL, url);
            }
            if let Some(message) = &kombo.message {
                set(&mut headers, header::ERROR_MESSAGE, message);
            }
        }
        headers.insert(
            header::ATTEMPTS.into(),
            AMQPValue::LongLongInt(i64::from(self.attempt()) + 1),
        );
        set(&mut headers, header::FIRST_FAILED_AT, &first.to_rfc3339());
        set(&mut headers, header::LAST_FAILED_AT, &now.to_rfc3339());
        set(&mut headers, header::ROUTING_KEY, &self.routing_key);
        set(&mut headers, header::QUEUE, &self.queue);
        if let Some(tenant) = &failure.tenant_id {
            set(&mut headers, header::TENANT, tenant.as_str());
        }
        headers
    }
}

impl Incoming {
    /// The headers as JSON, for the archive (strings stay strings, numbers
    /// numbers; the broker's `x-death` tables become objects).
    pub fn headers_json(&self) -> serde_json::Value {
        match self.headers() {
            Some(table) => table_json(table),
            None => serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// The broker's own dead-lettering record (`x-death`), first entry: reason
    /// (`rejected`, `delivery_limit`, `expired`) and the queue it left.
    pub fn x_death(&self) -> Option<(String, String)> {
        let AMQPValue::FieldArray(deaths) = self.header("x-death")? else {
            return None;
        };
        let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
            return None;
        };
        let text = |k: &str| match first.inner().get(k) {
            Some(AMQPValue::LongString(s)) => {
                Some(String::from_utf8_lossy(s.as_bytes()).into_owned())
            }
            Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_owned()),
            _ => None,
        };
        Some((text("reason")?, text("queue").unwrap_or_default()))
    }
}

fn table_json(table: &FieldTable) -> serde_json::Value {
    serde_json::Value::Object(
        table
            .inner()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), value_json(v)))
            .collect(),
    )
}

fn value_json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AMQPValue::Boolean(b) => Value::from(*b),
        AMQPValue::ShortShortInt(n) => Value::from(*n),
        AMQPValue::ShortShortUInt(n) => Value::from(*n),
        AMQPValue::ShortInt(n) => Value::from(*n),
        AMQPValue::ShortUInt(n) => Value::from(*n),
        AMQPValue::LongInt(n) => Value::from(*n),
        AMQPValue::LongUInt(n) => Value::from(*n),
        AMQPValue::LongLongInt(n) => Value::from(*n),
        AMQPValue::Float(f) => Value::from(*f),
        AMQPValue::Double(f) => Value::from(*f),
        AMQPValue::ShortString(s) => Value::from(s.as_str()),
        AMQPValue::LongString(s) => Value::from(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(value_json).collect()),
        AMQPValue::FieldTable(t) => table_json(t),
        AMQPValue::Timestamp(t) => Value::from(*t),
        AMQPValue::Void => Value::Null,
        other => Value::from(format!("{other:?}")),
    }
}
