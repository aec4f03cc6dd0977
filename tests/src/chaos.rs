//! What the chaos scenarios share: seeded timings, the round count, this
//! process's message counters, and the convergence check that ends each one.

use crate::conformance::assert_converged;
use crate::metrics::counter;
use crate::stack::Stack;

/// A small deterministic generator: the same seed replays the same timings.
pub struct Timing(u64);

impl Timing {
    pub fn from_env() -> Self {
        let seed = std::env::var("HRIS_CHAOS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20261122);
        println!("HRIS_CHAOS_SEED={seed}");
        Self(seed)
    }
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below.max(1)
    }
}

/// This process's counters (receiver and in-process workers): messages
/// published, applied, retried and dead-lettered.
pub fn counts() -> String {
    format!(
        "published {}, applied {}, retried {}, dead-lettered {}",
        counter("hris_sync_amqp_publish_seconds_count", &[]),
        counter("hris_sync_messages_total", &["outcome=\"ok\""]),
        counter("hris_sync_message_failures_total", &["action=\"retry\""]),
        counter(
            "hris_sync_message_failures_total",
            &["action=\"dead_letter\""]
        ),
    )
}

pub fn rounds(default: usize) -> usize {
    std::env::var("HRIS_CHAOS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

pub async fn converged(stack: &Stack, tenant: &str, integration: &str) -> anyhow::Result<()> {
    assert_converged(stack, tenant, integration).await?;
    let duplicated = stack
        .count(
            "SELECT count(*) FROM (SELECT record_kombo_id, field, old_value, new_value FROM change_log
             WHERE tenant_id = $1 GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d",
            tenant,
        )
        .await?;
    assert_eq!(duplicated, 0, "an effect was applied twice");
    Ok(())
}
