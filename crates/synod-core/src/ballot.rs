//! Node identities and ballots: the seed's *generation clock*.
//!
//! A [`Ballot`] is the pair `(round, node)` ordered by round, then node, so the node id breaks
//! ties between proposers that picked the same round: `[2,a] > [1,e] > [1,a]`. Every proposer
//! keeps the highest ballot it has seen and takes its next ballot strictly above it
//! ([`Ballot::next_above`]), which is how a retry always runs with a higher generation.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The identity of one node of the cluster. Ids are small (below [`NodeId::LIMIT`]) so that sets
/// of nodes fit one machine word (see [`crate::NodeSet`]).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u8);

impl NodeId {
    /// Node ids must be below this bound.
    pub const LIMIT: u8 = 64;
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A ballot (the seed's *generation*): a round number owned by one node.
///
/// Field order matters: the derived `Ord` compares `round` first and `node` second.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Ballot {
    /// The generation counter.
    pub round: u64,
    /// The proposer that owns this ballot; breaks ties between equal rounds.
    pub node: NodeId,
}

impl Ballot {
    /// The ballot below every real one: what an acceptor has promised before any prepare.
    pub const ZERO: Ballot = Ballot {
        round: 0,
        node: NodeId(0),
    };

    /// A ballot of `round` owned by `node`.
    pub const fn new(round: u64, node: NodeId) -> Self {
        Ballot { round, node }
    }

    /// The generation clock's tick: the ballot `node` uses after having seen `seen`.
    ///
    /// The round goes up by one (as in the seed: Cyrene, having seen `[2,a]`, prepares `[3,c]`),
    /// so the result is above `seen` whatever the node ids. A round of `u64::MAX` cannot be
    /// exceeded; the proposer then stays at `u64::MAX` and its prepares are rejected — a liveness
    /// loss only, and unreachable without 2^64 rounds or a forged message.
    pub fn next_above(seen: Ballot, node: NodeId) -> Ballot {
        Ballot {
            round: seen.round.saturating_add(1),
            node,
        }
    }
}

impl fmt::Display for Ballot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{},{}]", self.round, self.node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(1);
    const C: NodeId = NodeId(3);
    const E: NodeId = NodeId(5);

    #[test]
    fn ballots_order_by_round_then_node() {
        let a1 = Ballot::new(1, A);
        let e1 = Ballot::new(1, E);
        let a2 = Ballot::new(2, A);
        assert!(a2 > e1 && e1 > a1, "[2,a] > [1,e] > [1,a]");
        assert!(Ballot::ZERO < a1);
        assert_eq!(Ballot::new(1, A), a1, "equal ballots compare equal");
        assert_eq!(a1.cmp(&Ballot::new(1, A)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn next_ballot_is_above_what_was_seen_whatever_the_node() {
        // Cyrene has seen [2,a]: it takes [3,c] (the seed's T8).
        assert_eq!(Ballot::next_above(Ballot::new(2, A), C), Ballot::new(3, C));
        // A low node id that has seen a higher node's ballot of the same round still goes above.
        let seen = Ballot::new(7, E);
        let next = Ballot::next_above(seen, A);
        assert!(next > seen);
        assert_eq!(Ballot::next_above(Ballot::ZERO, A), Ballot::new(1, A));
    }

    #[test]
    fn next_ballot_saturates_instead_of_overflowing() {
        let top = Ballot::new(u64::MAX, E);
        assert_eq!(Ballot::next_above(top, A).round, u64::MAX);
    }

    #[test]
    fn display_is_the_seed_notation() {
        assert_eq!(Ballot::new(2, A).to_string(), "[2,1]");
    }
}
