//! When a check stops before it has explored everything: its deadline (`--timeout`) or its
//! memory bound (`--max-memory`). Past either, the model's boundary closes — no further state is
//! expanded — so every search strategy drains its queue and returns, and the run is INCOMPLETE
//! with the reason named. Without a memory bound, a breadth-first search of a space too large
//! for the machine is killed by the kernel instead, with no verdict at all.
//!
//! A [`Stop`] is shared by the clones of a model the checker's threads hold; it remembers
//! whether it ever refused a state, which is exactly whether the run left something unexplored.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// How often (in boundary checks) the resident memory is read: reading it costs a few
/// microseconds, and at a million states a second this is about sixty reads a second.
const MEMORY_EVERY: u64 = 16_384;

/// Why a check stopped early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The deadline passed.
    Deadline,
    /// The process's resident memory passed the bound.
    Memory,
}

/// A check's deadline and memory bound, and whether either closed the boundary.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    deadline: Option<Instant>,
    max_resident_bytes: Option<u64>,
    checks: Arc<AtomicU64>,
    /// 0 while open, else the [`StopReason`] that closed it (1 deadline, 2 memory).
    tripped: Arc<AtomicU8>,
}

impl Stop {
    /// No bound: the boundary never closes.
    pub fn never() -> Self {
        Stop::default()
    }

    /// Closes at `deadline`, or once the resident memory exceeds `max_resident_bytes`.
    pub fn new(deadline: Option<Instant>, max_resident_bytes: Option<u64>) -> Self {
        Stop {
            deadline,
            max_resident_bytes,
            ..Stop::default()
        }
    }

    /// Whether the search may expand another state (the model's `within_boundary`). Once
    /// closed it stays closed.
    pub fn is_open(&self) -> bool {
        if self.tripped.load(Ordering::Relaxed) != 0 {
            return false;
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.trip(StopReason::Deadline);
            return false;
        }
        if let Some(bound) = self.max_resident_bytes {
            let n = self.checks.fetch_add(1, Ordering::Relaxed);
            if n.is_multiple_of(MEMORY_EVERY) && resident_bytes().is_some_and(|rss| rss > bound) {
                self.trip(StopReason::Memory);
                return false;
            }
        }
        true
    }

    /// Why the boundary closed, if it did: then some state was left unexpanded.
    pub fn reason(&self) -> Option<StopReason> {
        match self.tripped.load(Ordering::Relaxed) {
            0 => None,
            1 => Some(StopReason::Deadline),
            _ => Some(StopReason::Memory),
        }
    }

    fn trip(&self, reason: StopReason) {
        let code = match reason {
            StopReason::Deadline => 1,
            StopReason::Memory => 2,
        };
        let _ = self
            .tripped
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
    }
}

/// The default memory bound: 80 % of the machine's physical memory (`None` where the system
/// does not tell it), so that a search stops with a verdict before the kernel kills it.
pub fn default_memory_bound() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024 / 10 * 8)
}

/// A memory bound from the command line, in MB: `0` means none, absent means the default.
pub fn memory_bound_from_mb(mb: Option<u64>) -> Option<u64> {
    match mb {
        Some(0) => None,
        Some(mb) => Some(mb * 1024 * 1024),
        None => default_memory_bound(),
    }
}

/// A memory bound as the check's header and verdict print it: `1234MB`, or `none`.
pub fn megabytes(bound: Option<u64>) -> String {
    bound.map_or("none".into(), |b| format!("{}MB", b / (1024 * 1024)))
}

/// The process's resident memory now, in bytes.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn without_bounds_it_stays_open() {
        let stop = Stop::never();
        assert!((0..100_000).all(|_| stop.is_open()));
        assert_eq!(stop.reason(), None);
    }

    #[test]
    fn a_passed_deadline_closes_it_for_good() {
        let stop = Stop::new(Some(Instant::now() - Duration::from_millis(1)), None);
        assert!(!stop.is_open());
        assert!(!stop.clone().is_open(), "clones share the verdict");
        assert_eq!(stop.reason(), Some(StopReason::Deadline));
    }

    #[test]
    fn a_memory_bound_below_the_resident_size_closes_it() {
        let stop = Stop::new(None, Some(1));
        assert!(
            !stop.is_open(),
            "this process has more than one byte resident"
        );
        assert_eq!(stop.reason(), Some(StopReason::Memory));
        let roomy = Stop::new(None, Some(u64::MAX));
        assert!(roomy.is_open());
        assert_eq!(roomy.reason(), None);
    }

    #[test]
    fn zero_megabytes_means_no_bound() {
        assert_eq!(memory_bound_from_mb(Some(0)), None);
        assert_eq!(memory_bound_from_mb(Some(2)), Some(2 * 1024 * 1024));
    }
}
