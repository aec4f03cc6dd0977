//! The service on a real three-node RabbitMQ cluster (`tests/src/cluster.rs`):
//! receiver and workers list every node in `AMQP_URL`; one node is stopped
//! during a burst of signed webhooks, rejoins, and another is stopped while the
//! workers consume an import. No webhook answered 200 may be lost, the workers
//! carry on, the database ends equal to the simulator, and each stopped node's
//! queue members come back. Skips only when `rabbitmq-server` is not installed.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hris_bus::{Entity, FetchKind};
use hris_e2e::burst::{Attempt, MAX_TRIES, declare_witness, send_webhooks};
use hris_e2e::bus::data_changed;
use hris_e2e::cluster::{Cluster, await_full_membership, rabbitmq_installed, reconnect_inspector};
use hris_e2e::conformance::assert_converged;
use hris_e2e::metrics::counter;
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

/// Concurrent senders in the burst (each pausing `BURST_PAUSE` between
/// events: ≈ 80 webhooks/s, a steady stream across the failover, not a flood).
const SENDERS: usize = 4;
/// The burst keeps going this long after the node has stopped.
const AFTER_STOP: Duration = Duration::from_secs(3);

/// Connectors in this process: the receiver's and two per worker.
const CONNECTORS: u64 = 5;

/// `hris_sync_messages_total{queue, outcome="ok"}` of this process (its in-process workers).
fn applied(queue: &str) -> u64 {
    counter(
        "hris_sync_messages_total",
        &[&format!("queue=\"{queue}\""), "outcome=\"ok\""],
    )
}

/// Every (re)connect of this process's connectors.
fn connects() -> u64 {
    counter("hris_sync_amqp_connects_total", &[])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_of_three_stopped_during_webhooks_and_consumption_loses_nothing()
-> anyhow::Result<()> {
    if !rabbitmq_installed() {
        println!(
            "SKIPPED: rabbitmq-server is not installed, so no 3-node cluster can run here (CI installs it through scripts/services)"
        );
        return Ok(());
    }
    let test_started = Instant::now();
    let cluster = Cluster::start().await?;
    hris_e2e::use_amqp_url(&cluster.urls());
    let mut stack = Stack::start().await?;
    let prefix = stack.prefix.clone();

    // Quorum queues declared by the topology get a member on every node.
    let queues = cluster.queues(0, &prefix).await?;
    assert!(queues.len() >= 6, "the topology's queues: {queues:?}");
    for q in &queues {
        assert_eq!(q.kind, "quorum", "{}", q.name);
        assert_eq!(q.members.len(), 3, "{} has members {:?}", q.name, q.members);
        assert_eq!(q.online.len(), 3, "{} has online {:?}", q.name, q.online);
    }
    let led_by_first = queues
        .iter()
        .filter(|q| q.leader == cluster.nodes[0].name)
        .count();
    println!(
        "cluster: {} quorum queues, each with 3 members online; {led_by_first} led by node 1",
        queues.len(),
    );

    let witness = declare_witness(&stack).await?;

    let integration = stack.tenant("acme", 300, 81).await?;
    for _ in 0..2 {
        stack
            .spawn_worker(&Entity::ALL, Duration::from_secs(5))
            .await?;
    }
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let _ = stack.inspector.drain(&witness).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;

    // (1) A node stops during a burst of webhooks. Every client starts on the
    // first URL, so node 1 holds the receiver's and the workers' connections
    // and leads every queue (declared there): the hardest node to lose.
    for (i, e) in employees.iter().take(20).enumerate() {
        stack.sim.mutate(&integration, json!({"op": "rename", "employee_id": e.id, "first_name": format!("Failover{i}"), "silent": true})).await?;
    }
    let employees_queue = stack.inspector.topology().queue(Entity::Employees);
    let applied_before = applied(&employees_queue);
    let connects_before = connects();
    let done = Arc::new(AtomicBool::new(false));
    let burst_started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let done = done.clone();
            let receiver_url = stack.receiver.url("/webhooks/kombo");
            let http = stack.receiver.http.clone();
            let integration = integration.clone();
            tokio::spawn(send_webhooks(s, receiver_url, http, integration, done))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stop_issued = Instant::now();
    cluster.stop_node(0).await?;
    let stop_took = stop_issued.elapsed().as_secs_f64();
    tokio::time::sleep(AFTER_STOP).await;
    done.store(true, Ordering::SeqCst);
    let mut attempts = Vec::new();
    let mut given_up = 0;
    for sender in senders {
        let (a, g) = sender.await?;
        attempts.extend(a);
        given_up += g;
    }
    let burst_secs = burst_started.elapsed().as_secs_f64();
    reconnect_inspector(&mut stack).await?;

    let events: HashSet<&str> = attempts.iter().map(|a| a.event.as_str()).collect();
    let accepted: HashSet<&str> = attempts
        .iter()
        .filter(|a| a.status == 200)
        .map(|a| a.event.as_str())
        .collect();
    let oks = attempts.iter().filter(|a| a.status == 200).count();
    let unavailable = attempts.iter().filter(|a| a.status == 503).count();
    let other: Vec<u16> = attempts
        .iter()
        .filter(|a| a.status != 200 && a.status != 503)
        .map(|a| a.status)
        .collect();
    let before_stop = attempts.iter().filter(|a| a.end < stop_issued).count();
    // Failover: from the first refused attempt to the end of the last one (0
    // when the receiver never had to refuse).
    let refused: Vec<&Attempt> = attempts.iter().filter(|a| a.status != 200).collect();
    let failover_secs = match (
        refused.iter().map(|a| a.start).min(),
        refused.iter().map(|a| a.end).max(),
    ) {
        (Some(first), Some(last)) => (last - first).as_secs_f64(),
        _ => 0.0,
    };

    stack.settle(Duration::from_secs(90)).await?;
    let witnessed: Vec<String> = stack
        .inspector
        .drain(&witness)
        .await?
        .into_iter()
        .map(|t| t.envelope.event_id)
        .collect();
    let witnessed_ids: HashSet<&str> = witnessed.iter().map(String::as_str).collect();
    let lost: Vec<&&str> = accepted
        .iter()
        .filter(|e| !witnessed_ids.contains(**e))
        .collect();
    let applied_burst = applied(&employees_queue) - applied_before;
    let dead = stack.inspector.dead_letters().await?;
    let reconnects = connects() - connects_before;
    println!(
        "cluster/burst: node 1 stopped {:.1} s into a {burst_secs:.1} s burst (stop_app took {stop_took:.1} s); \
         {} webhooks sent ({before_stop} attempts answered before the stop), {} attempts: {oks} × 200, {unavailable} × 503, {} other; \
         {} accepted, {} given up; published (witnessed) {} messages for {} events, applied {applied_burst}; lost {}; \
         dead letters {}; {reconnects} reconnects of our {CONNECTORS} clients; failover {failover_secs:.2} s",
        (stop_issued - burst_started).as_secs_f64(),
        events.len(),
        attempts.len(),
        other.len(),
        accepted.len(),
        given_up,
        witnessed.len(),
        witnessed_ids.len(),
        lost.len(),
        dead.len(),
    );
    assert!(other.is_empty(), "answers other than 200 or 503: {other:?}");
    assert!(
        reconnects >= CONNECTORS,
        "every client was on node 1 and moved: {reconnects} reconnects"
    );
    assert_eq!(
        given_up, 0,
        "every event is accepted within {MAX_TRIES} tries"
    );
    assert_eq!(accepted.len(), events.len(), "every event accepted");
    assert!(lost.is_empty(), "accepted but lost: {lost:?}");
    assert!(
        applied_burst >= witnessed_ids.len() as u64,
        "each published message consumed: applied {applied_burst} < {}",
        witnessed_ids.len()
    );
    assert!(dead.is_empty(), "no dead letters");
    assert!(
        failover_secs < 15.0,
        "the receiver fails over within 15 s, took {failover_secs:.1} s"
    );
    // Rates vary with the machine's load; what matters is that webhooks were
    // answered on both sides of the stop.
    let after_stop = attempts.iter().filter(|a| a.start > stop_issued).count();
    assert!(
        before_stop > 0 && after_stop > 0,
        "the burst spans the stop: {before_stop} attempts answered before, {after_stop} started after"
    );
    assert_converged(&stack, "acme", &integration).await?;

    // The real binary takes the same list from AMQP_URL: with node 1 still
    // down, "Import all" connects through the next node.
    let cli_started = Instant::now();
    stack.cli(&["import-all", "--tenant", "acme"]).await?;
    let cli_secs = cli_started.elapsed().as_secs_f64();
    stack.settle(Duration::from_secs(60)).await?;
    assert_converged(&stack, "acme", &integration).await?;
    println!(
        "cluster/cli: `hris-sync import-all` with node 1 (first in AMQP_URL) down: published in {cli_secs:.1} s, synced"
    );

    // (3) The node rejoins: its members of every queue come back online.
    let start_issued = Instant::now();
    cluster.start_node(0).await?;
    let members_back = await_full_membership(&cluster, 1, &prefix).await?;
    println!(
        "cluster/rejoin: node 1 started again in {:.1} s; every queue has its 3 members online {members_back:.1} s later",
        start_issued.elapsed().as_secs_f64() - members_back
    );

    // (2) A node stops while the workers consume an import (and webhooks).
    let integration2 = stack.tenant("globex", 2000, 82).await?;
    stack
        .sim
        .set_faults(&integration2, json!({"slow_ms": 400}))
        .await?;
    let applied_before2 = applied(&employees_queue);
    stack.request_sync("globex", FetchKind::Full).await?;
    for (i, e) in employees.iter().skip(20).take(10).enumerate() {
        stack.sim.mutate(&integration, json!({"op": "promote", "employee_id": e.id, "job_title": format!("Consumption {i}"), "silent": true})).await?;
    }
    let mut webhooks = 0;
    for i in 0..20 {
        let body = data_changed(&format!("consume-{i}"), &integration, &["hris_employees"]);
        assert_eq!(stack.receiver.post_signed(&body).await?, 200);
        webhooks += 1;
    }
    // Mid-import: some pages applied, more to come (slow pages keep it going).
    eventually("an import half done", Duration::from_secs(30), || async {
        let users = stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "globex")
            .await?;
        Ok(users > 0 && users < 2000)
    })
    .await?;
    let users_at_stop = stack
        .count("SELECT count(*) FROM users WHERE tenant_id = $1", "globex")
        .await?;
    // Stop the node holding most of the workers' consumer connections (after
    // the first failover they are spread over the other two nodes).
    let consumers: HashSet<String> = stack
        .workers
        .iter()
        .map(|w| w.connection_name.clone())
        .collect();
    let mut held = Vec::new();
    for i in 0..3 {
        let names = cluster.connection_names(i).await?;
        let ours = names
            .iter()
            .filter(|n| {
                n.contains(&prefix) || stack.workers.iter().any(|w| n.starts_with(&w.owner))
            })
            .count();
        let consuming = names.iter().filter(|n| consumers.contains(*n)).count();
        held.push((consuming, ours, i));
    }
    let &(consuming, ours_on_victim, victim) = held.iter().max().unwrap_or(&(0, 0, 1));
    assert!(consuming > 0, "a node holds a worker's consumer: {held:?}");
    let connects_before = connects();
    let stop2 = Instant::now();
    cluster.stop_node(victim).await?;
    let stop2_took = stop2.elapsed().as_secs_f64();
    reconnect_inspector(&mut stack).await?;
    // Changes after the stop: the receiver and the workers must carry them
    // through the surviving nodes (Kombo retries a 503, so does this loop).
    let (mut after_ok, mut after_503) = (0, 0);
    for (i, e) in employees.iter().skip(30).take(10).enumerate() {
        stack.sim.mutate(&integration, json!({"op": "rename", "employee_id": e.id, "first_name": format!("After{i}"), "silent": true})).await?;
        let body = data_changed(&format!("after-{i}"), &integration, &["hris_employees"]);
        let mut tries = 0;
        loop {
            tries += 1;
            match stack.receiver.post_signed(&body).await? {
                200 => {
                    after_ok += 1;
                    break;
                }
                503 if tries < MAX_TRIES => after_503 += 1,
                status => anyhow::bail!("webhook after the stop: {status} after {tries} tries"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    eventually(
        "the import completes on the remaining nodes",
        Duration::from_secs(90),
        || async {
            Ok(stack
                .count("SELECT count(*) FROM users WHERE tenant_id = $1", "globex")
                .await?
                == 2000)
        },
    )
    .await?;
    let import_done = stop2.elapsed().as_secs_f64();
    // An idle client notices a dead connection on its next look (500 ms) and
    // may be in its reconnect backoff: give it a bounded while.
    eventually(
        "every client of the stopped node reconnected",
        Duration::from_secs(20),
        || async { Ok(connects() - connects_before >= ours_on_victim as u64) },
    )
    .await?;
    let reconnects = connects() - connects_before;
    stack.sim.set_faults(&integration2, json!({})).await?;
    stack.settle(Duration::from_secs(90)).await?;
    assert_converged(&stack, "globex", &integration2).await?;
    assert_converged(&stack, "acme", &integration).await?;
    let dead = stack.inspector.dead_letters().await?;
    assert!(dead.is_empty(), "no dead letters after the second stop");
    let cut_short = stack
        .count(
            "SELECT count(*) FROM sync_runs WHERE tenant_id = $1 AND status <> 'succeeded'",
            "globex",
        )
        .await?;
    let start2 = Instant::now();
    cluster.start_node(victim).await?;
    let members_back2 = await_full_membership(&cluster, (victim + 1) % 3, &prefix).await?;
    println!(
        "cluster/consumption: node {} (holding {consuming} worker consumers, {ours_on_victim} of our connections) stopped (stop_app {stop2_took:.1} s) with {users_at_stop} of 2000 people imported, after {webhooks} webhooks; \
         {after_ok} webhooks accepted after the stop ({after_503} × 503 first); \
         {reconnects} reconnects; import finished {import_done:.1} s after the stop; {cut_short} runs cut short; {} messages applied; both tenants converged; \
         dead letters 0; node {} started again, all members online {:.1} s after the start ({members_back2:.1} s after the app was up)",
        victim + 1,
        applied(&employees_queue) - applied_before2,
        victim + 1,
        start2.elapsed().as_secs_f64()
    );

    let total = test_started.elapsed().as_secs_f64();
    println!("cluster: whole scenario {total:.0} s");
    drop(stack);
    drop(cluster);
    Ok(())
}
