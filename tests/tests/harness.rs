//! The harness itself: a test leaves no queues on the shared broker. Each
//! quorum queue holds file descriptors; enough leftovers and the broker stops
//! answering AMQP handshakes, failing every later test (seen in CI).

use hris_e2e::bus::Inspector;
use hris_e2e::receiver_process::ReceiverProcess;
use hris_e2e::{amqp_prefix, amqp_url};

/// The shared broker's queues whose names start with `prefix`.
async fn queues_of(prefix: &str) -> anyhow::Result<Vec<String>> {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name", "--no-table-headers"])
        .output()
        .await?;
    anyhow::ensure!(out.status.success(), "rabbitmqctl list_queues failed");
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|q| q.starts_with(prefix))
        .map(str::to_owned)
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_leaves_no_queues_on_the_shared_broker() -> anyhow::Result<()> {
    let inspected = amqp_prefix();
    let received = amqp_prefix();
    {
        let _inspector = Inspector::connect(&inspected).await?;
        let _receiver = ReceiverProcess::start(&amqp_url(), &received, &[]).await?;
        // The oracle first: both topologies exist while their owners live.
        assert!(!queues_of(&format!("{inspected}.")).await?.is_empty());
        assert!(!queues_of(&format!("{received}.")).await?.is_empty());
    }
    let left: Vec<String> = [
        queues_of(&format!("{inspected}.")).await?,
        queues_of(&format!("{received}.")).await?,
    ]
    .concat();
    assert!(left.is_empty(), "queues left behind: {left:?}");
    Ok(())
}
