//! One AMQP connection per process, kept alive: connects in the background with
//! capped exponential backoff (backon), declares the topology on every (re)connect,
//! and reconnects when the connection breaks. Roles start even when RabbitMQ is
//! down and report not-ready until it is back.
//!
//! `url` may list the nodes of a cluster, comma-separated: each (re)connect tries
//! them in turn, starting after the node it last connected to (the node that just
//! dropped us is the likeliest to be down), so a stopped node costs a reconnect,
//! not an outage.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::{Notify, RwLock};
use tokio_util::sync::CancellationToken;

use crate::error::BusError;
use crate::topology::Topology;
use secrecy::{ExposeSecret, SecretString};

#[derive(Debug, Clone)]
pub struct AmqpConfig {
    /// One AMQP URL, or several separated by commas (the nodes of a cluster).
    /// Secret: URLs carry the password, and `Debug` must not print it.
    pub url: SecretString,
    /// Shown in RabbitMQ's management UI, e.g. `hris-sync receiver`.
    pub connection_name: String,
    pub max_reconnect_delay: Duration,
}

impl AmqpConfig {
    pub fn new(url: impl Into<String>, connection_name: impl Into<String>) -> Self {
        Self {
            url: SecretString::from(url.into()),
            connection_name: connection_name.into(),
            max_reconnect_delay: Duration::from_secs(5),
        }
    }

    /// The URLs `url` lists, in order (commas never occur inside an AMQP URL:
    /// user and password are percent-encoded).
    pub fn urls(&self) -> Vec<&str> {
        self.url
            .expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    }
}

/// How long closing a connection may take. A connection the broker blocked (a
/// memory or disk alarm) never gets its close frame out, since lapin writes
/// nothing to a blocked connection: waiting for it would last the whole alarm.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long opening a connection and its channel, declaring the topology and
/// selecting confirms may take together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening a channel on the live connection may take.
const OPEN_CHANNEL_TIMEOUT: Duration = Duration::from_secs(10);

struct Live {
    /// Shared so that callers can use it without holding the `live` lock
    /// across an await (a reconnect needs the write lock).
    connection: Arc<Connection>,
    /// Publishing channel, in confirm mode.
    channel: Channel,
}

pub struct Connector {
    config: AmqpConfig,
    topology: Topology,
    live: RwLock<Option<Live>>,
    connected: AtomicBool,
    broken: Notify,
    reconnected: Notify,
    /// Index into `config.urls()` the next connect tries first.
    next_url: AtomicUsize,
}

impl Connector {
    pub fn new(config: AmqpConfig, topology: Topology) -> Arc<Self> {
        Arc::new(Self {
            config,
            topology,
            live: RwLock::new(None),
            connected: AtomicBool::new(false),
            broken: Notify::new(),
            reconnected: Notify::new(),
            next_url: AtomicUsize::new(0),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Keeps the connection up until `shutdown`, then closes it cleanly.
    pub fn spawn(self: &Arc<Self>, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            loop {
                this.connect_with_backoff(&shutdown).await;
                if shutdown.is_cancelled() {
                    break;
                }
                // Watch the connection: a failed publish reports it broken, and a
                // periodic look catches a connection that died quietly.
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = this.broken.notified() => break,
                        _ = tokio::time::sleep(Duration::from_millis(500)) => {
                            if !this.looks_alive().await {
                                break;
                            }
                        }
                    }
                }
                this.drop_live().await;
                if shutdown.is_cancelled() {
                    break;
                }
                tracing::warn!("AMQP connection lost; reconnecting");
            }
            this.close().await;
        })
    }

    async fn looks_alive(&self) -> bool {
        match &*self.live.read().await {
            Some(live) => live.connection.status().connected() && live.channel.status().connected(),
            None => false,
        }
    }

    async fn connect_with_backoff(&self, shutdown: &CancellationToken) {
        let mut delays = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(self.config.max_reconnect_delay)
            .with_jitter()
            .without_max_times()
            .build();
        loop {
            match self.connect_once().await {
                Ok(live) => {
                    *self.live.write().await = Some(live);
                    self.connected.store(true, Ordering::SeqCst);
                    self.reconnected.notify_waiters();
                    metrics::counter!("amqp_connects_total").increment(1);
                    tracing::info!(connection = %self.config.connection_name, "connected to RabbitMQ");
                    return;
                }
                Err(e) => {
                    let delay = delays.next().unwrap_or(self.config.max_reconnect_delay);
                    tracing::warn!(error = %e, ?delay, "cannot connect to RabbitMQ; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    /// One pass over the configured URLs, each tried once; the first that
    /// connects (and declares the topology) wins.
    async fn connect_once(&self) -> Result<Live, BusError> {
        let urls = self.config.urls();
        let start = self.next_url.load(Ordering::Relaxed);
        let mut last = BusError::NotConnected;
        for i in 0..urls.len() {
            let index = (start + i) % urls.len();
            match self.connect_to(urls[index]).await {
                Ok(live) => {
                    self.next_url
                        .store((index + 1) % urls.len(), Ordering::Relaxed);
                    if urls.len() > 1 {
                        tracing::info!(node = index, nodes = urls.len(), "AMQP node chosen");
                    }
                    return Ok(live);
                }
                Err(e) => {
                    if urls.len() > 1 {
                        tracing::warn!(node = index, error = %e, "AMQP node unavailable; trying the next");
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// Connects to one node, opens the publishing channel and declares the
    /// topology, all within `CONNECT_TIMEOUT`: a broker that accepts the TCP
    /// connection but never answers (or blocks us) must not stall the
    /// reconnect loop.
    async fn connect_to(&self, url: &str) -> Result<Live, BusError> {
        let properties = ConnectionProperties::default()
            .with_connection_name(self.config.connection_name.clone().into());
        let connection =
            tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect(url, properties))
                .await
                .map_err(|_| BusError::NotConnected)??;
        let connection = Arc::new(connection);
        let setup = async {
            let channel = connection.create_channel().await?;
            self.topology.declare(&channel).await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            Ok::<_, BusError>(channel)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, setup).await {
            Ok(Ok(channel)) => Ok(Live {
                connection,
                channel,
            }),
            Ok(Err(e)) => {
                close_bounded(&connection, 320, "setup failed").await;
                Err(e)
            }
            Err(_) => {
                close_bounded(&connection, 320, "setup timed out").await;
                Err(BusError::NotConnected)
            }
        }
    }

    /// Takes the live connection out under the write lock and closes it only
    /// after the guard is gone. (Written as `if let Some(live) =
    /// self.live.write().await.take()`, edition 2024 keeps the guard alive for
    /// the whole block, so every publisher waiting on the read lock hung for as
    /// long as the close did: the whole of a broker alarm.)
    async fn drop_live(&self) {
        self.connected.store(false, Ordering::SeqCst);
        let live = self.live.write().await.take();
        if let Some(live) = live {
            close_bounded(&live.connection, 320, "reconnecting").await;
        }
    }

    /// Whether a publish could be attempted now (for `/readyz`).
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }

    /// Connected now, by the connection's own status (for `/readyz`): a connection
    /// the broker just closed is not reported ready while nobody has noticed yet.
    pub async fn is_alive(&self) -> bool {
        self.is_connected() && self.looks_alive().await
    }

    /// Reports the connection broken (a publish failed at the transport level).
    pub fn mark_broken(&self) {
        self.connected.store(false, Ordering::SeqCst);
        self.broken.notify_one();
    }

    /// Whether the broker has blocked the connection (a memory or disk alarm):
    /// nothing published now is confirmed until the alarm clears.
    pub fn is_blocked(&self) -> bool {
        // `try_read`: a reconnect in progress holds the write lock; then
        // nothing is blocked that a caller could publish on anyway.
        match self.live.try_read() {
            Ok(live) => live
                .as_ref()
                .is_some_and(|live| live.connection.status().blocked()),
            Err(_) => false,
        }
    }

    /// The publishing channel (confirm mode), if connected.
    pub async fn publish_channel(&self) -> Result<Channel, BusError> {
        match &*self.live.read().await {
            Some(live) if self.is_connected() => Ok(live.channel.clone()),
            _ => Err(BusError::NotConnected),
        }
    }

    /// A new channel on the live connection (consumers use one each). The
    /// connection is taken out of the lock before the channel is opened, and
    /// the opening is bounded: a blocked connection never answers it.
    pub async fn open_channel(&self) -> Result<Channel, BusError> {
        let connection = match &*self.live.read().await {
            Some(live) if self.is_connected() => live.connection.clone(),
            _ => return Err(BusError::NotConnected),
        };
        tokio::time::timeout(OPEN_CHANNEL_TIMEOUT, connection.create_channel())
            .await
            .map_err(|_| BusError::NotConnected)?
            .map_err(BusError::from)
    }

    /// Waits until connected, up to `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.is_connected() {
            let notified = self.reconnected.notified();
            if self.is_connected() {
                break;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.is_connected();
            }
        }
        true
    }

    /// Closes the connection cleanly, each step bounded (see `drop_live`).
    pub async fn close(&self) {
        self.connected.store(false, Ordering::SeqCst);
        let live = self.live.write().await.take();
        if let Some(live) = live {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, live.channel.close(200, "shutdown".into()))
                .await;
            close_bounded(&live.connection, 200, "shutdown").await;
        }
    }
}

/// Closes `connection`, giving up after `CLOSE_TIMEOUT`; the caller drops it
/// then, which ends lapin's I/O for it.
async fn close_bounded(connection: &Connection, code: u16, reason: &str) {
    match tokio::time::timeout(CLOSE_TIMEOUT, connection.close(code, reason.into())).await {
        Ok(_) => {}
        Err(_) => {
            metrics::counter!("amqp_close_timeouts_total").increment(1);
            tracing::warn!(
                timeout = ?CLOSE_TIMEOUT,
                "closing the AMQP connection timed out (blocked by the broker?); dropping it"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AmqpConfig;

    #[test]
    fn one_url_or_a_comma_separated_list() {
        let one = AmqpConfig::new("amqp://guest:guest@127.0.0.1:5672/%2f", "t");
        assert_eq!(one.urls(), ["amqp://guest:guest@127.0.0.1:5672/%2f"]);
        let three = AmqpConfig::new(
            "amqp://a@127.0.0.1:5672/%2f, amqp://a@127.0.0.1:5673/%2f,,amqp://a@127.0.0.1:5674/%2f,",
            "t",
        );
        assert_eq!(
            three.urls(),
            [
                "amqp://a@127.0.0.1:5672/%2f",
                "amqp://a@127.0.0.1:5673/%2f",
                "amqp://a@127.0.0.1:5674/%2f"
            ]
        );
    }
}
