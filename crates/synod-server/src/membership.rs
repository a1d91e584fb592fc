//! What every node of a cluster must agree on, checked at every start and every handshake: the
//! cluster's **founding membership** — its member ids and quorum sizes at creation.
//!
//! Paxos is only safe if every prepare quorum meets every accept quorum, and that holds only
//! when all nodes count votes over the same members with the same `q1` and `q2`. A node started
//! with another `--peers` id set or other quorum sizes than its peers (or than its own data
//! directory was created for) could form quorums that do not intersect. So the [`Membership`] is
//! recorded in the data directory's meta record at `--init` and checked at every start
//! ([`crate::storage`]), and carried in every peer handshake and checked by the receiver
//! ([`crate::wire`], [`crate::transport`]).
//!
//! The [`Membership`] compared there is the *founding* one, and it never changes: a membership
//! change (docs/protocol.md, "Membership change") moves the nodes through later
//! *configurations* (generations with their own sets and quorums), which the protocol core
//! carries in its messages and the replica installs durably; it does not touch the founding
//! membership. A node that joins later records the same founding membership as the founders
//! (`Replica::join` records `Membership::of(&founding_cluster)`), and a node that has installed
//! a later configuration still states the founding one. So the handshake identifies *the
//! cluster* (with its id): two nodes of one cluster accept each other whatever configuration
//! each has installed, and nodes of different clusters, or of a cluster mistakenly started with
//! other founding ids or quorum sizes, refuse each other.
//!
//! Peer *addresses* are not part of it: they are not safety-relevant (a node may move to a new
//! address with its disk), so they are not recorded. They are compared at the handshake, though
//! ([`Addresses`]), for the members both nodes list: nodes that list a member at different
//! addresses are misconfigured (two processes may be running as that member), while a node that
//! lists fewer members (it has not learned of a newly added node yet, or it is the new node and
//! knows only where to find some of the others) is not. Nodes that legitimately see each other
//! at different addresses (behind proxies, as in the chaos run) turn that comparison off.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use synod_core::{ClusterSpec, NodeId, NodeSet};

/// Member ids and quorum sizes (the effective sizes: majorities are spelled out). Compared at
/// every start and every handshake as the cluster's *founding* membership (see the module
/// documentation): it never changes, not even when members are added or removed.
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

/// Every node's peer address as one node knows it (its `--peers`, and the nodes it has learned
/// of since), sent in its handshakes so that the receiver can compare it with its own list, for
/// the nodes both list ([`Addresses::common`]), and learn the addresses of nodes it does not know.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addresses(pub BTreeMap<NodeId, String>);

impl Addresses {
    /// The entries of `self` for the nodes `other` lists too. Two lists agree when
    /// `a.common(&b) == b.common(&a)`: each may list nodes the other does not know (yet).
    pub fn common(&self, other: &Addresses) -> Addresses {
        Addresses(
            self.0
                .iter()
                .filter(|(id, _)| other.0.contains_key(id))
                .map(|(&id, address)| (id, address.clone()))
                .collect(),
        )
    }

    /// What differs between `self` (ours) and `other` (theirs), e.g. `node 3 at 10.0.0.3:7001
    /// here, 10.0.0.9:7001 there` (empty if nothing differs).
    pub fn differences(&self, other: &Addresses, here: &str, there: &str) -> String {
        let ids: std::collections::BTreeSet<NodeId> =
            self.0.keys().chain(other.0.keys()).copied().collect();
        let at = |list: &Addresses, id: NodeId| match list.0.get(&id) {
            Some(address) => format!("at {address}"),
            None => "not listed".to_owned(),
        };
        ids.into_iter()
            .filter(|id| self.0.get(id) != other.0.get(id))
            .map(|id| {
                format!(
                    "node {id} {} {here}, {} {there}",
                    at(self, id),
                    at(other, id)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// A node set shown as `{1, 2, 3}`.
pub struct Ids(pub NodeSet);

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

    #[test]
    fn address_differences_name_each_member_that_differs() {
        let list = |entries: &[(u8, &str)]| {
            Addresses(
                entries
                    .iter()
                    .map(|&(id, a)| (NodeId(id), a.to_owned()))
                    .collect(),
            )
        };
        let ours = list(&[(1, "h:1"), (2, "h:2"), (3, "h:3")]);
        assert_eq!(ours.differences(&ours, "here", "there"), "");
        let theirs = list(&[(1, "h:1"), (2, "h:9"), (3, "h:3"), (4, "h:4")]);
        assert_eq!(
            ours.differences(&theirs, "on node 1", "on node 4"),
            "node 2 at h:2 on node 1, at h:9 on node 4; node 4 not listed on node 1, at h:4 on node 4"
        );
        // Compared over the nodes both list, only node 2 differs.
        let (mine, yours) = (ours.common(&theirs), theirs.common(&ours));
        assert_eq!(
            mine.differences(&yours, "here", "there"),
            "node 2 at h:2 here, at h:9 there"
        );
        // A list that knows fewer nodes agrees, and so does one that knows more.
        let fewer = list(&[(1, "h:1"), (3, "h:3")]);
        assert_eq!(ours.common(&fewer), fewer.common(&ours));
        let more = list(&[(1, "h:1"), (2, "h:2"), (3, "h:3"), (4, "h:4")]);
        assert_eq!(ours.common(&more), more.common(&ours));
        assert_eq!(ours.common(&more), ours);
    }
}
