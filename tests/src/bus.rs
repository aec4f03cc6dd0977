//! A receiver on an ephemeral port with its own AMQP prefix, and helpers to look
//! into the queues it fills.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hris_bus::{AmqpConfig, Connector, Entity, Envelope, Publisher, Topology};
use hris_kombo::WebhookSecrets;
use hris_receiver::{AppState, ReceiverConfig};
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use tokio_util::sync::CancellationToken;

pub const SECRET: &str = "test-webhook-secret";

pub struct Receiver {
    pub addr: SocketAddr,
    /// Where its probes and metrics are served.
    pub ops_addr: SocketAddr,
    pub prefix: String,
    pub connection_name: String,
    pub connector: Arc<Connector>,
    pub shutdown: CancellationToken,
    pub http: reqwest::Client,
}

impl Receiver {
    /// Starts a receiver against `amqp_url`, waiting (up to 10 s) for its connection.
    pub async fn start_with(amqp_url: &str, prefix: &str, wait: bool) -> anyhow::Result<Self> {
        let connection_name = format!("receiver-{prefix}");
        let (connector, shutdown) = connect(amqp_url, &connection_name, prefix, wait).await?;
        let state = Arc::new(AppState {
            config: ReceiverConfig {
                secrets: WebhookSecrets::from_comma_separated(&format!("old-secret,{SECRET}")),
                max_body_bytes: hris_receiver::app::MAX_BODY_BYTES,
            },
            publisher: Publisher::new(connector.clone()),
            metrics: hris_telemetry::metrics_handle(),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let ops_addr = ops.local_addr()?;
        let (stop, ops_stop) = (shutdown.clone(), shutdown.clone());
        tokio::spawn(hris_receiver::serve_ops(ops, state.clone(), async move {
            ops_stop.cancelled().await
        }));
        tokio::spawn(async move {
            let _ =
                hris_receiver::serve(listener, state, async move { stop.cancelled().await }).await;
        });
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            addr,
            ops_addr,
            prefix: prefix.to_owned(),
            connection_name,
            connector,
            shutdown,
            http,
        })
    }

    pub async fn start(prefix: &str) -> anyhow::Result<Self> {
        Self::start_with(&crate::amqp_url(), prefix, true).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `/healthz`, `/readyz`, `/metrics`: on their own port, not the webhook's.
    pub fn ops_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.ops_addr)
    }

    /// Posts `body` signed with the test secret; returns the status.
    pub async fn post_signed(&self, body: &[u8]) -> anyhow::Result<u16> {
        let sig = hris_kombo::sign(SECRET, body);
        let r = self
            .http
            .post(self.url("/webhooks/kombo"))
            .header("X-Kombo-Signature", sig)
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await?;
        Ok(r.status().as_u16())
    }
}

/// A connector named `name` on `prefix`'s topology, running until the token
/// is cancelled; with `wait`, connected (up to 10 s) before it returns.
pub async fn connect(
    amqp_url: &str,
    name: &str,
    prefix: &str,
    wait: bool,
) -> anyhow::Result<(Arc<Connector>, CancellationToken)> {
    let connector = Connector::new(AmqpConfig::new(amqp_url, name), Topology::new(prefix));
    let shutdown = CancellationToken::new();
    connector.spawn(shutdown.clone());
    if wait {
        anyhow::ensure!(
            connector.wait_connected(Duration::from_secs(10)).await,
            "{name} did not connect to RabbitMQ\n{}",
            crate::broker::diagnosis()
        );
    }
    Ok((connector, shutdown))
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A `data-changed` event body.
pub fn data_changed(event_id: &str, integration_id: &str, models: &[&str]) -> Vec<u8> {
    let models: Vec<serde_json::Value> = models
        .iter()
        .map(|m| serde_json::json!({ "name": m }))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "id": event_id, "type": "data-changed",
        "data": { "integration_id": integration_id, "integration_tool": "personio", "integration_category": "HRIS", "changed_models": models }
    }))
    .unwrap_or_default()
}

/// A direct AMQP connection for looking into queues.
pub struct Inspector {
    _connection: Connection,
    channel: Channel,
    topology: Topology,
    _queues: TestQueues,
}

/// One message taken from a queue.
pub struct Taken {
    pub envelope: Envelope,
    pub message_id: Option<String>,
    pub delivery_mode: Option<u8>,
}

impl Inspector {
    pub async fn connect(prefix: &str) -> anyhow::Result<Self> {
        let connection = connect_first().await?;
        let channel = connection.create_channel().await?;
        let topology = Topology::new(prefix);
        topology.declare(&channel).await?;
        Ok(Self {
            _connection: connection,
            channel,
            topology,
            _queues: TestQueues::new(prefix),
        })
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Messages ready in `queue`.
    pub async fn depth(&self, queue: &str) -> anyhow::Result<u32> {
        let q = self
            .channel
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await?;
        Ok(q.message_count())
    }

    pub async fn entity_depth(&self, entity: Entity) -> anyhow::Result<u32> {
        self.depth(&self.topology.queue(entity)).await
    }

    /// Takes (and acks) every message now in `queue`.
    pub async fn drain(&self, queue: &str) -> anyhow::Result<Vec<Taken>> {
        let mut out = Vec::new();
        for (data, message) in self.drain_raw(queue).await? {
            out.push(Taken {
                envelope: serde_json::from_slice(&data)?,
                message_id: message.message_id(),
                delivery_mode: *message.properties.delivery_mode(),
            });
        }
        Ok(out)
    }

    /// Takes (and acks) every message now in `queue`, as bytes and headers.
    pub async fn drain_raw(
        &self,
        queue: &str,
    ) -> anyhow::Result<Vec<(Vec<u8>, hris_bus::Incoming)>> {
        let mut out = Vec::new();
        while let Some(message) = self
            .channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await?
        {
            let delivery = message.delivery;
            let incoming = hris_bus::Incoming {
                data: delivery.data.clone(),
                routing_key: delivery.routing_key.to_string(),
                queue: queue.to_owned(),
                redelivered: delivery.redelivered,
                properties: delivery.properties.clone(),
            };
            out.push((delivery.data.clone(), incoming));
            delivery.ack(BasicAckOptions::default()).await?;
        }
        Ok(out)
    }

    /// Dead letters now waiting, with their headers.
    pub async fn dead_letters(&self) -> anyhow::Result<Vec<hris_bus::Incoming>> {
        let queue = self.topology.dead_letter_queue();
        Ok(self
            .drain_raw(&queue)
            .await?
            .into_iter()
            .map(|(_, m)| m)
            .collect())
    }

    pub async fn drain_entity(&self, entity: Entity) -> anyhow::Result<Vec<Taken>> {
        self.drain(&self.topology.queue(entity)).await
    }

    /// Total messages ready in every entity queue.
    pub async fn total_depth(&self) -> anyhow::Result<u32> {
        let mut total = 0;
        for entity in Entity::ALL {
            total += self.entity_depth(entity).await?;
        }
        Ok(total)
    }
}

/// Deletes one prefix's queues and exchanges when dropped, so the shared
/// broker does not collect them: each quorum queue holds file descriptors, and
/// a broker out of descriptors accepts TCP but never answers the AMQP
/// handshake (every later test then fails to connect). Held by whatever
/// declares a test's topology: the inspector, a receiver process, a worker.
pub struct TestQueues(Topology);

impl TestQueues {
    pub fn new(prefix: &str) -> Self {
        Self(Topology::new(prefix))
    }
}

impl Drop for TestQueues {
    fn drop(&mut self) {
        let topology = self.0.clone();
        crate::run_detached(async move {
            let Ok(connection) = connect_first().await else {
                return;
            };
            if let Ok(channel) = connection.create_channel().await {
                let _ = topology.delete(&channel).await;
                // A test's witness queue, if it declared one (`burst`).
                let witness = crate::burst::witness_name(&topology.prefix);
                let _ = channel
                    .queue_delete(
                        witness.into(),
                        lapin::options::QueueDeleteOptions::default(),
                    )
                    .await;
            }
            let _ = connection.close(200, "cleanup".into()).await;
        });
    }
}

/// A connection to the first node of `amqp_url()` (comma-separated for a
/// cluster, as `AMQP_URL`) that answers; each try bounded to 10 s.
pub async fn connect_first() -> anyhow::Result<Connection> {
    let mut last = anyhow::anyhow!("no AMQP URL");
    for url in crate::amqp_url()
        .split(',')
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        let connect = Connection::connect(url, ConnectionProperties::default());
        match tokio::time::timeout(Duration::from_secs(10), connect).await {
            Ok(Ok(connection)) => return Ok(connection),
            Ok(Err(e)) => last = e.into(),
            Err(_) => last = anyhow::anyhow!("no AMQP connection within 10 s"),
        }
    }
    Err(last.context(crate::broker::diagnosis()))
}

/// Closes the broker-side connections whose client-provided name is `name`
/// (a targeted `rabbitmqctl close_all_connections` that leaves parallel tests alone).
pub async fn close_connections_named(name: &str) -> anyhow::Result<usize> {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "pid",
            "client_properties",
            "-q",
            "--no-table-headers",
        ])
        .output()
        .await?;
    anyhow::ensure!(
        out.status.success(),
        "rabbitmqctl list_connections: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8_lossy(&out.stdout);
    let needle = format!("{{\"connection_name\",\"{name}\"}}");
    let mut closed = 0;
    for line in listing.lines().filter(|l| l.contains(&needle)) {
        let Some(pid) = line.split('\t').next() else {
            continue;
        };
        let status = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "test: broker connection cut"])
            .output()
            .await?;
        if status.status.success() {
            closed += 1;
        }
    }
    Ok(closed)
}
