//! The consumer runtime every worker shares.
//!
//! - Prefetch and a semaphore bound the work in flight; a slow tenant holds one
//!   slot, never the queue.
//! - A message is acked only after its handler returned `Ok` (it committed).
//! - Failures retry in two layers: a short in-process backoff (backon) for blips,
//!   then a trip through a delay queue (attempt + 1, growing delay with jitter).
//!   Permanent and poison failures, and retries exhausted, are published to the
//!   dead-letter exchange with headers that say why, then acked; if even that
//!   publish fails the message is rejected without requeue, and the broker
//!   dead-letters it (at-least-once) so nothing is lost and nothing loops.
//! - The connection is the `Connector`'s: when it breaks, consuming resumes after
//!   it reconnects; unacked messages are redelivered by the broker.
//! - On shutdown: stop consuming, let in-flight work finish within a deadline,
//!   then close the channel so whatever is left is requeued.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use futures::StreamExt;
use lapin::BasicProperties;
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions,
    BasicRejectOptions,
};
use lapin::types::FieldTable;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connection::Connector;
use crate::failure::{Failure, FailureClass};
use crate::incoming::Incoming;
use crate::publisher::{Publisher, RawOutgoing};
use crate::retry::{Decision, RetryPolicy};

/// What a worker does with one message. `Ok` means its effect is committed.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, message: &Incoming) -> impl Future<Output = Result<(), Failure>> + Send;
}

#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    pub queue: String,
    /// Messages the broker hands us ahead of acks.
    pub prefetch: u16,
    /// Messages handled at once.
    pub concurrency: usize,
    /// In-flight work gets this long to finish on shutdown.
    pub shutdown_grace: Duration,
    pub policy: RetryPolicy,
    /// In-process retries of a retryable failure before the delay queues.
    pub in_process_retries: usize,
    pub in_process_max_delay: Duration,
    pub on_failure: OnFailure,
}

/// What a failure that outlasts the in-process retries leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// The retry policy: a delay-queue trip or a dead letter.
    RetryOrDeadLetter,
    /// Back to the queue after a pause. For the dead-letter archiver: its
    /// messages have nowhere further to go, and must never be lost.
    Requeue { pause: Duration },
}

impl ConsumerConfig {
    pub fn new(queue: impl Into<String>, policy: RetryPolicy) -> Self {
        Self {
            queue: queue.into(),
            prefetch: 16,
            concurrency: 8,
            shutdown_grace: Duration::from_secs(25),
            policy,
            in_process_retries: 2,
            in_process_max_delay: Duration::from_secs(2),
            on_failure: OnFailure::RetryOrDeadLetter,
        }
    }
}

pub struct Consumer<H> {
    config: ConsumerConfig,
    connector: Arc<Connector>,
    publisher: Publisher,
    handler: Arc<H>,
}

impl<H: Handler> Consumer<H> {
    pub fn new(config: ConsumerConfig, connector: Arc<Connector>, handler: H) -> Self {
        let publisher = Publisher::new(connector.clone());
        Self {
            config,
            connector,
            publisher,
            handler: Arc::new(handler),
        }
    }

    /// Consumes until `shutdown`, through any number of reconnects. On
    /// shutdown, in-flight work gets `shutdown_grace` in all, once: the drain
    /// on the channel and the final wait share one deadline, so the process
    /// exits within the platform's grace period.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let tracker = TaskTracker::new();
        let slots = Arc::new(Semaphore::new(this.config.concurrency.max(1)));
        let mut drain_deadline = None;
        while !shutdown.is_cancelled() {
            if !this
                .connector
                .wait_connected(Duration::from_millis(500))
                .await
            {
                continue;
            }
            match this.consume(&shutdown, &tracker, &slots).await {
                Ok(deadline) => drain_deadline = drain_deadline.or(deadline),
                Err(e) => {
                    tracing::warn!(queue = %this.config.queue, error = %e, "consumer interrupted; resuming after reconnect");
                    this.connector.mark_broken();
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
            }
        }
        tracker.close();
        let deadline = drain_deadline
            .unwrap_or_else(|| tokio::time::Instant::now() + this.config.shutdown_grace);
        if tokio::time::timeout_at(deadline, tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(queue = %this.config.queue, "in-flight work did not finish in time; it will be redelivered");
        }
    }

    /// One channel's life: consume until shutdown or until the channel dies.
    /// Returns the drain's deadline when it ended for shutdown.
    async fn consume(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
        tracker: &TaskTracker,
        slots: &Arc<Semaphore>,
    ) -> Result<Option<tokio::time::Instant>, lapin::Error> {
        let channel = match self.connector.open_channel().await {
            Ok(c) => c,
            Err(_) => return Ok(None),
        };
        channel
            .basic_qos(self.config.prefetch, BasicQosOptions::default())
            .await?;
        let tag = format!("{}-{}", self.config.queue, uuid::Uuid::new_v4().simple());
        let mut deliveries = channel
            .basic_consume(
                self.config.queue.clone().into(),
                tag.clone().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let delivery = tokio::select! {
                _ = shutdown.cancelled() => break,
                next = deliveries.next() => match next {
                    Some(Ok(d)) => d,
                    Some(Err(e)) => return Err(e),
                    None => return Ok(None),
                },
            };
            let this = self.clone();
            tracker.spawn(async move {
                this.process(delivery).await;
                drop(permit);
            });
        }
        // Shutdown: no new deliveries; in-flight ones finish on this channel, then
        // closing it hands back whatever was prefetched but not started.
        let deadline = tokio::time::Instant::now() + self.config.shutdown_grace;
        let _ = tokio::time::timeout_at(
            deadline,
            channel.basic_cancel(tag.into(), BasicCancelOptions::default()),
        )
        .await;
        tracker.close();
        let _ = tokio::time::timeout_at(deadline, tracker.wait()).await;
        // Bounded too: a broker that stopped answering must not hold the exit.
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            channel.close(200, "shutdown".into()),
        )
        .await;
        Ok(Some(deadline))
    }

    async fn process(&self, delivery: lapin::message::Delivery) {
        let started = Instant::now();
        let message = Incoming {
            data: delivery.data,
            routing_key: delivery.routing_key.as_str().to_owned(),
            queue: self.config.queue.clone(),
            redelivered: delivery.redelivered,
            properties: delivery.properties,
        };
        let acker = delivery.acker;
        let outcome = self.handle_with_blip_retries(&message).await;
        let label = match &outcome {
            Ok(()) => "ok",
            Err(f) => f.class.as_str(),
        };
        metrics::histogram!("message_seconds", "queue" => self.config.queue.clone(), "outcome" => label)
            .record(started.elapsed().as_secs_f64());
        metrics::counter!("messages_total", "queue" => self.config.queue.clone(), "outcome" => label)
            .increment(1);
        let settled = match outcome {
            Ok(()) => acker.ack(BasicAckOptions::default()).await.map(|_| ()),
            Err(failure) => self.settle_failure(&message, &acker, failure).await,
        };
        if let Err(e) = settled {
            // The channel died: the broker redelivers the message; handlers are
            // idempotent, so doing it again is safe.
            tracing::warn!(queue = %self.config.queue, error = %e, "could not settle a message; it will be redelivered");
        }
    }

    async fn handle_with_blip_retries(&self, message: &Incoming) -> Result<(), Failure> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(self.config.in_process_max_delay)
            .with_max_times(self.config.in_process_retries)
            .with_jitter();
        (|| self.handler.handle(message))
            .retry(backoff)
            .when(|f: &Failure| f.class == FailureClass::Retryable && f.retry_after.is_none())
            .notify(|f: &Failure, after| {
                tracing::debug!(queue = %self.config.queue, failure = %f, ?after, "retrying in process");
            })
            .await
    }

    async fn settle_failure(
        &self,
        message: &Incoming,
        acker: &lapin::Acker,
        failure: Failure,
    ) -> Result<(), lapin::Error> {
        if let OnFailure::Requeue { pause } = self.config.on_failure {
            tracing::warn!(queue = %self.config.queue, failure = %failure, ?pause, "requeueing after a pause");
            tokio::time::sleep(pause).await;
            return acker
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
                .map(|_| ());
        }
        let now = chrono::Utc::now();
        let unit = rand::random::<f64>() * 2.0 - 1.0;
        let decision =
            self.config
                .policy
                .decide(failure.class, message.attempt(), failure.retry_after, unit);
        let topology = self.connector.topology();
        let (outgoing, what) = match decision {
            Decision::Retry { tier, delay } => {
                tracing::info!(queue = %self.config.queue, message_id = ?message.message_id(), attempt = message.attempt(), ?delay, failure = %failure, "retrying later");
                let properties = properties_of(message)
                    .with_headers(message.retry_headers(&failure, now))
                    .with_expiration(delay.as_millis().to_string().into());
                (
                    RawOutgoing {
                        exchange: topology.delay(tier),
                        routing_key: message.routing_key.clone(),
                        payload: message.data.clone(),
                        properties,
                    },
                    "retry",
                )
            }
            Decision::DeadLetter { reason } => {
                tracing::warn!(queue = %self.config.queue, message_id = ?message.message_id(), reason = reason.as_str(), failure = %failure, "dead-lettering");
                let properties = properties_of(message).with_headers(message.dead_letter_headers(
                    &failure,
                    reason.as_str(),
                    now,
                ));
                (
                    RawOutgoing {
                        exchange: topology.dead_letter_exchange(),
                        routing_key: message.routing_key.clone(),
                        payload: message.data.clone(),
                        properties,
                    },
                    "dead_letter",
                )
            }
        };
        metrics::counter!("message_failures_total", "queue" => self.config.queue.clone(), "class" => failure.class.as_str(), "action" => what)
            .increment(1);
        match self.publisher.publish_raw(vec![outgoing]).await {
            Ok(()) => acker.ack(BasicAckOptions::default()).await.map(|_| ()),
            Err(e) if what == "retry" => {
                // Could not schedule the retry: put it back now. The queue's
                // delivery limit stops this from looping forever.
                tracing::warn!(error = %e, "could not publish the retry; requeueing");
                acker
                    .nack(BasicNackOptions {
                        requeue: true,
                        ..BasicNackOptions::default()
                    })
                    .await
                    .map(|_| ())
            }
            Err(e) => {
                // The broker's own dead-lettering takes it (at-least-once), with
                // x-death headers instead of ours.
                tracing::warn!(error = %e, "could not publish the dead letter; rejecting to the dead-letter exchange");
                acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .map(|_| ())
            }
        }
    }
}

/// The original properties minus the expiration of a previous delay trip.
fn properties_of(message: &Incoming) -> BasicProperties {
    let p = &message.properties;
    let mut out = BasicProperties::default();
    if let Some(v) = p.content_type() {
        out = out.with_content_type(v.clone());
    }
    if let Some(v) = p.message_id() {
        out = out.with_message_id(v.clone());
    }
    if let Some(v) = p.timestamp() {
        out = out.with_timestamp(*v);
    }
    out
}
