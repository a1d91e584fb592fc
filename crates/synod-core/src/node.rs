//! A node: one acceptor, one proposer and one learner for one register, behind the step contract.
//!
//! This is the unit every consumer drives: the stateright model runs one `Node` per actor, the
//! server runs one per key. It routes each input to its role, turns the roles' answers into
//! [`Output`]s, and delivers messages addressed to itself inline (see [`crate::step`]).
//!
//! **Size.** A server keeps one `Node` per cached key, most of them idle, so an idle node holds
//! only what outlives a request: the configuration behind a shared pointer (every key of a
//! replica shares one), the acceptor's state, the proposer's generation clock and reservation,
//! and the learned proposal. The in-round state of the proposer and the learner is boxed and
//! absent between requests (crates/synod-server/tests/cache_memory.rs measures the total).

use crate::acceptor::{Acceptor, Verdict};
use crate::learner::Learner;
use crate::proposer::Proposer;
use crate::proposer::{PromiseStep, Proposed, ReadStep, RoundFailure, Start};
use crate::{
    AcceptorState, Ballot, Config, Configuration, Input, Message, NodeId, Operation, Output,
    Proposal, RequestId, Timer,
};
use std::sync::Arc;

/// One Paxos node for one register.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Node<V> {
    /// Shared: it compares, orders and hashes as the configuration itself.
    config: Arc<Config>,
    acceptor: Acceptor<V>,
    proposer: Proposer<V>,
    learner: Learner<V>,
}

impl<V: Clone + PartialEq> Node<V> {
    /// A fresh node: nothing promised, accepted or learned. Nodes given clones of one
    /// `Arc<Config>` share it; a plain [`Config`] gets one of its own.
    pub fn new(config: impl Into<Arc<Config>>) -> Self {
        Self::restart(config, AcceptorState::default())
    }

    /// A node coming back after a crash: the acceptor's durable state survives, the proposer's
    /// and learner's volatile state does not.
    pub fn restart(config: impl Into<Arc<Config>>, durable: AcceptorState<V>) -> Self {
        let config = config.into();
        let quorums = config.quorums();
        Node {
            acceptor: Acceptor::restore(durable),
            proposer: Proposer::new(
                config.id(),
                quorums,
                config.max_attempts(),
                config.cluster().fast_paths(),
            ),
            learner: Learner::new(),
            config,
        }
    }

    /// This node's configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.config.id()
    }

    /// The generation of this node's configuration (0 until a membership change).
    pub fn generation(&self) -> u64 {
        self.config.configuration().generation()
    }

    /// The acceptor's state: what this node has promised and accepted (the durable state).
    pub fn acceptor_state(&self) -> &AcceptorState<V> {
        self.acceptor.state()
    }

    /// Whether the proposer is working on a client request (another one would be `Busy`).
    pub fn has_request(&self) -> bool {
        self.proposer.request().is_some()
    }

    #[cfg(feature = "model")]
    /// The acceptor (its state is the durable state).
    pub fn acceptor(&self) -> &Acceptor<V> {
        &self.acceptor
    }

    #[cfg(feature = "model")]
    /// The proposer.
    pub fn proposer(&self) -> &Proposer<V> {
        &self.proposer
    }

    #[cfg(feature = "model")]
    /// The learner.
    pub fn learner(&self) -> &Learner<V> {
        &self.learner
    }

    /// The highest-ballot proposal this node knows to be chosen.
    pub fn learned(&self) -> Option<&Proposal<V>> {
        self.learner.learned()
    }

    #[cfg(feature = "model")]
    /// Forgets the generation clock once no round of the current request is left to start:
    /// see [`Proposer::forget_clock`] (for a node that takes no further request).
    pub fn forget_clock(&mut self) {
        self.proposer.forget_clock();
    }

    #[cfg(feature = "model")]
    /// Forgets what the learner learned, unless it is counting votes: see [`Learner::forget`].
    pub fn forget_learned(&mut self) {
        self.learner.forget();
    }

    #[cfg(feature = "model")]
    /// The proposer, mutably: only for the model checker's buggy doubles, which reach into it
    /// (e.g. [`Proposer::take_uncertain`]); a runtime never needs it.
    pub fn proposer_mut(&mut self) -> &mut Proposer<V> {
        &mut self.proposer
    }

    /// Handles one input, appending its outputs to `out` in the order they must be carried out.
    pub fn step(&mut self, input: Input<V>, out: &mut Vec<Output<V>>) {
        let start = out.len();
        let before = cfg!(debug_assertions).then(|| self.acceptor.state().clone());
        match input {
            Input::Message { from, msg } => self.receive(from, msg, out),
            Input::Request { request, op } => self.on_request_into(request, op, out),
            Input::Timeout(timer) => self.on_timeout_into(timer, out),
            Input::Install(configuration) => self.install(configuration, out),
            Input::CatchUp { request } => self.on_catch_up(request, out),
        }
        if let Some(before) = before {
            check_step_outputs(&before, &out[start..], self.acceptor.state());
        }
    }

    /// [`Node::step`] for a message, returning the outputs.
    pub fn on_message(&mut self, from: NodeId, msg: Message<V>) -> Vec<Output<V>> {
        self.collect(Input::Message { from, msg })
    }

    /// [`Node::step`] for a client request, returning the outputs.
    pub fn on_request(&mut self, request: RequestId, op: Operation<V>) -> Vec<Output<V>> {
        self.collect(Input::Request { request, op })
    }

    /// [`Node::step`] for a timer, returning the outputs.
    pub fn on_timeout(&mut self, timer: Timer) -> Vec<Output<V>> {
        self.collect(Input::Timeout(timer))
    }

    fn collect(&mut self, input: Input<V>) -> Vec<Output<V>> {
        let mut out = Vec::new();
        self.step(input, &mut out);
        out
    }

    /// A message from the network. Only other members of this node's generation are heard; a
    /// request of an older generation is refused with this node's configuration, and a `Commit`
    /// of an older one is still learned (docs/protocol.md, "Membership change"). A `Stale` is
    /// the runtime's to act on (it installs the configuration it carries).
    fn receive(&mut self, from: NodeId, msg: Message<V>, out: &mut Vec<Output<V>>) {
        let Some((generation, msg)) = msg.generation_of() else {
            return;
        };
        if from == self.id() || matches!(msg, Message::Stale { .. }) {
            return;
        }
        let own = self.generation();
        if generation < own {
            if msg.is_request() {
                let configuration = *self.config.configuration();
                out.push(Output::Send {
                    to: from,
                    msg: Message::Stale { configuration },
                });
            } else if matches!(msg, Message::Commit { .. }) {
                self.deliver(from, msg, out);
            }
        } else if generation == own && self.config.members().contains(from) {
            self.deliver(from, msg, out);
        }
    }

    /// Moves to a newer configuration (made durable by the runtime before this input): later
    /// rounds count votes by its sets and quorums; the round in progress ends as its timer would
    /// end it (its retry runs in the new generation), a one-round-trip reservation is dropped,
    /// and the learner's open count restarts (what it learned is kept).
    fn install(&mut self, configuration: Configuration, out: &mut Vec<Output<V>>) {
        if configuration.generation() <= self.generation() {
            return;
        }
        self.config = Arc::new(self.config.installing(configuration));
        self.proposer.set_quorums(configuration.quorums());
        self.proposer.drop_reservation();
        let learned = self.learner.learned().cloned();
        self.learner = Learner::new();
        if let Some(proposal) = learned {
            self.learner.on_commit(proposal);
        }
        if let Some(failure) = self.proposer.on_round_timeout() {
            self.round_failed(failure, out);
        }
    }

    fn on_request_into(&mut self, request: RequestId, op: Operation<V>, out: &mut Vec<Output<V>>) {
        let floor = self.acceptor.state().promised;
        match self.proposer.begin(request, op, floor) {
            Ok(Start::Prepare(ballot)) => self.start_round(ballot, out),
            Ok(Start::Accept(proposed)) => {
                self.set_round_timer(out);
                self.propose(proposed, out);
            }
            Ok(Start::Query(request)) => {
                self.set_round_timer(out);
                self.broadcast(Message::Query { request }, out);
            }
            Err(error) => out.push(Output::Reply {
                request,
                result: Err(error),
            }),
        }
    }

    fn on_catch_up(&mut self, request: RequestId, out: &mut Vec<Output<V>>) {
        let floor = self.acceptor.state().promised;
        match self.proposer.begin_catch_up(request, floor) {
            Ok(ballot) => self.start_round(ballot, out),
            Err(error) => out.push(Output::Reply {
                request,
                result: Err(error),
            }),
        }
    }

    fn on_timeout_into(&mut self, timer: Timer, out: &mut Vec<Output<V>>) {
        match timer {
            Timer::Round => {
                if let Some(failure) = self.proposer.on_round_timeout() {
                    self.round_failed(failure, out);
                }
            }
            Timer::Backoff => {
                let floor = self.acceptor.state().promised;
                if let Some(ballot) = self.proposer.retry(floor) {
                    self.start_round(ballot, out);
                }
            }
        }
    }

    fn start_round(&mut self, ballot: Ballot, out: &mut Vec<Output<V>>) {
        self.set_round_timer(out);
        self.broadcast(Message::Prepare { ballot }, out);
    }

    fn set_round_timer(&mut self, out: &mut Vec<Output<V>>) {
        let attempt = self.proposer.attempt().unwrap_or(1);
        out.push(Output::SetTimer {
            timer: Timer::Round,
            attempt,
        });
    }

    /// Phase 2a: counts votes for the proposal, then asks every acceptor to accept it — its own
    /// first. A next ballot goes out only if the own acceptor promised it (durably, before the
    /// broadcast): otherwise a restarted proposer could pick that ballot again for another
    /// value. So when the own acceptor refused, the `Accept` goes out without it.
    fn propose(&mut self, proposed: Proposed<V>, out: &mut Vec<Output<V>>) {
        let Proposed { proposal, next } = proposed;
        self.learner
            .expect(proposal.clone(), self.config.quorums().q2());
        let Proposal { ballot, value } = proposal;
        let me = self.id();
        let accept = |next| Message::Accept {
            ballot,
            value: value.clone(),
            next,
        };
        self.deliver(me, accept(next), out);
        let promised = self.acceptor.state().promised;
        let next = next.filter(|next| promised >= *next);
        if next.is_none() {
            self.proposer.drop_reservation();
        }
        if self.config.members().len() > 1 {
            let msg = accept(next).in_generation(self.generation());
            out.push(Output::Broadcast { msg });
        }
    }

    /// A shortcut round failed: a full round at once, in the same attempt.
    fn fall_back(&mut self, out: &mut Vec<Output<V>>) {
        let floor = self.acceptor.state().promised;
        if let Some(ballot) = self.proposer.retry(floor) {
            self.start_round(ballot, out);
        }
    }

    /// Routes one message from `from` (possibly this node itself) to the role it is for.
    fn deliver(&mut self, from: NodeId, msg: Message<V>, out: &mut Vec<Output<V>>) {
        self.proposer.observe(msg.highest_ballot());
        match msg {
            Message::Prepare { ballot } => {
                let verdict = self.acceptor.on_prepare(ballot);
                self.answer(from, verdict, out);
            }
            Message::Accept {
                ballot,
                value,
                next,
            } => {
                let verdict = self.acceptor.on_accept(ballot, value, next);
                self.answer(from, verdict, out);
            }
            Message::Query { request } => {
                let verdict = self.acceptor.on_query(request);
                self.answer(from, verdict, out);
            }
            Message::Report { request, accepted } => {
                if !self.config.configuration().accept().contains(from) {
                    return;
                }
                match self.proposer.on_report(from, request, accepted) {
                    ReadStep::Wait => {}
                    ReadStep::Done(request, result) => {
                        out.push(Output::CancelTimer(Timer::Round));
                        out.push(Output::Reply { request, result });
                    }
                    ReadStep::Fallback => self.fall_back(out),
                }
            }
            Message::Promise { ballot, accepted } => {
                if !self.config.configuration().prepare().contains(from) {
                    return;
                }
                match self.proposer.on_promise(from, ballot, accepted) {
                    PromiseStep::Wait => {}
                    PromiseStep::Propose(proposed) => self.propose(proposed, out),
                    PromiseStep::GiveUp(request, error) => {
                        out.push(Output::CancelTimer(Timer::Round));
                        out.push(Output::Reply {
                            request,
                            result: Err(error),
                        });
                    }
                }
            }
            Message::Accepted { ballot } => {
                let configuration = *self.config.configuration();
                if configuration.prepare().contains(from) {
                    // An `Accepted` of a one-round-trip write is also a promise of `next`.
                    self.proposer.on_accepted(from, ballot);
                }
                if !configuration.accept().contains(from) {
                    return;
                }
                if let Some(chosen) = self.learner.on_accepted(from, ballot) {
                    if chosen.newly_learned {
                        out.push(Output::Learned(chosen.proposal.clone()));
                    }
                    let done = self.proposer.on_chosen(ballot);
                    if done.is_some() {
                        out.push(Output::CancelTimer(Timer::Round));
                    }
                    let Proposal { ballot, value } = chosen.proposal;
                    self.broadcast(Message::Commit { ballot, value }, out);
                    if let Some((request, result)) = done {
                        out.push(Output::Reply { request, result });
                    }
                }
            }
            Message::Reject { ballot, promised } => {
                if let Some(failure) = self.proposer.on_reject(ballot, promised) {
                    self.round_failed(failure, out);
                }
            }
            Message::Commit { ballot, value } => {
                let proposal = Proposal { ballot, value };
                if self.learner.on_commit(proposal.clone()) {
                    out.push(Output::Learned(proposal));
                }
            }
            // Unwrapped by `receive`; a `Stale` is the runtime's.
            Message::Generation { .. } | Message::Stale { .. } => {}
        }
    }

    /// Sends an acceptor's reply: persist first if its state changed, then the message.
    fn answer(&mut self, to: NodeId, verdict: Verdict<V>, out: &mut Vec<Output<V>>) {
        if verdict.changed {
            out.push(Output::Persist(self.acceptor.state().clone()));
        }
        if to == self.id() {
            let me = self.id();
            self.deliver(me, verdict.reply, out);
        } else {
            out.push(Output::Send {
                to,
                msg: verdict.reply.in_generation(self.generation()),
            });
        }
    }

    /// Delivers `msg` to this node first (so its persist precedes the broadcast), then to all
    /// other members.
    fn broadcast(&mut self, msg: Message<V>, out: &mut Vec<Output<V>>) {
        let me = self.id();
        self.deliver(me, msg.clone(), out);
        if self.config.members().len() > 1 {
            let msg = msg.in_generation(self.generation());
            out.push(Output::Broadcast { msg });
        }
    }

    fn round_failed(&mut self, failure: RoundFailure, out: &mut Vec<Output<V>>) {
        out.push(Output::CancelTimer(Timer::Round));
        match failure {
            RoundFailure::Fallback => self.fall_back(out),
            RoundFailure::Retry { next_attempt } => out.push(Output::SetTimer {
                timer: Timer::Backoff,
                attempt: next_attempt,
            }),
            RoundFailure::GiveUp(request, error) => out.push(Output::Reply {
                request,
                result: Err(error),
            }),
        }
    }
}

/// The step contract on one step's `outputs` (debug builds). Starting from the acceptor state
/// before the step (`before`, durable already), in output order:
///
/// * every `Persist` has a promise at least the previous persisted one's;
/// * every message that reports or relies on the acceptor's state comes after the `Persist` that
///   made that state durable ([`message_is_covered`]);
/// * the last state persisted (`before` if none was) is the acceptor's state after the step:
///   no change of the durable state goes unpersisted.
fn check_step_outputs<V: PartialEq>(
    before: &AcceptorState<V>,
    outputs: &[Output<V>],
    after: &AcceptorState<V>,
) {
    let mut durable = before;
    for output in outputs {
        match output {
            Output::Persist(state) => {
                debug_assert!(
                    state.promised >= durable.promised,
                    "step invariant: a persisted promise never decreases"
                );
                durable = state;
            }
            Output::Send { msg, .. } | Output::Broadcast { msg } => debug_assert!(
                message_is_covered(durable, msg),
                "step invariant: a message comes after the Persist of the state it depends on"
            ),
            _ => {}
        }
    }
    debug_assert!(
        durable == after,
        "step invariant: the acceptor state after a step is the last one persisted"
    );
}

/// Whether `msg`, sent by this node, only depends on what is in `durable`.
fn message_is_covered<V: PartialEq>(durable: &AcceptorState<V>, msg: &Message<V>) -> bool {
    match msg {
        Message::Generation { message, .. } => message_is_covered(durable, message),
        Message::Stale { .. } => true,
        // The acceptor's answers report its state as it is at that moment.
        Message::Promise { ballot, accepted } => {
            durable.promised == *ballot && durable.accepted == *accepted
        }
        Message::Accepted { ballot } => durable
            .accepted
            .as_ref()
            .is_some_and(|accepted| accepted.ballot == *ballot),
        Message::Reject { promised, .. } => durable.promised == *promised,
        Message::Report { accepted, .. } => durable.accepted == *accepted,
        // The proposer's own acceptor promised the round's ballot before it went out — and, for
        // a one-round-trip write, the next ballot too, so a restarted proposer never reuses it.
        Message::Prepare { ballot } => durable.promised >= *ballot,
        Message::Accept { ballot, next, .. } => {
            durable.promised >= *ballot && next.is_none_or(|next| durable.promised >= next)
        }
        Message::Commit { .. } | Message::Query { .. } => true,
    }
}

#[cfg(feature = "model")]
impl<V: Clone> crate::Relabel for Node<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Node {
            config: Arc::new(self.config.relabel(map)),
            acceptor: self.acceptor.relabel(map),
            proposer: self.proposer.relabel(map),
            learner: self.learner.relabel(map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn promised(round: u64) -> AcceptorState<u8> {
        AcceptorState {
            promised: Ballot::new(round, NodeId(2)),
            accepted: None,
        }
    }

    fn promise(round: u64) -> Output<u8> {
        Output::Send {
            to: NodeId(2),
            msg: Message::Promise {
                ballot: Ballot::new(round, NodeId(2)),
                accepted: None,
            },
        }
    }

    #[test]
    fn a_persist_then_its_promise_passes() {
        check_step_outputs(
            &promised(1),
            &[Output::Persist(promised(2)), promise(2)],
            &promised(2),
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "step invariant: a message comes after the Persist")]
    fn a_promise_sent_before_its_persist_is_caught() {
        check_step_outputs(
            &promised(1),
            &[promise(2), Output::Persist(promised(2))],
            &promised(2),
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "step invariant: a persisted promise never decreases")]
    fn a_lower_persisted_promise_is_caught() {
        check_step_outputs(&promised(2), &[Output::Persist(promised(1))], &promised(1));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "step invariant: the acceptor state after a step is the last one")]
    fn an_unpersisted_change_is_caught() {
        check_step_outputs(&promised(1), &[], &promised(2));
    }
}
