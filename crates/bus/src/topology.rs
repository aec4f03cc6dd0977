//! Every exchange and queue, named under `AMQP_PREFIX` and declared idempotently
//! by every role at start and after every reconnect.
//!
//! ```text
//!  publish ──▶ {p}.events (direct) ──rk=employees──▶ {p}.employees  (quorum) ─┐
//!                 ▲                 ──rk=teams──────▶ {p}.teams      (quorum)  │ reject / delivery limit
//!                 │                 ──rk=…──────────▶ …                        ▼
//!                 │ TTL expiry keeps the routing key             {p}.dead-letter (fanout)
//!  {p}.delay.N (fanout) ─▶ {p}.delay.N (quorum, per-message TTL)          │
//!   ▲ retry: attempt+1, expiration = delay N ± jitter                     ▼
//!   └── worker                                            {p}.dead-letters (quorum) ─▶ archive
//! ```

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};
use lapin::{Channel, ExchangeKind};

use crate::envelope::Entity;
use crate::error::BusError;

/// Redeliveries after which the broker itself dead-letters a message that keeps
/// crashing its consumer (a poison message that never reaches our error path).
pub const DELIVERY_LIMIT: i64 = 10;

#[derive(Debug, Clone)]
pub struct Topology {
    pub prefix: String,
    /// Delay of each retry tier: 5 s, 30 s, 2 min, 10 min, 30 min by default.
    pub retry_delays: Vec<Duration>,
}

impl Topology {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            retry_delays: [5, 30, 120, 600, 1800]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }

    fn name(&self, suffix: &str) -> String {
        if self.prefix.is_empty() {
            suffix.to_owned()
        } else {
            format!("{}.{suffix}", self.prefix)
        }
    }

    pub fn events_exchange(&self) -> String {
        self.name("events")
    }

    pub fn queue(&self, entity: Entity) -> String {
        self.name(entity.as_str())
    }

    pub fn dead_letter_exchange(&self) -> String {
        self.name("dead-letter")
    }

    pub fn dead_letter_queue(&self) -> String {
        self.name("dead-letters")
    }

    /// Exchange and queue of retry tier `tier` (0-based).
    pub fn delay(&self, tier: usize) -> String {
        self.name(&format!("delay.{tier}"))
    }

    /// Declares everything; safe to call any number of times.
    pub async fn declare(&self, channel: &Channel) -> Result<(), BusError> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.events_exchange().into(),
                ExchangeKind::Direct,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.dead_letter_exchange().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;

        let dlq = self.dead_letter_queue();
        channel
            .queue_declare(dlq.clone().into(), queue_options(), quorum(None))
            .await?;
        channel
            .queue_bind(
                dlq.into(),
                self.dead_letter_exchange().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;

        for entity in Entity::ALL {
            let queue = self.queue(entity);
            let mut args = quorum(Some(&self.dead_letter_exchange()));
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongLongInt(DELIVERY_LIMIT),
            );
            channel
                .queue_declare(queue.clone().into(), queue_options(), args)
                .await?;
            channel
                .queue_bind(
                    queue.into(),
                    self.events_exchange().into(),
                    entity.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }

        for tier in 0..self.retry_delays.len() {
            let name = self.delay(tier);
            channel
                .exchange_declare(
                    name.clone().into(),
                    ExchangeKind::Fanout,
                    durable,
                    FieldTable::default(),
                )
                .await?;
            // Expired messages go back to the events exchange with their original
            // routing key (no x-dead-letter-routing-key), so to their entity queue.
            channel
                .queue_declare(
                    name.clone().into(),
                    queue_options(),
                    quorum(Some(&self.events_exchange())),
                )
                .await?;
            channel
                .queue_bind(
                    name.clone().into(),
                    name.into(),
                    "".into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        Ok(())
    }
}

impl Topology {
    /// Deletes every queue and exchange of this prefix (test and environment
    /// teardown: quorum queues are not free, and a broker holding thousands of
    /// leftover ones slows down for everyone).
    pub async fn delete(&self, channel: &Channel) -> Result<(), BusError> {
        use lapin::options::{ExchangeDeleteOptions, QueueDeleteOptions};
        let mut queues: Vec<String> = Entity::ALL.iter().map(|e| self.queue(*e)).collect();
        queues.push(self.dead_letter_queue());
        let mut exchanges = vec![self.events_exchange(), self.dead_letter_exchange()];
        for tier in 0..self.retry_delays.len() {
            queues.push(self.delay(tier));
            exchanges.push(self.delay(tier));
        }
        for q in queues {
            channel
                .queue_delete(q.into(), QueueDeleteOptions::default())
                .await?;
        }
        for x in exchanges {
            channel
                .exchange_delete(x.into(), ExchangeDeleteOptions::default())
                .await?;
        }
        Ok(())
    }
}

fn queue_options() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

/// Quorum queue arguments; with a dead-letter exchange, dead-lettering is
/// at-least-once (which requires `reject-publish` overflow).
fn quorum(dead_letter_exchange: Option<&str>) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert("x-queue-type".into(), long_string("quorum"));
    if let Some(dlx) = dead_letter_exchange {
        args.insert("x-dead-letter-exchange".into(), long_string(dlx));
        args.insert(
            "x-dead-letter-strategy".into(),
            long_string("at-least-once"),
        );
        args.insert("x-overflow".into(), long_string("reject-publish"));
    }
    args
}

pub(crate) fn long_string(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s.as_bytes().to_vec()))
}
