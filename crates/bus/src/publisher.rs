//! Publishing that never claims more than the broker confirmed: persistent,
//! `mandatory` messages on a confirm-mode channel; success only on an ack without a
//! return. Anything else is an error the caller turns into "not durable".

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::BasicProperties;
use lapin::Confirmation;
use lapin::options::BasicPublishOptions;
use lapin::types::{AMQPValue, FieldTable};

use crate::connection::Connector;
use crate::envelope::Envelope;
use crate::error::BusError;
use crate::topology::long_string;

/// Persistent delivery mode.
const PERSISTENT: u8 = 2;

/// Header counting trips through the delay queues (0 on first publish).
pub const ATTEMPT_HEADER: &str = "attempt";

#[derive(Clone)]
pub struct Publisher {
    connector: Arc<Connector>,
    confirm_timeout: Duration,
}

/// One message to publish: exchange, routing key, envelope, extra headers.
pub struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub envelope: Envelope,
    pub headers: FieldTable,
    /// Per-message TTL in milliseconds (delay queues).
    pub expiration_ms: Option<u64>,
}

impl Outgoing {
    /// A message for an entity queue, through the events exchange.
    pub fn event(publisher: &Publisher, envelope: Envelope) -> Self {
        Self {
            exchange: publisher.connector.topology().events_exchange(),
            routing_key: envelope.entity.as_str().to_owned(),
            envelope,
            headers: FieldTable::default(),
            expiration_ms: None,
        }
    }
}

impl Publisher {
    pub fn new(connector: Arc<Connector>) -> Self {
        for reason in BusError::LABELS {
            // Registers the series without changing a count already there.
            metrics::counter!("amqp_publish_failures_total", "reason" => reason).increment(0);
        }
        Self {
            connector,
            confirm_timeout: Duration::from_secs(5),
        }
    }

    pub fn with_confirm_timeout(mut self, timeout: Duration) -> Self {
        self.confirm_timeout = timeout;
        self
    }

    pub fn connector(&self) -> &Arc<Connector> {
        &self.connector
    }

    /// Publishes `envelope` to its entity queue and waits for the broker's confirm.
    pub async fn publish(&self, envelope: Envelope) -> Result<(), BusError> {
        self.publish_all(vec![Outgoing::event(self, envelope)])
            .await
    }

    /// Publishes every message, then waits for all their confirms; `Ok` only when
    /// every one was acked and none returned.
    pub async fn publish_all(&self, messages: Vec<Outgoing>) -> Result<(), BusError> {
        let mut raw = Vec::with_capacity(messages.len());
        for message in messages {
            raw.push(message.into_raw()?);
        }
        self.publish_raw(raw).await
    }

    /// Publishes messages that are already bytes (retries and dead letters carry
    /// the original payload untouched); `Ok` only when every one was confirmed.
    pub async fn publish_raw(&self, messages: Vec<RawOutgoing>) -> Result<(), BusError> {
        let started = Instant::now();
        let result = self.publish_raw_inner(messages).await;
        metrics::histogram!("amqp_publish_seconds").record(started.elapsed().as_secs_f64());
        if let Err(e) = &result {
            metrics::counter!("amqp_publish_failures_total", "reason" => e.label()).increment(1);
            // A connection the broker blocked (memory or disk alarm) is not
            // broken: a new one would be blocked at its first publish too, and
            // reconnecting every few seconds for the whole alarm helps nobody.
            let blocked = self.connector.is_blocked();
            if matches!(e, BusError::Amqp(_) | BusError::ConfirmTimeout(_)) && !blocked {
                self.connector.mark_broken();
            }
        }
        result
    }

    /// Publishes and waits for the confirms, the whole within `confirm_timeout`:
    /// on a blocked connection lapin holds the frames back, so even
    /// `basic_publish` itself may not return until the alarm clears.
    async fn publish_raw_inner(&self, messages: Vec<RawOutgoing>) -> Result<(), BusError> {
        tokio::time::timeout(self.confirm_timeout, self.publish_and_confirm(messages))
            .await
            .map_err(|_| BusError::ConfirmTimeout(self.confirm_timeout))?
    }

    async fn publish_and_confirm(&self, messages: Vec<RawOutgoing>) -> Result<(), BusError> {
        let channel = self.connector.publish_channel().await?;
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let confirm = channel
                .basic_publish(
                    message.exchange.into(),
                    message.routing_key.into(),
                    BasicPublishOptions {
                        mandatory: true,
                        ..BasicPublishOptions::default()
                    },
                    &message.payload,
                    message.properties.with_delivery_mode(PERSISTENT),
                )
                .await?;
            confirms.push(confirm);
        }
        let results = futures::future::join_all(confirms).await;
        for result in results {
            match result? {
                Confirmation::Ack(None) => {}
                Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => {
                    return Err(BusError::Unroutable(format!(
                        "{} {}",
                        returned.reply_code, returned.reply_text
                    )));
                }
                Confirmation::Nack(None) => return Err(BusError::Nacked),
                // Confirms are always selected on this channel; not being asked for
                // one means we cannot claim durability.
                Confirmation::NotRequested => return Err(BusError::Nacked),
            }
        }
        Ok(())
    }
}

/// A message as bytes and properties (delivery mode is always persistent).
pub struct RawOutgoing {
    pub exchange: String,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub properties: BasicProperties,
}

impl Outgoing {
    fn into_raw(self) -> Result<RawOutgoing, BusError> {
        let payload = serde_json::to_vec(&self.envelope)?;
        let mut headers = self.headers;
        headers.insert("entity".into(), long_string(self.envelope.entity.as_str()));
        headers.insert(
            ATTEMPT_HEADER.into(),
            AMQPValue::LongLongInt(i64::from(self.envelope.attempt)),
        );
        if let Some(trace) = &self.envelope.trace {
            headers.insert("traceparent".into(), long_string(trace));
        }
        if let Some(integration) = &self.envelope.integration_id {
            headers.insert("integration_id".into(), long_string(integration));
        }
        if let Some(tenant) = &self.envelope.tenant_id {
            headers.insert("tenant_id".into(), long_string(tenant.as_str()));
        }
        let mut properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_message_id(self.envelope.event_id.clone().into())
            .with_timestamp(self.envelope.received_at.timestamp().max(0) as u64)
            .with_headers(headers);
        if let Some(ms) = self.expiration_ms {
            properties = properties.with_expiration(ms.to_string().into());
        }
        Ok(RawOutgoing {
            exchange: self.exchange,
            routing_key: self.routing_key,
            payload,
            properties,
        })
    }
}
