//! A phase-1 quorum held in advance: what makes the next write one round trip.
//!
//! When one-round-trip writes are on, every `Accept` a proposer sends at ballot `b` carries its
//! next ballot `n` (the smallest of its own above `b`). An acceptor that accepts `(b, v)`
//! promises `n` in the same durable step, so its `Accepted(b)` is also a `Promise(n)` whose
//! report is `(b, v)` — exactly what a `Prepare(n)` would have drawn from it at that moment.
//! Once a phase-1
//! quorum of such answers is in, phase 1 of ballot `n` is complete and its highest report is
//! `(b, v)`: the proposer's next operation on the register may send `Accept(n)` directly.
//!
//! The reservation is volatile (a restarted proposer starts with a full round) and only a
//! shortcut: it is used only while nothing above `n` has been seen, and any `Reject` or
//! timeout of the shortcut round falls back to a full round.

use crate::quorum::Tally;
use crate::{Ballot, NodeId, Proposal};

/// Promises of `next` gathered from the `Accepted` answers to `base`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reservation<V> {
    next: Ballot,
    base: Proposal<V>,
    promises: Tally,
}

impl<V> Reservation<V> {
    /// Starts collecting promises of `next` for the `Accept` of `base`; `q1` are needed.
    pub fn new(next: Ballot, base: Proposal<V>, q1: usize) -> Self {
        debug_assert!(
            next > base.ballot,
            "reservation invariant: the next ballot is above the accepted one"
        );
        Reservation {
            next,
            base,
            promises: Tally::new(q1),
        }
    }

    /// The reserved ballot.
    pub fn next(&self) -> Ballot {
        self.next
    }

    /// Counts `from`'s `Accepted(ballot)` as a promise of `next`, if it answers `base`.
    pub fn on_accepted(&mut self, from: NodeId, ballot: Ballot) {
        if ballot == self.base.ballot {
            self.promises.add(from);
        }
    }

    /// Phase 1 of `next` is complete — a phase-1 quorum promised it — and nothing above it has
    /// been seen since: the generation clock is still at its round, and the proposer's own
    /// acceptor (`floor`) promised nothing higher. Returns the ballot and phase 1's highest
    /// report.
    pub fn usable(&self, generation: u64, floor: Ballot) -> Option<(Ballot, &Proposal<V>)> {
        (self.promises.reached() && generation == self.next.round && floor == self.next)
            .then_some((self.next, &self.base))
    }
}

#[cfg(feature = "model")]
impl<V: Clone> crate::Relabel for Reservation<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Reservation {
            next: self.next.relabel(map),
            base: self.base.relabel(map),
            promises: self.promises.relabel(map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(round: u64, node: u8) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    #[test]
    fn usable_once_a_phase_one_quorum_answered_and_nothing_higher_was_seen() {
        let base = Proposal {
            ballot: b(1, 1),
            value: Some(3u8),
        };
        let mut r = Reservation::new(b(2, 1), base.clone(), 2);
        r.on_accepted(NodeId(1), b(1, 1));
        assert_eq!(r.usable(2, b(2, 1)), None, "one promise of two");
        r.on_accepted(NodeId(2), b(9, 9));
        assert_eq!(r.usable(2, b(2, 1)), None, "an answer to another ballot");
        r.on_accepted(NodeId(2), b(1, 1));
        assert_eq!(r.usable(2, b(2, 1)), Some((b(2, 1), &base)));
        assert_eq!(r.usable(3, b(2, 1)), None, "a higher round was seen");
        assert_eq!(
            r.usable(2, b(2, 3)),
            None,
            "the own acceptor promised higher"
        );
    }
}
