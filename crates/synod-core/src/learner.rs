//! The learner: knows which value was chosen, from a `Commit` or from a phase-2 quorum of
//! `Accepted` answers at one ballot.
//!
//! `Accepted` carries only a ballot, so the learner counts votes for a proposal whose value it
//! knows: the one its own node's proposer sent out ([`Learner::expect`]). In register mode values
//! keep being chosen at ever higher ballots; the learner keeps the highest.

use crate::quorum::Tally;
use crate::{NodeId, Proposal};

/// One learner.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Learner<V> {
    learned: Option<Proposal<V>>,
    /// The vote count in progress: boxed, and absent between rounds, so that an idle register
    /// carries only a pointer for it (it compares, orders and hashes as its content).
    pending: Option<Box<(Proposal<V>, Tally)>>,
}

/// A proposal the learner has just seen chosen by a phase-2 quorum.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chosen<V> {
    /// The chosen proposal.
    pub proposal: Proposal<V>,
    /// Whether this is news to the learner (false if it already knew it, e.g. from a Commit).
    pub newly_learned: bool,
}

impl<V> Default for Learner<V> {
    fn default() -> Self {
        Learner {
            learned: None,
            pending: None,
        }
    }
}

impl<V: Clone + PartialEq> Learner<V> {
    /// A learner that has learned nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest-ballot proposal known to be chosen.
    pub fn learned(&self) -> Option<&Proposal<V>> {
        self.learned.as_ref()
    }

    /// Starts counting `Accepted` votes for `proposal` (replacing any earlier count); `q2` of
    /// them choose it.
    pub fn expect(&mut self, proposal: Proposal<V>, q2: usize) {
        self.pending = Some(Box::new((proposal, Tally::new(q2))));
    }

    /// Counts one `Accepted` vote. Returns the proposal on the vote that completes its quorum,
    /// exactly once; duplicates and votes for other ballots return `None`.
    pub fn on_accepted(&mut self, from: NodeId, ballot: crate::Ballot) -> Option<Chosen<V>> {
        let (proposal, tally) = self.pending.as_deref_mut()?;
        debug_assert!(
            !tally.reached(),
            "learner invariant: an open vote count has not reached its quorum"
        );
        if proposal.ballot != ballot || !tally.add(from) {
            return None;
        }
        // The count is over: later votes for this proposal change nothing, so it is not kept.
        let (proposal, _) = *self.pending.take()?;
        let newly_learned = self.learn(proposal.clone());
        Some(Chosen {
            proposal,
            newly_learned,
        })
    }

    #[cfg(feature = "model")]
    /// Forgets the learned proposal, unless a vote count is open. For a model checker's
    /// normalization of a node whose learned value nothing reads any more; a server never calls
    /// it.
    pub fn forget(&mut self) {
        if self.pending.is_none() {
            self.learned = None;
        }
    }

    /// Learns from a `Commit`. Returns whether it was news.
    pub fn on_commit(&mut self, proposal: Proposal<V>) -> bool {
        self.learn(proposal)
    }

    fn learn(&mut self, proposal: Proposal<V>) -> bool {
        match &self.learned {
            Some(known) if known.ballot >= proposal.ballot => {
                check_same_value(known, &proposal);
                false
            }
            _ => {
                self.learned = Some(proposal);
                true
            }
        }
    }
}

/// What a learner learned at a ballot never changes to a different value: `known` and `news`,
/// if at one ballot, carry one value (otherwise two values were chosen at one ballot).
fn check_same_value<V: PartialEq>(known: &Proposal<V>, news: &Proposal<V>) {
    debug_assert!(
        known.ballot != news.ballot || known.value == news.value,
        "learner invariant: the learned value never changes at one ballot \
         (two values chosen at one ballot)"
    );
}

#[cfg(feature = "model")]
impl<V: Clone> crate::Relabel for Learner<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Learner {
            learned: self.learned.relabel(map),
            pending: self
                .pending
                .as_deref()
                .map(|(p, tally)| Box::new((p.relabel(map), tally.relabel(map)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ballot;

    fn p(round: u64, v: u8) -> Proposal<u8> {
        Proposal {
            ballot: Ballot::new(round, NodeId(1)),
            value: Some(v),
        }
    }

    #[test]
    fn learns_from_a_quorum_of_accepted_at_one_ballot() {
        let mut l = Learner::new();
        l.expect(p(1, 7), 2);
        assert_eq!(l.on_accepted(NodeId(1), p(1, 7).ballot), None);
        assert_eq!(
            l.on_accepted(NodeId(1), p(1, 7).ballot),
            None,
            "duplicate Accepted from one node"
        );
        assert_eq!(
            l.on_accepted(NodeId(2), p(2, 7).ballot),
            None,
            "vote for another ballot"
        );
        let chosen = l.on_accepted(NodeId(2), p(1, 7).ballot).unwrap();
        assert_eq!(chosen.proposal, p(1, 7));
        assert!(chosen.newly_learned);
        assert_eq!(l.learned(), Some(&p(1, 7)));
        assert_eq!(
            l.on_accepted(NodeId(3), p(1, 7).ballot),
            None,
            "quorum reported once"
        );
    }

    #[test]
    fn learns_from_commit_and_keeps_the_highest_ballot() {
        let mut l = Learner::new();
        assert!(l.on_commit(p(2, 5)));
        assert!(!l.on_commit(p(2, 5)), "duplicate commit is not news");
        assert!(
            !l.on_commit(p(1, 4)),
            "a stale commit does not go back in time"
        );
        assert_eq!(l.learned(), Some(&p(2, 5)));
        assert!(l.on_commit(p(3, 6)));
        assert_eq!(l.learned(), Some(&p(3, 6)));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "learner invariant: the learned value never changes at one ballot")]
    fn a_second_value_at_a_learned_ballot_is_caught() {
        // Only a forged or corrupted Commit can carry it: two values are never chosen at one
        // ballot.
        let mut l = Learner::new();
        l.on_commit(p(2, 5));
        l.on_commit(p(2, 6));
    }

    #[test]
    fn nothing_is_counted_without_an_expected_proposal() {
        let mut l = Learner::<u8>::new();
        assert_eq!(l.on_accepted(NodeId(1), Ballot::new(1, NodeId(1))), None);
        assert_eq!(l.learned(), None);
    }
}
