//! Fault scenarios with seeded random timing, each ending in the convergence
//! oracle: broker connections cut during webhook bursts, database connections
//! terminated mid-transaction, RabbitMQ stopped and started during a sync.
//! Rounds and seed: HRIS_CHAOS_ROUNDS (CI runs the default, smaller scale),
//! HRIS_CHAOS_SEED. Workers SIGKILLed mid-sync: `chaos_kill.rs`.

use std::time::Duration;

use hris_bus::{Entity, FetchKind};
use hris_e2e::bus::data_changed;
use hris_e2e::chaos::{Timing, converged, counts, rounds};
use hris_e2e::stack::{Stack, eventually};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broker_connections_cut_during_webhook_bursts_lose_nothing() -> anyhow::Result<()> {
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 400, 72).await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    stack.settle(Duration::from_secs(60)).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let (mut accepted, mut refused, mut cuts) = (0, 0, 0);
    for round in 0..rounds(3) {
        for i in 0..10 {
            let e = &employees[(round * 10 + i) % employees.len()];
            stack.sim.mutate(&integration, json!({"op": "rename", "employee_id": e.id, "first_name": format!("R{round}x{i}"), "silent": true})).await?;
        }
        let burst = async {
            let mut results = Vec::new();
            for i in 0..40 {
                let body = data_changed(
                    &format!("burst-{round}-{i}"),
                    &integration,
                    &["hris_employees", "hris_teams"],
                );
                // Kombo retries what was not answered 200; so does this burst.
                let mut tries = 0;
                loop {
                    tries += 1;
                    let status = stack.receiver.post_signed(&body).await.unwrap_or(0);
                    results.push(status);
                    if status == 200 || tries > 50 {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            results
        };
        let cut = async {
            tokio::time::sleep(Duration::from_millis(timing.next(400))).await;
            let mut n = hris_e2e::bus::close_connections_named(&stack.receiver.connection_name)
                .await
                .unwrap_or(0);
            tokio::time::sleep(Duration::from_millis(timing.next(400))).await;
            for w in &stack.workers {
                n += hris_e2e::bus::close_connections_named(&w.connection_name)
                    .await
                    .unwrap_or(0);
            }
            n
        };
        let (results, n) = tokio::join!(burst, cut);
        cuts += n;
        accepted += results.iter().filter(|s| **s == 200).count();
        refused += results.iter().filter(|s| **s != 200).count();
        assert!(
            results.iter().all(|s| *s == 200 || *s == 503 || *s == 0),
            "only 200 or 503: {results:?}"
        );
    }
    stack.settle(Duration::from_secs(60)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/broker: {cuts} connections cut; {accepted} webhooks accepted, {refused} answered 503 (retried by the sender); {}; lost 0; duplicated effects 0",
        counts()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn database_connections_terminated_mid_transaction_lose_nothing() -> anyhow::Result<()> {
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 2000, 73).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 30}))
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    let admin = hris_e2e::admin_database_url();
    let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let mut terminated = 0i64;
    for _ in 0..rounds(5) {
        tokio::time::sleep(Duration::from_millis(100 + timing.next(500))).await;
        let n: i64 = client
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = $1 AND pid <> pg_backend_pid()) t",
                &[&stack.db.name],
            )
            .await?
            .get(0);
        terminated += n;
    }
    stack.sim.set_faults(&integration, json!({})).await?;
    eventually("the import completes", Duration::from_secs(120), || async {
        Ok(stack
            .count("SELECT count(*) FROM users WHERE tenant_id = $1", "acme")
            .await?
            == 2000)
    })
    .await?;
    stack.settle(Duration::from_secs(120)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/database: {terminated} database connections terminated mid-import; {}; lost 0; duplicated effects 0",
        counts()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rabbitmq_stopped_and_started_during_a_sync_loses_nothing() -> anyhow::Result<()> {
    // A node of its own: stopping the shared broker would fail every other test.
    let broker = hris_e2e::broker::PrivateBroker::start().await?;
    hris_e2e::use_amqp_url(&broker.url());
    let mut timing = Timing::from_env();
    let mut stack = Stack::start().await?;
    let integration = stack.tenant("acme", 1500, 74).await?;
    stack
        .sim
        .set_faults(&integration, json!({"slow_ms": 40}))
        .await?;
    stack
        .spawn_worker(&Entity::ALL, Duration::from_secs(5))
        .await?;
    stack.request_sync("acme", FetchKind::Full).await?;
    let employees = hris_e2e::conformance::employees(&stack, &integration).await?;
    let mut refused = 0;
    let mut accepted = 0;
    for round in 0..rounds(2) {
        tokio::time::sleep(Duration::from_millis(300 + timing.next(700))).await;
        broker.stop()?;
        // Kombo keeps sending while the broker is down: 503, retried later.
        let e = &employees[round * 11 % employees.len()];
        stack.sim.mutate(&integration, json!({"op": "promote", "employee_id": e.id, "job_title": format!("Outage {round}"), "silent": true})).await?;
        let body = data_changed(
            &format!("outage-{round}"),
            &integration,
            &["hris_employees"],
        );
        let status = stack.receiver.post_signed(&body).await.unwrap_or(0);
        assert_eq!(status, 503, "nothing durable without a broker");
        refused += 1;
        tokio::time::sleep(Duration::from_millis(1000 + timing.next(2000))).await;
        broker.start_again().await?;
        eventually(
            "the receiver takes events again",
            Duration::from_secs(60),
            || async { Ok(stack.receiver.post_signed(&body).await.unwrap_or(0) == 200) },
        )
        .await?;
        accepted += 1;
        // The test's own inspection connection died with the broker; open a new
        // one (forgetting the old: dropping it would delete the queues).
        let inspector = hris_e2e::bus::Inspector::connect(&stack.prefix).await?;
        std::mem::forget(std::mem::replace(&mut stack.inspector, inspector));
    }
    stack.sim.set_faults(&integration, json!({})).await?;
    stack.settle(Duration::from_secs(120)).await?;
    converged(&stack, "acme", &integration).await?;
    println!(
        "chaos/rabbitmq-restart: broker stopped and started {} times during a full sync; {refused} webhooks answered 503 while down, {accepted} accepted after; {}; lost 0; duplicated effects 0",
        rounds(2),
        counts()
    );
    Ok(())
}
