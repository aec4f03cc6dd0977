//! The retry policy, pure: given a failure and how often the message has already
//! gone round, retry after which delay tier, or dead-letter now. No I/O and no
//! clock, so every rule is a property test.

use std::time::Duration;

use crate::failure::FailureClass;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Delay of each tier (the delay queues), shortest first.
    pub delays: Vec<Duration>,
    /// Trips through the delay queues before a retryable failure is dead-lettered.
    pub max_attempts: u32,
    /// Jitter as a fraction of the delay (0.2 = ±20 %), so that a burst of
    /// failures does not come back as a burst.
    pub jitter: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    /// Publish to delay tier `tier` with this per-message TTL.
    Retry { tier: usize, delay: Duration },
    /// Dead-letter now, saying why.
    DeadLetter { reason: DeadLetterReason },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterReason {
    /// The failure can never succeed (permanent or poison).
    Permanent,
    /// Retryable, but `max_attempts` trips did not help.
    RetriesExhausted,
}

impl DeadLetterReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DeadLetterReason::Permanent => "permanent_failure",
            DeadLetterReason::RetriesExhausted => "retries_exhausted",
        }
    }
}

impl RetryPolicy {
    pub fn new(delays: Vec<Duration>, max_attempts: u32) -> Self {
        Self {
            delays,
            max_attempts,
            jitter: 0.2,
        }
    }

    /// `attempt` is how many trips the message has made (0 on first delivery);
    /// `unit` is a random number in [-1, 1] that picks the jitter.
    pub fn decide(
        &self,
        class: FailureClass,
        attempt: u32,
        retry_after: Option<Duration>,
        unit: f64,
    ) -> Decision {
        if matches!(class, FailureClass::Permanent | FailureClass::Poison) || self.delays.is_empty()
        {
            let reason = if self.delays.is_empty() && class == FailureClass::Retryable {
                DeadLetterReason::RetriesExhausted
            } else {
                DeadLetterReason::Permanent
            };
            return Decision::DeadLetter { reason };
        }
        if attempt >= self.max_attempts {
            return Decision::DeadLetter {
                reason: DeadLetterReason::RetriesExhausted,
            };
        }
        let last = self.delays.len() - 1;
        let by_attempt = match class {
            // Not ready means minutes to hours: go straight to the longest wait.
            FailureClass::NotReady => last,
            _ => (attempt as usize).min(last),
        };
        // Never come back before Kombo said we may: the first tier that long.
        let by_retry_after = retry_after
            .and_then(|after| self.delays.iter().position(|d| *d >= after))
            .unwrap_or(if retry_after.is_some() { last } else { 0 });
        let tier = by_attempt.max(by_retry_after);
        let base = self.delays[tier].as_secs_f64();
        let factor = 1.0 + self.jitter.clamp(0.0, 1.0) * unit.clamp(-1.0, 1.0);
        let mut delay = Duration::from_secs_f64((base * factor).max(0.0));
        if let Some(after) = retry_after {
            delay = delay.max(after.min(self.delays[last]));
        }
        Decision::Retry { tier, delay }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::new([5, 30, 120, 600, 1800].map(Duration::from_secs).to_vec(), 8)
    }

    #[test]
    fn tiers_grow_then_stay_at_the_longest() {
        let p = policy();
        let tiers: Vec<usize> = (0..8)
            .map(|a| match p.decide(FailureClass::Retryable, a, None, 0.0) {
                Decision::Retry { tier, .. } => tier,
                Decision::DeadLetter { .. } => usize::MAX,
            })
            .collect();
        assert_eq!(tiers, [0, 1, 2, 3, 4, 4, 4, 4]);
        assert_eq!(
            p.decide(FailureClass::Retryable, 8, None, 0.0),
            Decision::DeadLetter {
                reason: DeadLetterReason::RetriesExhausted
            }
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let p = policy();
        let Decision::Retry { tier, delay } = p.decide(
            FailureClass::Retryable,
            0,
            Some(Duration::from_secs(60)),
            -1.0,
        ) else {
            panic!("expected a retry");
        };
        assert_eq!(tier, 2);
        assert!(delay >= Duration::from_secs(60));
    }

    proptest! {
        #[test]
        fn permanent_and_poison_never_retry(attempt in 0u32..100, unit in -1.0f64..=1.0) {
            for class in [FailureClass::Permanent, FailureClass::Poison] {
                prop_assert_eq!(
                    policy().decide(class, attempt, None, unit),
                    Decision::DeadLetter { reason: DeadLetterReason::Permanent }
                );
            }
        }

        #[test]
        fn delays_stay_within_jitter_of_their_tier(
            attempt in 0u32..8,
            unit in -1.0f64..=1.0,
            not_ready in any::<bool>(),
        ) {
            let p = policy();
            let class = if not_ready { FailureClass::NotReady } else { FailureClass::Retryable };
            match p.decide(class, attempt, None, unit) {
                Decision::Retry { tier, delay } => {
                    let base = p.delays[tier].as_secs_f64();
                    prop_assert!(delay.as_secs_f64() >= base * (1.0 - p.jitter) - 1e-9);
                    prop_assert!(delay.as_secs_f64() <= base * (1.0 + p.jitter) + 1e-9);
                }
                Decision::DeadLetter { .. } => prop_assert!(false, "retryable under the limit"),
            }
        }

        #[test]
        fn later_attempts_never_wait_less(attempt in 0u32..7) {
            let p = policy();
            let tier = |a| match p.decide(FailureClass::Retryable, a, None, 0.0) {
                Decision::Retry { tier, .. } => tier,
                Decision::DeadLetter { .. } => usize::MAX,
            };
            prop_assert!(tier(attempt + 1) >= tier(attempt));
        }

        #[test]
        fn every_message_ends_within_max_attempts(start in 0u32..20) {
            // Following the policy from any attempt count, a failing message is
            // dead-lettered after at most max_attempts trips in all.
            let p = policy();
            let mut attempt = start;
            let mut trips = 0;
            while let Decision::Retry { .. } = p.decide(FailureClass::Retryable, attempt, None, 0.0) {
                attempt += 1;
                trips += 1;
                prop_assert!(trips <= p.max_attempts);
            }
            prop_assert!(attempt >= p.max_attempts);
        }

        #[test]
        fn never_sooner_than_retry_after(after_s in 0u64..4000, attempt in 0u32..8, unit in -1.0f64..=1.0) {
            let p = policy();
            let after = Duration::from_secs(after_s);
            if let Decision::Retry { delay, .. } = p.decide(FailureClass::Retryable, attempt, Some(after), unit) {
                prop_assert!(delay >= after.min(p.delays[p.delays.len() - 1]));
            }
        }
    }
}
