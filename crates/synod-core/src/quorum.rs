//! Quorums: which sets of nodes are enough for phase 1 (prepare) and phase 2 (accept).
//!
//! Majority quorums by default. Flexible Paxos (Howard et al., the seed's footnote) only needs
//! every phase-1 quorum to intersect every phase-2 quorum, i.e. `q1 + q2 > n`; [`Quorums::flexible`]
//! checks that at construction and returns an error rather than building an unsafe cluster.
//! [`Tally`] counts votes from *distinct* nodes and says exactly once when a quorum is reached.

use crate::NodeId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A set of node ids as a bit set (ids are below [`NodeId::LIMIT`]).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct NodeSet(u64);

impl NodeSet {
    /// The empty set.
    pub const EMPTY: NodeSet = NodeSet(0);

    /// Whether `node` is in the set (ids out of range are never members).
    pub fn contains(self, node: NodeId) -> bool {
        node.0 < NodeId::LIMIT && self.0 & (1u64 << node.0) != 0
    }

    /// Adds `node`; returns whether it was new. Ids out of range are refused (returns false).
    pub fn insert(&mut self, node: NodeId) -> bool {
        if node.0 >= NodeId::LIMIT || self.contains(node) {
            return false;
        }
        self.0 |= 1u64 << node.0;
        true
    }

    /// Number of members.
    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Members of either set.
    pub fn union(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 | other.0)
    }

    /// Members of both sets.
    pub fn intersection(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 & other.0)
    }

    /// This set without the members of `other`.
    pub fn difference(self, other: NodeSet) -> NodeSet {
        NodeSet(self.0 & !other.0)
    }

    /// Whether every member of this set is in `other`.
    pub fn is_subset(self, other: NodeSet) -> bool {
        self.difference(other).is_empty()
    }

    /// The members in increasing order.
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        (0..NodeId::LIMIT)
            .map(NodeId)
            .filter(move |n| self.contains(*n))
    }
}

impl FromIterator<NodeId> for NodeSet {
    fn from_iter<I: IntoIterator<Item = NodeId>>(iter: I) -> Self {
        let mut set = NodeSet::EMPTY;
        for n in iter {
            set.insert(n);
        }
        set
    }
}

/// Why a quorum configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum QuorumError {
    /// A cluster needs at least one node.
    #[error("a cluster needs at least one node")]
    NoNodes,
    /// Quorum sizes must be between 1 and the cluster size.
    #[error("quorum size {size} is outside 1..={nodes}")]
    OutOfRange {
        /// The offending size.
        size: usize,
        /// The cluster size.
        nodes: usize,
    },
    /// Phase-1 and phase-2 quorums might not intersect.
    #[error("q1 ({q1}) + q2 ({q2}) must exceed the cluster size ({nodes}) so that every prepare quorum meets every accept quorum")]
    NoIntersection {
        /// Phase-1 quorum size.
        q1: usize,
        /// Phase-2 quorum size.
        q2: usize,
        /// The cluster size.
        nodes: usize,
    },
}

/// The size of a majority of `nodes` members: the default quorum of both phases, and the only
/// place the formula is written.
pub const fn majority(nodes: usize) -> usize {
    nodes / 2 + 1
}

/// Quorum sizes for a cluster of `nodes`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Quorums {
    nodes: usize,
    q1: usize,
    q2: usize,
}

impl Quorums {
    /// Majority quorums for both phases (3 of 5).
    pub fn majority(nodes: usize) -> Result<Self, QuorumError> {
        let m = majority(nodes);
        Self::flexible(nodes, m, m)
    }

    /// Flexible quorums: `q1` promises for phase 1, `q2` accepts for phase 2, with `q1 + q2 > n`.
    pub fn flexible(nodes: usize, q1: usize, q2: usize) -> Result<Self, QuorumError> {
        if nodes == 0 {
            return Err(QuorumError::NoNodes);
        }
        for size in [q1, q2] {
            if size == 0 || size > nodes {
                return Err(QuorumError::OutOfRange { size, nodes });
            }
        }
        if q1 + q2 <= nodes {
            return Err(QuorumError::NoIntersection { q1, q2, nodes });
        }
        Ok(Quorums { nodes, q1, q2 })
    }

    #[cfg(feature = "model")]
    /// Quorums whose sizes are in range but which need not intersect (`q1 + q2 ≤ n` allowed).
    /// **Unsafe**: only for a model checker that demonstrates why [`Self::flexible`] refuses
    /// them (two values can then be chosen); a server never builds these.
    pub fn unchecked(nodes: usize, q1: usize, q2: usize) -> Result<Self, QuorumError> {
        match Self::flexible(nodes, q1, q2) {
            Err(QuorumError::NoIntersection { .. }) => Ok(Quorums { nodes, q1, q2 }),
            other => other,
        }
    }

    /// Quorum sizes taken from a validated [`crate::Configuration`], whose own rule
    /// (`q1 + q2 > |prepare ∪ accept|`) replaces this type's (`nodes` is the accept set's size,
    /// which sizes the read quorum).
    pub(crate) fn of_configuration(nodes: usize, q1: usize, q2: usize) -> Self {
        Quorums { nodes, q1, q2 }
    }

    /// Cluster size.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Promises needed to finish phase 1.
    pub fn q1(&self) -> usize {
        self.q1
    }

    /// Accepts needed to choose a value in phase 2.
    pub fn q2(&self) -> usize {
        self.q2
    }

    /// Equal reports needed by a one-round-trip read: a phase-2 quorum (so the reported
    /// proposal is chosen) that also meets every phase-2 quorum (so nothing chosen before the
    /// read began is missed): `max(q2, n − q2 + 1)`, a majority with majority quorums.
    pub fn read(&self) -> usize {
        self.q2.max(self.nodes - self.q2 + 1)
    }
}

#[cfg(test)]
mod read_quorum_tests {
    use super::*;

    #[test]
    fn a_read_quorum_is_a_phase_two_quorum_that_meets_every_other() {
        for n in 1..=7 {
            for q2 in 1..=n {
                let q1 = n - q2 + 1;
                let q = Quorums::flexible(n, q1, q2).unwrap();
                let r = q.read();
                assert!(r >= q2 && r + q2 > n && r <= n, "n={n} q2={q2} read={r}");
            }
        }
        assert_eq!(Quorums::majority(5).unwrap().read(), 3);
        assert_eq!(Quorums::flexible(5, 4, 2).unwrap().read(), 4);
        assert_eq!(Quorums::flexible(5, 2, 4).unwrap().read(), 4);
    }
}

/// Votes from distinct nodes towards a quorum of `needed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tally {
    voters: NodeSet,
    needed: usize,
}

impl Tally {
    /// An empty tally that needs `needed` distinct voters.
    pub fn new(needed: usize) -> Self {
        Tally {
            voters: NodeSet::EMPTY,
            needed,
        }
    }

    /// Counts `node`'s vote. Returns true exactly once: on the vote that first completes the
    /// quorum. A repeated vote from the same node, or any vote after the quorum, returns false.
    pub fn add(&mut self, node: NodeId) -> bool {
        self.voters.insert(node) && self.voters.len() == self.needed
    }

    /// Whether the quorum has been reached.
    pub fn reached(&self) -> bool {
        self.voters.len() >= self.needed
    }

    /// The distinct voters so far.
    pub fn voters(&self) -> NodeSet {
        self.voters
    }
}

#[cfg(feature = "model")]
impl crate::Relabel for Tally {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Tally {
            voters: self.voters.relabel(map),
            needed: self.needed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_is_more_than_half() {
        for (n, m) in [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (7, 4)] {
            let q = Quorums::majority(n).unwrap();
            assert_eq!((q.q1(), q.q2(), q.nodes()), (m, m, n));
        }
    }

    #[test]
    fn flexible_quorums_must_intersect() {
        assert!(Quorums::flexible(5, 4, 2).is_ok());
        assert!(Quorums::flexible(5, 1, 5).is_ok());
        assert_eq!(
            Quorums::flexible(5, 3, 2),
            Err(QuorumError::NoIntersection {
                q1: 3,
                q2: 2,
                nodes: 5
            })
        );
        assert_eq!(
            Quorums::flexible(3, 0, 3),
            Err(QuorumError::OutOfRange { size: 0, nodes: 3 })
        );
        assert_eq!(
            Quorums::flexible(3, 2, 4),
            Err(QuorumError::OutOfRange { size: 4, nodes: 3 })
        );
        assert_eq!(Quorums::majority(0), Err(QuorumError::NoNodes));
    }

    #[cfg(feature = "model")]
    #[test]
    fn unchecked_quorums_skip_only_the_intersection_rule() {
        let q = Quorums::unchecked(4, 2, 2).unwrap();
        assert_eq!((q.q1(), q.q2()), (2, 2));
        assert_eq!(
            Quorums::unchecked(3, 0, 3),
            Err(QuorumError::OutOfRange { size: 0, nodes: 3 })
        );
        assert_eq!(Quorums::unchecked(0, 1, 1), Err(QuorumError::NoNodes));
    }

    #[test]
    fn tally_counts_distinct_nodes_and_fires_once() {
        let mut t = Tally::new(2);
        assert!(!t.add(NodeId(1)));
        assert!(!t.add(NodeId(1)), "a duplicate vote does not count");
        assert!(!t.reached());
        assert!(
            t.add(NodeId(2)),
            "second distinct voter completes the quorum"
        );
        assert!(t.reached());
        assert!(!t.add(NodeId(3)), "a quorum is reported only once");
        assert_eq!(t.voters().len(), 3);
    }

    #[test]
    fn node_set_refuses_out_of_range_ids() {
        let mut s = NodeSet::EMPTY;
        assert!(!s.insert(NodeId(64)));
        assert!(!s.contains(NodeId(200)));
        assert!(s.insert(NodeId(63)));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![NodeId(63)]);
        let t: NodeSet = [NodeId(2), NodeId(0), NodeId(2)].into_iter().collect();
        assert_eq!(t.len(), 2);
        assert!(!t.is_empty());
    }
}
