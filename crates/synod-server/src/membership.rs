//! The cluster configuration every node must agree on: the member ids and the quorum sizes.
//!
//! Paxos is only safe if every prepare quorum meets every accept quorum, and that holds only
//! when all nodes count votes over the same members with the same `q1` and `q2`. A node started
//! with another `--peers` id set or other quorum sizes than its peers (or than its own data
//! directory was created for) could form quorums that do not intersect. So the [`Membership`] is
//! recorded in the data directory's meta record at `--init` and checked at every start
//! ([`crate::storage`]), and carried in every peer handshake and checked by the receiver
//! ([`crate::wire`], [`crate::transport`]).
//!
//! Peer *addresses* are not part of it: they are not safety-relevant (a node may move to a new
//! address with its disk), and nodes legitimately see each other at different addresses (e.g.
//! through the chaos run's proxies).

use serde::{Deserialize, Serialize};
use std::fmt;
use synod_core::{ClusterSpec, NodeId, NodeSet};

/// Member ids and quorum sizes (the effective sizes: majorities are spelled out).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Membership {
    /// The member ids.
    pub members: NodeSet,
    /// Phase-1 (prepare) quorum size.
    pub q1: usize,
    /// Phase-2 (accept) quorum size.
    pub q2: usize,
}

impl Membership {
    /// The membership of a cluster configuration.
    pub fn of(cluster: &ClusterSpec) -> Self {
        Membership {
            members: cluster.members(),
            q1: cluster.quorums().q1(),
            q2: cluster.quorums().q2(),
        }
    }

    /// `members` with majority quorums.
    pub fn majority(members: NodeSet) -> Self {
        let majority = synod_core::majority(members.len());
        Membership {
            members,
            q1: majority,
            q2: majority,
        }
    }

    /// What differs between `self` (ours) and `other` (theirs), e.g. `members {1, 2, 3} here,
    /// {1, 2} there; q2 2 here, 1 there` (empty if nothing differs).
    pub fn differences(&self, other: &Membership, here: &str, there: &str) -> String {
        let mut parts = Vec::new();
        if self.members != other.members {
            parts.push(format!(
                "members {} {here}, {} {there}",
                Ids(self.members),
                Ids(other.members)
            ));
        }
        for (name, ours, theirs) in [("q1", self.q1, other.q1), ("q2", self.q2, other.q2)] {
            if ours != theirs {
                parts.push(format!("{name} {ours} {here}, {theirs} {there}"));
            }
        }
        parts.join("; ")
    }
}

impl fmt::Display for Membership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "members {} with q1={}, q2={}",
            Ids(self.members),
            self.q1,
            self.q2
        )
    }
}

/// A node set shown as `{1, 2, 3}`.
struct Ids(NodeSet);

impl fmt::Display for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.0.iter().map(|id: NodeId| id.to_string()).collect();
        write!(f, "{{{}}}", ids.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn differences_name_what_differs() {
        let ours = Membership::majority(set(&[1, 2, 3]));
        assert_eq!(ours.to_string(), "members {1, 2, 3} with q1=2, q2=2");
        assert_eq!(ours.differences(&ours, "here", "there"), "");
        let theirs = Membership {
            members: set(&[1, 2]),
            q1: 2,
            q2: 1,
        };
        assert_eq!(
            ours.differences(&theirs, "here", "there"),
            "members {1, 2, 3} here, {1, 2} there; q2 2 here, 1 there"
        );
        let of = Membership::of(&ClusterSpec::new([NodeId(3), NodeId(1), NodeId(2)]).unwrap());
        assert_eq!(of, ours, "order of the member list does not matter");
    }
}
