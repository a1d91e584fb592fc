//! Quorum transitions for the membership model: the checked model delivers a whole quorum's
//! worth of votes to a proposer in one action, so that partial tallies are never states — the
//! rule of the fixed-membership model's [`crate::quorum_transitions`], over
//! [`MembershipModel`]'s own deliveries.
//!
//! A **vote** is a `Promise` or an `Accepted`. Its delivery is **absorbed** when it only adds its
//! sender to a tally (stepping a copy of the real node outputs nothing and moves neither its
//! acceptor nor its generation clock). [`MembershipQuorumModel`] never offers an absorbed
//! delivery on its own; for every set of votes of one kind and ballot to one node whose delivery
//! in ascending sender order absorbs all but the last and completes the quorum with the last, it
//! offers that sequence of deliveries as one action. Every other action is the membership
//! model's own.
//!
//! **Why nothing is lost** is the fixed-membership argument (docs/model.md, *Quorum
//! transitions*): only a later vote to the same node reads a tally, no property reads one, so an
//! absorbed delivery commutes with every step up to the one that completes its tally; if none
//! does, the tally is dropped unread. The membership model adds one way to drop a tally — an
//! install, which ends the round in progress and restarts the learner's count in a newer
//! generation, where the votes left in flight are ignored for good. The membership model's
//! one-round-trip shortcuts are off, so no reservation counts votes past a quorum.
//! `tests/membership.rs` checks it: the reachable observations with and without quorum
//! transitions are the same sets.
//!
//! A counterexample never shows a quorum action: [`QuorumAction::expand`] turns it back into its
//! deliveries.

use super::model::{Action, MembershipModel, OfMembership};
use super::state::{Envelope, MembershipState};
use crate::quorum_transitions::{completions, vote_effect, QuorumAction, VoteEffect};
use crate::value::Value;
use stateright::{Model, Property};
use synod_core::{Ballot, Input, Message, Node, NodeId};

/// The [`MembershipModel`] with quorum transitions (see the module docs).
#[derive(Clone, Debug)]
pub struct MembershipQuorumModel {
    /// The model whose steps the quorum actions are made of.
    pub inner: MembershipModel,
}

/// The tally a vote counts in: its receiver, its kind (`Promise` or not) and its ballot.
type Tally = (NodeId, bool, Ballot);

impl MembershipQuorumModel {
    /// Quorum transitions over `inner`.
    pub fn new(inner: MembershipModel) -> Self {
        MembershipQuorumModel { inner }
    }

    /// The tally `action` delivers a vote to, if it delivers one.
    fn tally(action: &Action) -> Option<(Tally, &Envelope)> {
        let Action::Deliver(env) = action else {
            return None;
        };
        let (is_promise, ballot) = match env.msg.clone().generation_of()? {
            (_, Message::Promise { ballot, .. }) => (true, ballot),
            (_, Message::Accepted { ballot }) => (false, ballot),
            _ => return None,
        };
        Some(((env.dst, is_promise, ballot), env))
    }

    /// Delivers the vote `action` to `node` (a copy of its receiver) and says what that did.
    fn step_vote(node: &mut Node<Value>, action: &Action) -> VoteEffect {
        let Some((_, env)) = Self::tally(action) else {
            return VoteEffect::Other;
        };
        let before = node.clone();
        let mut out = Vec::new();
        node.step(
            Input::Message {
                from: env.src,
                msg: env.msg.clone(),
            },
            &mut out,
        );
        vote_effect(&before, node, &out, &env.msg)
    }

    /// Node `id`'s core in `state`, if it runs.
    fn node_of(state: &MembershipState, id: NodeId) -> Option<&Node<Value>> {
        state.nodes.get(id.0 as usize - 1)?.node.as_ref()
    }
}

impl OfMembership for MembershipQuorumModel {
    fn membership(&self) -> &MembershipModel {
        &self.inner
    }

    fn expand(action: QuorumAction<Action>) -> Vec<Action> {
        action.expand()
    }
}

impl Model for MembershipQuorumModel {
    type State = MembershipState;
    type Action = QuorumAction<Action>;

    fn init_states(&self) -> Vec<MembershipState> {
        self.inner.init_states()
    }

    fn actions(&self, state: &MembershipState, actions: &mut Vec<Self::Action>) {
        let mut steps = Vec::new();
        self.inner.actions(state, &mut steps);
        // Absorbed votes, by tally, in ascending sender order.
        let mut absorbed: Vec<(Tally, NodeId, Action)> = Vec::new();
        for step in steps {
            let vote = Self::tally(&step).and_then(|(tally, env)| {
                let node = Self::node_of(state, env.dst)?;
                let effect = Self::step_vote(&mut node.clone(), &step);
                (effect == VoteEffect::Absorbed).then_some((tally, env.src))
            });
            match vote {
                Some((tally, src)) => absorbed.push((tally, src, step)),
                None => actions.push(QuorumAction::Step(step)),
            }
        }
        absorbed.sort();
        for group in absorbed.chunk_by(|a, b| a.0 == b.0) {
            let Some(node) = Self::node_of(state, group[0].0 .0) else {
                continue;
            };
            let votes: Vec<(NodeId, Action)> =
                group.iter().map(|(_, src, a)| (*src, a.clone())).collect();
            // The first vote is absorbed (that is why it is here); completions need a second.
            let mut found = Vec::new();
            completions(
                node,
                &mut Vec::new(),
                &votes,
                &|(src, _): &(NodeId, Action)| *src,
                &|next: &mut Node<Value>, (_, a): &(NodeId, Action)| Self::step_vote(next, a),
                &mut found,
            );
            actions.extend(found.into_iter().map(|deliveries| {
                QuorumAction::Quorum(deliveries.into_iter().map(|(_, a)| a).collect())
            }));
        }
    }

    fn next_state(&self, last: &MembershipState, action: Self::Action) -> Option<MembershipState> {
        action.apply(&self.inner, last)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all(&self.inner)
    }

    fn within_boundary(&self, state: &MembershipState) -> bool {
        self.inner.within_boundary(state)
    }
}
