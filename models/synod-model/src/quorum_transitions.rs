//! Quorum transitions (Bokor, Kinder, Serafini and Suri, *Efficient model checking of
//! fault-tolerant distributed protocols*, 2011): a proposer receives a whole quorum's worth of
//! votes in one action, so that partial tallies are not states.
//!
//! [`QuorumModel`] wraps the checked [`SynodModel`]. A **vote** is a `Promise` or an `Accepted`
//! for the ballot its receiver is counting. Its delivery is **absorbed** when it only adds the
//! sender to a tally: the node's step outputs nothing, and its acceptor and generation clock do
//! not change (checked by stepping a copy of the real node). The wrapper offers no absorbed
//! delivery on its own. Instead, for each set of votes of one kind and ballot to one node whose
//! delivery in ascending sender order absorbs all but the last and **completes** the quorum with
//! the last (that step outputs something: the `Accept`s, the `Commit`s, a reply), it offers one
//! [`QuorumAction::Quorum`] that is exactly that sequence of the wrapped model's deliveries.
//! Every other action is the wrapped model's own.
//!
//! **Why nothing is lost.** An absorbed delivery changes only its receiver's volatile tally (the
//! phase-1 promises and the highest accepted proposal reported, or the learner's count of its own
//! proposal; the one-round-trip shortcuts, whose reservation keeps counting after the quorum, are
//! excluded: see [`QuorumModel::applies`]). Nothing but a later vote delivery to that node reads
//! the tally, and no property reads it. So in any run, an absorbed delivery commutes with every
//! step that follows it up to the delivery that completes its tally, and can be moved right
//! before it — a vote set delivered in one go, whose result does not depend on the order (a
//! tally is a set; the highest report is a maximum, and one ballot carries one value). If no
//! delivery completes it (the round fails or times out, or the node crashes), the tally is
//! dropped unread and the absorbed delivery can be left out; on a network that does not
//! duplicate, its vote then stays in flight, where it is stale for good. Either way the run's
//! other steps are unchanged, so every state of the wrapped model has a state of this one that
//! differs only in tallies and in-flight votes, which no property reads; and every action of
//! this one is a sequence of the wrapped model's. `tests/normalization.rs` checks it: on
//! configurations where quorums need two or more votes from others, the reachable observations
//! are those of the wrapped model.
//!
//! **Where it pays.** A node counts its own vote within its own step, so with 3 nodes and
//! majority quorums the first vote from another node already completes a quorum and nothing is
//! absorbed. With 5 nodes two votes are needed, and each proposer round saves the partial
//! tallies of both phases.
//!
//! Counterexamples, listings and trace files never show a quorum action: [`QuorumAction::expand`]
//! turns it back into its deliveries, replayed in the wrapped (and then the faithful) model.

use crate::actor::{ActorState, SynodActor};
use crate::config::{node_id, ModelConfig};
use crate::message::Action;
use crate::message::ModelMsg;
use crate::model::SynodModel;
use crate::properties::{properties_of, Checked, SystemState};
use crate::value::Value;
use crate::Protocol;
use stateright::actor::{ActorModelAction, Id};
use stateright::{Model, Property};
use synod_core::{Ballot, Input, Message, Node, Output};

/// One step of the quorum-transition model (of the fixed-membership model's [`Action`]s, or of
/// another model's, such as the membership model's).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum QuorumAction<A = Action> {
    /// A step of the wrapped model.
    Step(A),
    /// Votes to one node, delivered one after the other in one action: every delivery but the
    /// last is absorbed, and the last completes the quorum.
    Quorum(Vec<A>),
}

impl<A> QuorumAction<A> {
    /// The state `inner` reaches from `last` by this action: its step, or its deliveries one
    /// after the other (`None` if one of them changes nothing).
    pub fn apply<M: Model<Action = A>>(self, inner: &M, last: &M::State) -> Option<M::State>
    where
        M::State: Clone,
    {
        match self {
            QuorumAction::Step(step) => inner.next_state(last, step),
            QuorumAction::Quorum(deliveries) => {
                let mut state = last.clone();
                for delivery in deliveries {
                    state = inner.next_state(&state, delivery)?;
                }
                Some(state)
            }
        }
    }

    /// The wrapped model's actions this one stands for.
    pub fn expand(self) -> Vec<A> {
        match self {
            QuorumAction::Step(action) => vec![action],
            QuorumAction::Quorum(deliveries) => deliveries,
        }
    }
}

/// The [`SynodModel`] with quorum transitions (see the module docs).
#[derive(Clone)]
pub struct QuorumModel<P: Protocol> {
    /// The model whose steps the quorum actions are made of.
    pub inner: SynodModel<P>,
}

/// What delivering one vote does to its receiver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteEffect {
    /// It only adds its sender to a tally.
    Absorbed,
    /// It completes a quorum: the step outputs something.
    Completes,
    /// Anything else: no change, or a change beyond the tally.
    Other,
}

/// Which tally a vote belongs to: its kind (`Promise` or `Accepted`) and ballot.
type TallyKey = (bool, Ballot);

impl<P: Protocol> QuorumModel<P> {
    /// Whether quorum transitions are sound for `model`: only with the one-round-trip shortcuts
    /// off (a reservation keeps counting `Accepted` votes after the learner's quorum, so those
    /// deliveries would be absorbed with no completion to follow), and only if the model is
    /// reduced at all (with `--no-reduce` it is stateright's plain actor model). The buggy
    /// doubles of [`crate::bugs`] change acceptors, `Promise` contents or what a completed phase 1
    /// proposes, never how a tally is kept, so the argument holds for them too (and
    /// `tests/bugs.rs` shows each still FAILs).
    pub fn applies(model: &SynodModel<P>) -> bool {
        !model.cfg.is_fast() && model.normalization != crate::model::Normalization::Off
    }

    /// The quorum-transition model over `inner`.
    pub fn new(inner: SynodModel<P>) -> Self {
        QuorumModel { inner }
    }

    /// The vote `action` delivers, if it delivers one to a node: its receiver, sender,
    /// message and tally.
    fn vote(action: &Action) -> Option<(Id, Id, &Message<Value>, TallyKey)> {
        let ActorModelAction::Deliver { src, dst, msg } = action else {
            return None;
        };
        match msg {
            ModelMsg::Peer(m @ Message::Promise { ballot, .. }) => {
                Some((*dst, *src, m, (true, *ballot)))
            }
            ModelMsg::Peer(m @ Message::Accepted { ballot }) => {
                Some((*dst, *src, m, (false, *ballot)))
            }
            _ => None,
        }
    }

    /// Steps `node` (a copy of node `dst`) with the vote `msg` from `src`, and says what that did.
    fn step_vote(
        &self,
        node: &mut Node<Value>,
        dst: Id,
        src: Id,
        msg: &Message<Value>,
    ) -> VoteEffect {
        let Some(SynodActor::Node { protocol, .. }) =
            self.inner.actors.actors.get(usize::from(dst))
        else {
            return VoteEffect::Other;
        };
        let before = node.clone();
        let mut out = Vec::new();
        protocol.step(
            node,
            Input::Message {
                from: node_id(usize::from(src)),
                msg: msg.clone(),
            },
            &mut out,
        );
        vote_effect(&before, node, &out, msg)
    }

    /// Node `dst`'s core in `state`, if it is a running node.
    fn node_of(state: &SystemState<P>, dst: Id) -> Option<&Node<Value>> {
        let i = usize::from(dst);
        if state.crashed.get(i).copied().unwrap_or(true) {
            return None;
        }
        match state.actor_states.get(i).map(|a| &**a) {
            Some(ActorState::Node(n)) => Some(&n.node),
            _ => None,
        }
    }
}

/// What a vote's delivery did: `before` and `after` are its receiver's node around the step,
/// `out` the step's outputs. It **completes** a quorum if the step output anything but a
/// `Learned` (which has no effect in a model); it is **absorbed** if it changed the node but
/// neither its acceptor nor its generation clock, i.e. only a tally.
pub fn vote_effect(
    before: &Node<Value>,
    after: &Node<Value>,
    out: &[Output<Value>],
    vote: &Message<Value>,
) -> VoteEffect {
    if out.iter().any(|o| !matches!(o, Output::Learned(_))) {
        VoteEffect::Completes
    } else if after != before
        && after.acceptor_state() == before.acceptor_state()
        && clock_kept(before, after, vote)
    {
        VoteEffect::Absorbed
    } else {
        VoteEffect::Other
    }
}

/// Every way to complete a tally from `votes` — deliveries to one node of one tally, each
/// absorbed on its own, in ascending sender order — after `prefix`, which left the receiver as
/// `node`: each is pushed on `found` as the whole sequence of deliveries. `sender` names a
/// vote's sender and `step` delivers it to a copy of the receiver.
pub fn completions<T: Clone, S: Ord>(
    node: &Node<Value>,
    prefix: &mut Vec<T>,
    votes: &[T],
    sender: &impl Fn(&T) -> S,
    step: &impl Fn(&mut Node<Value>, &T) -> VoteEffect,
    found: &mut Vec<Vec<T>>,
) {
    for (k, vote) in votes.iter().enumerate() {
        let mut next = node.clone();
        match step(&mut next, vote) {
            VoteEffect::Completes => {
                let mut deliveries = prefix.clone();
                deliveries.push(vote.clone());
                found.push(deliveries);
            }
            VoteEffect::Absorbed => {
                prefix.push(vote.clone());
                // Later senders only, so each set of votes is offered once.
                let later: Vec<T> = votes[k + 1..]
                    .iter()
                    .filter(|v| sender(v) > sender(vote))
                    .cloned()
                    .collect();
                completions(&next, prefix, &later, sender, step, found);
                prefix.pop();
            }
            VoteEffect::Other => {}
        }
    }
}

/// Whether a vote's delivery left the receiver's generation clock as it was, or moved only a
/// clock the model had forgotten. A vote answers a ballot the receiver issued itself, which its
/// clock covers; only a clock that normalization reset because no round will read it again
/// ([`synod_core::Node::forget_clock`]) is below that ballot, and it is reset again after the
/// step.
fn clock_kept(before: &Node<Value>, after: &Node<Value>, vote: &Message<Value>) -> bool {
    let (old, new) = (
        before.proposer().generation(),
        after.proposer().generation(),
    );
    old == new || old < vote.highest_ballot().round
}

impl<P: Protocol> Checked for QuorumModel<P> {
    fn config(&self) -> &ModelConfig {
        &self.inner.cfg
    }
}

impl<P: Protocol> Model for QuorumModel<P> {
    type State = SystemState<P>;
    type Action = QuorumAction;

    fn init_states(&self) -> Vec<Self::State> {
        self.inner.init_states()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        let mut steps = Vec::new();
        self.inner.actions(state, &mut steps);
        // Absorbed votes, by receiver and tally, in ascending sender order.
        let mut absorbed: Vec<((Id, TallyKey), Action)> = Vec::new();
        for step in steps {
            let absorbs = Self::vote(&step).is_some_and(|(dst, src, msg, _)| {
                Self::node_of(state, dst).is_some_and(|node| {
                    self.step_vote(&mut node.clone(), dst, src, msg) == VoteEffect::Absorbed
                })
            });
            if absorbs {
                let (dst, _, _, key) = Self::vote(&step).expect("a vote");
                absorbed.push(((dst, key), step));
            } else {
                actions.push(QuorumAction::Step(step));
            }
        }
        absorbed.sort_by(|(a, va), (b, vb)| {
            let sender = |v: &Action| Self::vote(v).map(|(_, src, _, _)| src);
            a.cmp(b).then(sender(va).cmp(&sender(vb)))
        });
        for group in absorbed.chunk_by(|(a, _), (b, _)| a == b) {
            let (dst, _) = group[0].0;
            let Some(node) = Self::node_of(state, dst) else {
                continue;
            };
            let votes: Vec<Action> = group.iter().map(|(_, v)| v.clone()).collect();
            // The first vote is absorbed (that is why it is here); completions need a second.
            let mut found = Vec::new();
            completions(
                node,
                &mut Vec::new(),
                &votes,
                &|v: &Action| Self::vote(v).map(|(_, src, _, _)| src),
                &|next: &mut Node<Value>, v: &Action| match Self::vote(v) {
                    Some((dst, src, msg, _)) => self.step_vote(next, dst, src, msg),
                    None => VoteEffect::Other,
                },
                &mut found,
            );
            actions.extend(found.into_iter().map(QuorumAction::Quorum));
        }
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        action.apply(&self.inner, last)
    }

    fn format_action(&self, action: &Self::Action) -> String {
        match action {
            QuorumAction::Step(step) => self.inner.format_action(step),
            QuorumAction::Quorum(deliveries) => deliveries
                .iter()
                .map(|d| self.inner.format_action(d))
                .collect::<Vec<_>>()
                .join(" + "),
        }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties_of::<P, Self>(&self.inner.cfg)
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        self.inner.within_boundary(state)
    }
}
