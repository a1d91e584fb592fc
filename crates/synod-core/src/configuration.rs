//! One configuration of the acceptor set: a generation number, the **prepare set** with its
//! phase-1 quorum size `q1`, and the **accept set** with its phase-2 quorum size `q2`
//! (docs/protocol.md, "Membership change").
//!
//! In a stable cluster both sets are the members. While members are added or removed, the two
//! sets differ for one step: the accept set grows before the prepare set does, and the prepare
//! set shrinks before the accept set does. Every configuration is validated at construction:
//! every phase-1 quorum must meet every phase-2 quorum, which for quorums of `q1` members of the
//! prepare set and `q2` members of the accept set is `q1 + q2 > |prepare ∪ accept|`
//! ([`quorums_meet`]). Two configurations that may be in use at the same time must meet the same
//! way across each other ([`Configuration::meets`]); [`Configuration::check_step`] refuses a
//! next configuration that does not.

use crate::{NodeSet, Quorums};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Why a configuration, a step between two configurations or a change was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum MembershipError {
    /// The prepare set or the accept set is empty.
    #[error("a configuration needs at least one member in its prepare set and its accept set")]
    Empty,
    /// A quorum size is outside `1..=` its set's size.
    #[error("quorum size {size} is outside 1..={members}")]
    OutOfRange {
        /// The offending size.
        size: usize,
        /// The size of its set.
        members: usize,
    },
    /// Some phase-1 quorum could miss some phase-2 quorum of the same configuration.
    #[error("q1 ({q1}) + q2 ({q2}) must exceed the {members} members of the prepare and accept sets so that every prepare quorum meets every accept quorum")]
    NoIntersection {
        /// Phase-1 quorum size.
        q1: usize,
        /// Phase-2 quorum size.
        q2: usize,
        /// Members of either set.
        members: usize,
    },
    /// A step must go to the next generation.
    #[error("a step goes from generation {from} to {from} + 1, not to {to}")]
    NotNextGeneration {
        /// The current generation.
        from: u64,
        /// The proposed one.
        to: u64,
    },
    /// The quorums of two configurations that can be in use at once could miss each other.
    #[error("unsafe step: the quorums of generations {older} and {newer} could miss each other")]
    UnsafeStep {
        /// The older generation.
        older: u64,
        /// The newer generation.
        newer: u64,
    },
    /// A step needs every register caught up in the generation before it, and the plan does
    /// not say so.
    #[error("generation {newer} needs every register caught up in generation {} first: its quorums could miss those of generation {older}", newer - 1)]
    CatchUpMissing {
        /// The generation whose quorums the step could miss.
        older: u64,
        /// The step's generation.
        newer: u64,
    },
    /// A change starts from a stable configuration (prepare set = accept set).
    #[error("generation {0} is a step of a change in progress; finish it first")]
    ChangeInProgress(u64),
    /// The target members are the current ones.
    #[error("the target members are the current members: nothing to change")]
    NoChange,
}

/// One generation of the acceptor set (validated: its own quorums always meet).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Configuration {
    generation: u64,
    prepare: NodeSet,
    q1: u8,
    accept: NodeSet,
    q2: u8,
}

/// Whether every `q1` members of `prepare` meet every `q2` members of `accept` (sizes within
/// their sets): two disjoint such quorums need `q1 + q2` distinct members of `prepare ∪ accept`.
pub fn quorums_meet(prepare: NodeSet, q1: usize, accept: NodeSet, q2: usize) -> bool {
    q1 <= prepare.len() && q2 <= accept.len() && q1 + q2 > prepare.union(accept).len()
}

impl Configuration {
    /// Generation `generation` with phase-1 quorums of `q1` members of `prepare` and phase-2
    /// quorums of `q2` members of `accept`; refused unless those always meet.
    pub fn new(
        generation: u64,
        prepare: NodeSet,
        q1: usize,
        accept: NodeSet,
        q2: usize,
    ) -> Result<Self, MembershipError> {
        if prepare.is_empty() || accept.is_empty() {
            return Err(MembershipError::Empty);
        }
        for (size, set) in [(q1, prepare), (q2, accept)] {
            if size == 0 || size > set.len() {
                return Err(MembershipError::OutOfRange {
                    size,
                    members: set.len(),
                });
            }
        }
        if !quorums_meet(prepare, q1, accept, q2) {
            return Err(MembershipError::NoIntersection {
                q1,
                q2,
                members: prepare.union(accept).len(),
            });
        }
        Ok(Self::sized(generation, prepare, q1, accept, q2))
    }

    /// The same configuration, validated again: what arrived over the network or from a file
    /// was deserialized field by field, so it is checked like a new one before anything
    /// installs it.
    pub fn checked(self) -> Result<Self, MembershipError> {
        Self::new(
            self.generation,
            self.prepare,
            self.q1(),
            self.accept,
            self.q2(),
        )
    }

    /// Generation `generation` of `members`, with majority quorums in both phases.
    pub fn stable(generation: u64, members: NodeSet) -> Result<Self, MembershipError> {
        let m = crate::majority(members.len());
        Self::new(generation, members, m, members, m)
    }

    /// Generation 0 of a cluster whose members and (already validated) quorums are fixed at
    /// start: what every [`crate::ClusterSpec`] describes.
    pub fn initial(members: NodeSet, quorums: Quorums) -> Self {
        Self::sized(0, members, quorums.q1(), members, quorums.q2())
    }

    #[cfg(feature = "model")]
    /// A configuration whose quorums need not meet. **Unsafe**: only for a model checker's
    /// buggy double (a node that keeps an old configuration's quorum sizes), which must be
    /// caught; a server never builds these.
    pub fn unchecked(
        generation: u64,
        prepare: NodeSet,
        q1: usize,
        accept: NodeSet,
        q2: usize,
    ) -> Self {
        Self::sized(generation, prepare, q1, accept, q2)
    }

    fn sized(generation: u64, prepare: NodeSet, q1: usize, accept: NodeSet, q2: usize) -> Self {
        // Sizes are at most the sets' sizes, which are at most `NodeId::LIMIT` (64).
        Configuration {
            generation,
            prepare,
            q1: q1 as u8,
            accept,
            q2: q2 as u8,
        }
    }

    /// The generation: 0 at start, one more per step.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The acceptors whose promises count towards a phase-1 quorum.
    pub fn prepare(&self) -> NodeSet {
        self.prepare
    }

    /// Promises from the prepare set needed to finish phase 1.
    pub fn q1(&self) -> usize {
        self.q1 as usize
    }

    /// The acceptors whose acceptances count towards a phase-2 quorum (and a read quorum).
    pub fn accept(&self) -> NodeSet {
        self.accept
    }

    /// Acceptances from the accept set needed to choose a value.
    pub fn q2(&self) -> usize {
        self.q2 as usize
    }

    /// Everyone a node of this configuration talks to: the prepare and accept sets.
    pub fn members(&self) -> NodeSet {
        self.prepare.union(self.accept)
    }

    /// Whether the two sets are the same (no change in progress).
    pub fn is_stable(&self) -> bool {
        self.prepare == self.accept
    }

    /// The quorum sizes, for counting votes from the sets' members: `nodes` is the accept set's
    /// size, which sizes the one-round-trip read quorum (`max(q2, |accept| − q2 + 1)` members of
    /// the accept set).
    pub fn quorums(&self) -> Quorums {
        Quorums::of_configuration(self.accept.len(), self.q1(), self.q2())
    }

    /// Whether proposers of `self` and of `other` may be active at once: every phase-1 quorum
    /// of each meets every phase-2 quorum of the other.
    pub fn meets(&self, other: &Configuration) -> bool {
        quorums_meet(self.prepare, self.q1(), other.accept, other.q2())
            && quorums_meet(other.prepare, other.q1(), self.accept, self.q2())
    }

    /// Checks that `next` may follow `self`: the next generation, and quorums that meet across
    /// the two (proposers of adjacent generations may be active at once).
    pub fn check_step(&self, next: &Configuration) -> Result<(), MembershipError> {
        if next.generation != self.generation + 1 {
            return Err(MembershipError::NotNextGeneration {
                from: self.generation,
                to: next.generation,
            });
        }
        if !self.meets(next) {
            return Err(MembershipError::UnsafeStep {
                older: self.generation,
                newer: next.generation,
            });
        }
        Ok(())
    }
}

#[cfg(feature = "model")]
impl crate::Relabel for Configuration {
    fn relabel(&self, map: &dyn Fn(crate::NodeId) -> crate::NodeId) -> Self {
        Configuration {
            prepare: self.prepare.relabel(map),
            accept: self.accept.relabel(map),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn quorums_meet_exactly_when_they_cannot_be_disjoint() {
        // Brute force over every pair of quorums of small sets.
        let universe = set(&[1, 2, 3, 4, 5]);
        let subsets: Vec<NodeSet> = (0u32..32)
            .map(|bits| {
                universe
                    .iter()
                    .filter(|n| bits & (1 << (n.0 - 1)) != 0)
                    .collect()
            })
            .collect();
        for &p in &subsets {
            for &a in &subsets {
                for q1 in 1..=p.len() {
                    for q2 in 1..=a.len() {
                        let disjoint = subsets.iter().any(|&x| {
                            x.len() == q1
                                && x.is_subset(p)
                                && subsets.iter().any(|&y| {
                                    y.len() == q2 && y.is_subset(a) && x.difference(y) == x
                                })
                        });
                        assert_eq!(
                            quorums_meet(p, q1, a, q2),
                            !disjoint,
                            "{p:?} {q1} {a:?} {q2}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_configuration_whose_quorums_could_miss_is_refused() {
        let four = set(&[1, 2, 3, 4]);
        assert_eq!(
            Configuration::new(1, four, 2, four, 2),
            Err(MembershipError::NoIntersection {
                q1: 2,
                q2: 2,
                members: 4
            })
        );
        assert!(Configuration::new(1, set(&[1, 2, 3]), 2, four, 3).is_ok());
        assert_eq!(
            Configuration::new(1, set(&[1, 2, 3]), 4, four, 3),
            Err(MembershipError::OutOfRange {
                size: 4,
                members: 3
            })
        );
        assert_eq!(
            Configuration::new(1, NodeSet::EMPTY, 1, four, 3),
            Err(MembershipError::Empty)
        );
    }

    #[test]
    fn a_deserialized_configuration_is_checked_again() {
        let four = set(&[1, 2, 3, 4]);
        // Fields as a peer could send them: q1 + q2 = 4 over four members.
        let forged = Configuration::sized(3, four, 2, four, 2);
        assert_eq!(
            forged.checked(),
            Err(MembershipError::NoIntersection {
                q1: 2,
                q2: 2,
                members: 4
            })
        );
        let valid = Configuration::new(3, four, 3, four, 2).unwrap();
        assert_eq!(valid.checked(), Ok(valid));
    }

    #[test]
    fn the_initial_configuration_is_the_cluster() {
        let three = set(&[1, 2, 3]);
        let c = Configuration::initial(three, Quorums::majority(3).unwrap());
        assert_eq!(c, Configuration::stable(0, three).unwrap());
        assert!(c.is_stable());
        assert_eq!(c.quorums(), Quorums::majority(3).unwrap());
    }

    #[test]
    fn a_step_whose_quorums_miss_the_previous_ones_is_refused() {
        let abc = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        // Straight from {1,2,3} to {1,2,4}: {1,3} and {2,4} are quorums of each that miss.
        let abd = Configuration::stable(1, set(&[1, 2, 4])).unwrap();
        assert_eq!(
            abc.check_step(&abd),
            Err(MembershipError::UnsafeStep { older: 0, newer: 1 })
        );
        let grown = Configuration::new(1, set(&[1, 2, 3]), 2, set(&[1, 2, 3, 4]), 3).unwrap();
        assert_eq!(abc.check_step(&grown), Ok(()));
        assert_eq!(
            abc.check_step(&Configuration::stable(2, set(&[1, 2, 3, 4])).unwrap()),
            Err(MembershipError::NotNextGeneration { from: 0, to: 2 })
        );
    }
}
