//! A burst of signed webhooks sent as Kombo sends them (each retried until
//! answered 200), and a witness queue that records what the broker accepted:
//! how a failover test counts accepted webhooks against stored messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hris_bus::Entity;
use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString};

use crate::bus::data_changed;
use crate::stack::Stack;

/// A sender's pause between two events of a burst.
pub const BURST_PAUSE: Duration = Duration::from_millis(50);
/// Like Kombo, a sender retries what was not answered 200; bounded.
pub const MAX_TRIES: usize = 100;

/// One webhook attempt: which event, when it started and ended, the answer.
pub struct Attempt {
    pub event: String,
    pub start: Instant,
    pub end: Instant,
    pub status: u16,
}

/// One sender of a webhook burst: signed `data-changed` events, each retried
/// until answered 200 (as Kombo does), until `done`; its attempts and how many
/// events it gave up on.
pub async fn send_webhooks(
    s: usize,
    receiver_url: String,
    http: reqwest::Client,
    integration: String,
    done: Arc<AtomicBool>,
) -> (Vec<Attempt>, usize) {
    let mut attempts = Vec::new();
    let mut given_up = 0;
    // Bounded: the stop below ends the burst; 90 s is the backstop.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut n = 0;
    while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
        let event = format!("burst-{s}-{n}");
        n += 1;
        let body = data_changed(&event, &integration, &["hris_employees"]);
        let mut accepted = false;
        for _ in 0..MAX_TRIES {
            let start = Instant::now();
            let status = http
                .post(&receiver_url)
                .header(
                    "X-Kombo-Signature",
                    hris_kombo::sign(crate::bus::SECRET, &body),
                )
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            attempts.push(Attempt {
                event: event.clone(),
                start,
                end: Instant::now(),
                status,
            });
            if status == 200 {
                accepted = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !accepted {
            given_up += 1;
        }
        tokio::time::sleep(BURST_PAUSE).await;
    }
    (attempts, given_up)
}

/// The witness queue of a test's prefix (deleted with its topology).
pub fn witness_name(prefix: &str) -> String {
    format!("{prefix}.witness")
}

/// A witness queue bound like the employees queue: every message routed
/// there is routed here too (a confirm covers both), so it lists exactly
/// what the broker accepted, whatever the workers consume meanwhile.
pub async fn declare_witness(stack: &Stack) -> anyhow::Result<String> {
    let witness = witness_name(&stack.prefix);
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(b"quorum".to_vec())),
    );
    let channel = stack.inspector.channel();
    channel
        .queue_declare(
            witness.clone().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            args,
        )
        .await?;
    channel
        .queue_bind(
            witness.clone().into(),
            stack.inspector.topology().events_exchange().into(),
            Entity::Employees.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(witness)
}
