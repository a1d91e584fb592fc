//! Contention: how long a proposer waits between attempts, and how long a round may take.
//!
//! Duelling proposers can pre-empt each other forever (the seed's livelock; FLP says it cannot
//! be ruled out). The remedy is a random wait before retrying: attempt `n` waits a uniformly
//! random time in `[base, base · 2^(n-1)]`, capped at `max` ("full jitter" above a floor), so two
//! proposers that collided are unlikely to collide again. Safety never depends on these numbers.

use rand::Rng;
use std::time::Duration;
use synod_core::Timer;

/// Timing of rounds and retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How long a round waits for its quorums before it fails.
    pub round_timeout: Duration,
    /// The smallest backoff before a retry.
    pub backoff_base: Duration,
    /// The largest backoff before a retry.
    pub backoff_max: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            round_timeout: Duration::from_millis(500),
            backoff_base: Duration::from_millis(5),
            backoff_max: Duration::from_millis(500),
        }
    }
}

impl Timing {
    /// The upper bound of the wait before attempt `attempt` (1-based; attempt 2 is the first
    /// retry).
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.backoff_base
            .saturating_mul(1 << doublings)
            .min(self.backoff_max)
            .max(self.backoff_base)
    }

    /// A random wait before attempt `attempt`.
    pub fn backoff(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let low = self.backoff_base.min(self.backoff_max);
        let high = self.backoff_ceiling(attempt);
        if high <= low {
            return low;
        }
        rng.gen_range(low..=high)
    }

    /// How long the core's `timer` waits when it is set for attempt `attempt`: the round
    /// timeout, or a random backoff. The runtime and the simulation both ask this.
    pub fn delay(&self, timer: Timer, attempt: u32, rng: &mut impl Rng) -> Duration {
        match timer {
            Timer::Round => self.round_timeout,
            Timer::Backoff => self.backoff(attempt, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap_and_stays_in_bounds() {
        let t = Timing {
            round_timeout: Duration::from_millis(100),
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(100),
        };
        assert_eq!(t.backoff_ceiling(1), Duration::from_millis(10));
        assert_eq!(t.backoff_ceiling(2), Duration::from_millis(20));
        assert_eq!(t.backoff_ceiling(3), Duration::from_millis(40));
        assert_eq!(t.backoff_ceiling(9), Duration::from_millis(100));
        assert_eq!(t.backoff_ceiling(u32::MAX), Duration::from_millis(100));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let waits: Vec<Duration> = (0..200).map(|_| t.backoff(4, &mut rng)).collect();
        assert!(waits
            .iter()
            .all(|w| *w >= t.backoff_base && *w <= t.backoff_ceiling(4)));
        let distinct: std::collections::BTreeSet<_> = waits.iter().collect();
        assert!(distinct.len() > 10, "the wait is randomized");
    }
}
