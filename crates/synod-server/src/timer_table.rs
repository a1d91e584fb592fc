//! The table of armed core timers, shared by the runtime and the deterministic simulation.
//!
//! The core asks for at most one timer per (key, [`Timer`]) at a time: setting one replaces the
//! previous, cancelling removes it. Whatever clock delivers the expiry (a tokio sleep in the
//! runtime, the simulated queue in `synod-harness`) cannot take back an expiry it has already
//! queued, so every arming gets a fresh *generation* and an expiry counts only if its
//! generation is still the armed one. `H` is what the driver needs to stop the clock early (a
//! tokio `AbortHandle`; `()` when stale expiries are simply ignored).

use bytes::Bytes;
use std::collections::HashMap;
use synod_core::Timer;

/// Armed timers by (key, timer), each with its generation and the driver's handle.
#[derive(Debug)]
pub struct TimerTable<H> {
    armed: HashMap<(Bytes, Timer), (u64, H)>,
    generation: u64,
}

impl<H> Default for TimerTable<H> {
    fn default() -> Self {
        TimerTable {
            armed: HashMap::new(),
            generation: 0,
        }
    }
}

impl<H> TimerTable<H> {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// The generation the next [`TimerTable::arm`] will use: schedule the expiry with it, then
    /// arm.
    pub fn next_generation(&self) -> u64 {
        self.generation + 1
    }

    /// Arms (key, timer) under [`TimerTable::next_generation`], replacing any earlier arming;
    /// returns the replaced arming's handle, for the driver to stop.
    pub fn arm(&mut self, key: Bytes, timer: Timer, handle: H) -> Option<H> {
        self.generation += 1;
        self.armed
            .insert((key, timer), (self.generation, handle))
            .map(|(_, old)| old)
    }

    /// An expiry of (key, timer) armed under `generation` arrived: true (and the timer is
    /// disarmed) if that arming is still current, false if it was replaced or cancelled since.
    pub fn fire(&mut self, key: &Bytes, timer: Timer, generation: u64) -> bool {
        let slot = (key.clone(), timer);
        if self.armed.get(&slot).map(|(g, _)| *g) == Some(generation) {
            self.armed.remove(&slot);
            true
        } else {
            false
        }
    }

    /// Disarms (key, timer); returns its handle if it was armed.
    pub fn cancel(&mut self, key: Bytes, timer: Timer) -> Option<H> {
        self.armed.remove(&(key, timer)).map(|(_, handle)| handle)
    }

    /// Disarms everything (the node crashed); generations keep counting up, so no expiry queued
    /// before the clear can match an arming made after it.
    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.armed.len()
    }

    /// Whether no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.armed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Bytes {
        Bytes::from_static(b"k")
    }

    #[test]
    fn only_the_current_arming_fires() {
        let mut table = TimerTable::new();
        let first = table.next_generation();
        assert_eq!(table.arm(key(), Timer::Round, "first"), None);
        let second = table.next_generation();
        assert_eq!(table.arm(key(), Timer::Round, "second"), Some("first"));
        assert!(
            !table.fire(&key(), Timer::Round, first),
            "a replaced arming is stale"
        );
        assert!(table.fire(&key(), Timer::Round, second));
        assert!(
            !table.fire(&key(), Timer::Round, second),
            "an expiry fires once"
        );
        assert!(table.is_empty());
    }

    #[test]
    fn cancelled_and_cleared_timers_do_not_fire() {
        let mut table = TimerTable::new();
        let round = table.next_generation();
        table.arm(key(), Timer::Round, ());
        let backoff = table.next_generation();
        table.arm(key(), Timer::Backoff, ());
        assert_eq!(table.len(), 2);
        assert_eq!(table.cancel(key(), Timer::Round), Some(()));
        assert!(!table.fire(&key(), Timer::Round, round));
        table.clear();
        assert!(!table.fire(&key(), Timer::Backoff, backoff));
        let after = table.next_generation();
        assert!(after > backoff, "generations are never reused");
        table.arm(key(), Timer::Backoff, ());
        assert!(table.fire(&key(), Timer::Backoff, after));
    }
}
