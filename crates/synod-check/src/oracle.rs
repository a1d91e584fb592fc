//! The definition of *chosen*, as a test oracle: a value is chosen at a ballot when a phase-2
//! quorum accepted it **at that same ballot** (TLA+'s `Voting.tla`), not when "a majority
//! currently holds it" — at the seed's T7 elanor is held by three nodes at different ballots and
//! is not yet chosen.
//!
//! The oracle is ghost state: it records every acceptance ever made (fed from `Persist` outputs,
//! which follow every acceptance) and never forgets, even across crashes. The model checker and
//! the simulations use it to state agreement, validity and "learned = chosen"; protocol code never
//! consults it.

use synod_core::{NodeId, NodeSet, Proposal};

/// Ghost history of acceptances and the proposals they made chosen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChosenOracle<V> {
    q2: usize,
    /// Every proposal ever accepted, with who accepted it (sorted by ballot, then value).
    votes: Vec<(Proposal<V>, NodeSet)>,
}

impl<V: Clone + Ord> ChosenOracle<V> {
    /// An empty history for phase-2 quorums of `q2`.
    pub fn new(q2: usize) -> Self {
        ChosenOracle {
            q2,
            votes: Vec::new(),
        }
    }

    /// Records that `node` accepted `proposal`.
    pub fn record(&mut self, node: NodeId, proposal: &Proposal<V>) {
        match self.votes.binary_search_by(|(p, _)| p.cmp(proposal)) {
            Ok(i) => {
                self.votes[i].1.insert(node);
            }
            Err(i) => {
                let mut voters = NodeSet::EMPTY;
                voters.insert(node);
                self.votes.insert(i, (proposal.clone(), voters));
            }
        }
    }

    /// Every chosen proposal, in ballot order.
    pub fn chosen(&self) -> impl Iterator<Item = &Proposal<V>> {
        self.votes
            .iter()
            .filter(|(_, voters)| voters.len() >= self.q2)
            .map(|(p, _)| p)
    }

    /// Whether `proposal` is chosen.
    pub fn is_chosen(&self, proposal: &Proposal<V>) -> bool {
        self.chosen().any(|p| p == proposal)
    }

    /// Every proposal ever accepted by anyone, with its voters.
    pub fn votes(&self) -> &[(Proposal<V>, NodeSet)] {
        &self.votes
    }

    /// Single-decree agreement: all chosen proposals carry the same value. Returns the two
    /// differing proposals if not.
    pub fn disagreement(&self) -> Option<(&Proposal<V>, &Proposal<V>)> {
        let mut chosen = self.chosen();
        let first = chosen.next()?;
        chosen.find(|p| p.value != first.value).map(|p| (first, p))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::Ballot;

    fn p(round: u64, node: u8, v: u8) -> Proposal<u8> {
        Proposal {
            ballot: Ballot::new(round, NodeId(node)),
            value: Some(v),
        }
    }

    #[test]
    fn chosen_means_a_quorum_at_one_ballot() {
        // The seed's T7: elanor held by a@[2,a], d@[1,e], e@[1,e] — three holders, but only two
        // at any one ballot, so with q2 = 3 nothing is chosen yet.
        let mut o = ChosenOracle::new(3);
        o.record(NodeId(1), &p(2, 1, 9));
        o.record(NodeId(4), &p(1, 5, 9));
        o.record(NodeId(5), &p(1, 5, 9));
        assert_eq!(o.chosen().count(), 0);
        // T8: Cyrene's [3,c] accepted by b, c, d.
        for n in [2, 3, 4] {
            o.record(NodeId(n), &p(3, 3, 9));
        }
        o.record(NodeId(4), &p(3, 3, 9));
        assert_eq!(o.chosen().collect::<Vec<_>>(), vec![&p(3, 3, 9)]);
        assert!(o.disagreement().is_none());
    }

    #[test]
    fn reports_two_different_chosen_values() {
        let mut o = ChosenOracle::new(2);
        for n in [1, 2] {
            o.record(NodeId(n), &p(1, 1, 7));
        }
        for n in [2, 3] {
            o.record(NodeId(n), &p(2, 3, 8));
        }
        let (a, b) = o.disagreement().unwrap();
        assert_eq!((a.value, b.value), (Some(7), Some(8)));
        assert_eq!(o.votes().len(), 2);
    }
}
