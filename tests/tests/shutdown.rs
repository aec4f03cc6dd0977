//! A consumer's shutdown fits the platform's grace: in-flight work that never
//! finishes holds the exit for `shutdown_grace` once, not once on the channel
//! and again in the final wait (which took twice the grace, past a pod's 30 s).

use std::sync::Arc;
use std::time::{Duration, Instant};

use hris_bus::{
    AmqpConfig, Connector, Consumer, ConsumerConfig, Entity, Envelope, Failure, FetchKind, Handler,
    Incoming, Publisher, RetryPolicy, Topology, Trigger,
};
use hris_e2e::amqp_prefix;
use hris_e2e::bus::TestQueues;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Signals that it started, then works for far longer than any grace.
struct Stuck(Arc<Notify>);

impl Handler for Stuck {
    async fn handle(&self, _: &Incoming) -> Result<(), Failure> {
        self.0.notify_one();
        tokio::time::sleep(Duration::from_secs(600)).await;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_work_holds_the_exit_for_one_grace_period() -> anyhow::Result<()> {
    let prefix = amqp_prefix();
    let _queues = TestQueues::new(&prefix);
    let topology = Topology::new(&prefix);
    let queue = topology.queue(Entity::Employees);
    let connector = Connector::new(
        AmqpConfig::new(hris_e2e::amqp_url(), "shutdown-test"),
        topology,
    );
    let connection = CancellationToken::new();
    connector.spawn(connection.clone());
    anyhow::ensure!(
        connector.wait_connected(Duration::from_secs(10)).await,
        "no broker"
    );
    Publisher::new(connector.clone())
        .publish(Envelope::new(
            "E-stuck",
            None,
            Entity::Employees,
            FetchKind::Incremental,
            Trigger::Webhook,
        ))
        .await?;

    let grace = Duration::from_secs(2);
    let mut config = ConsumerConfig::new(queue, RetryPolicy::new(vec![Duration::from_secs(1)], 3));
    config.shutdown_grace = grace;
    let started = Arc::new(Notify::new());
    let consumer = Consumer::new(config, connector.clone(), Stuck(started.clone()));
    let shutdown = CancellationToken::new();
    let run = tokio::spawn(consumer.run(shutdown.clone()));
    tokio::time::timeout(Duration::from_secs(20), started.notified()).await?;

    let asked = Instant::now();
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(30), run).await??;
    let took = asked.elapsed();
    connection.cancel();
    println!("shutdown with stuck work took {took:.2?} (grace {grace:?})");
    assert!(took >= grace, "gave up before the grace: {took:?}");
    // One grace plus the channel's bounded close, well short of two graces.
    assert!(
        took < grace * 3 / 2 + Duration::from_millis(500),
        "took {took:?}"
    );
    Ok(())
}
