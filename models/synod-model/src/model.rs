//! The stateright [`SynodModel`] of a [`ModelConfig`]: stateright's `ActorModel` of our actors,
//! wrapped so that every successor state is **normalized** before it is hashed.
//!
//! Normalization removes only information that can never influence the future, so the explored
//! system is the same, with fewer duplicate states:
//!
//! * stateright 0.31's duplicating network records the last delivered envelope in the state
//!   (so that two deliveries that change nothing still look different). Nothing reads it: it is
//!   cleared.
//! * A protocol reply (`Promise`, `Accepted`, `Reject`, `Commit`) whose delivery is a no-op,
//!   to a node that can no longer crash, stays a no-op forever (see `is_dead`): it is removed
//!   from the network, where it would only make otherwise identical states differ.
//! * A crashed node's volatile state is dead until its restart, which rebuilds the node from its
//!   durable storage alone: the crashed node's state is replaced by what its restart would find.
//! * A node whose generation clock is **dead** will start no further round: it takes no further
//!   request (consensus mode: it has its one `ProposeOnce` from the start, or none; register
//!   mode: its client has handed it the whole script), and no round of its current request is
//!   left to start ([`synod_core::Proposer::starts_no_more_rounds`]: none, or the last attempt
//!   is running). The clock is read only when a round starts, so it is reset
//!   ([`synod_core::Node::forget_clock`]). A `Prepare` or `Accept` such a node sent at a ballot
//!   that is not its current round's, which changes nothing at a node that can no longer crash
//!   and draws only a reply the sender ignores, is removed like a dead reply (a correct acceptor
//!   that ignores a request once ignores it forever:
//!   [`Protocol::stale_requests_stay_stale`]; the sender's current ballot never changes again).
//! * A one-round-trip read's `Query` whose sender's clock is dead and which is no longer reading
//!   that request is removed once delivering it to a node that can no longer crash changes
//!   nothing (an acceptor answers a query without changing state) and draws a `Report` the
//!   sender ignores: a request is begun once and only its first round reads, so the sender
//!   ignores every report for it whatever it carries (see `query_is_dead`).
//! * Unless the model is faithful, a `Reject` to a node that can no longer crash, whose clock is
//!   dead and whose round timer is pending, is removed when delivering it does exactly what the
//!   timer does when it fires (fail the round; checked by running both steps of the real
//!   protocol): the timer stays pending as long as that round runs, so the `Reject` only offers
//!   a transition the timer offers too, and once the round is over it is a no-op. For the same
//!   reason a dead-clock node's request of its *current* round that can draw only such a
//!   `Reject` (or an ignored reply) is removed too. The faithful model keeps both, so that trace
//!   files may show a round ending by rejection.
//! * A **retired** node has a dead clock and no request in progress. Unless the model is
//!   [`SynodModel::faithful`], it forgets its learned value once it is chosen and its reply once
//!   that can no longer break `learned is chosen`: nothing else reads them, and what is chosen
//!   stays chosen; a value that is not chosen is kept, so the property still fails on it. With
//!   the fast paths on, every node forgets a chosen learned value (the reply only when retired).
//! * A `Reject` or `Commit` means the same from any sender
//!   ([`synod_core::Message::sender_matters`]): unless the model is faithful, such envelopes
//!   name one canonical sender ([`blind_sender`]), so that copies from different acceptors — two
//!   rejections of one ballot reporting the same promise — are one envelope, as they are one
//!   possibility. (Checked by `synod-core`'s `sender_blind` property test; counterexamples are
//!   replayed in the faithful model with the real senders, see `check::faithful_path`.)
//!
//! Loss on a duplicating network is not explored as separate `Drop` steps: there a message that
//! is never delivered (again) is exactly a lost message, the properties do not look at the
//! network, and timers fire at any time anyway — so every node state reachable with drops is
//! reachable without them ([`ModelConfig::explores_drops`]).
//!
//! The wrapper delegates everything else (actions, transitions) to `ActorModel`, renders actions
//! and paths in the listings' notation, and carries the properties of [`crate::properties`].

use crate::actor::{actor_of, actors, ActorState, NodeState, SynodActor};
use crate::client_history::ClientHistory;
use crate::config::node_id;
use crate::config::{ConfigError, Mode, ModelConfig, NetworkKind, Value};
use crate::ghost::AcceptHistory;
use crate::message::ModelMsg;
use crate::properties::{history_of, properties_of, Checked, SystemState};
use crate::stop::Stop;
use crate::Protocol;
use stateright::actor::{ActorModel, Envelope, Id, LossyNetwork, Network};
use stateright::{Model, Path, Property};
use std::cell::OnceCell;
use std::sync::Arc;
use synod_core::{Input, Message, Node, Outcome, Output, Phase, RequestId, Timer};

/// The model: the configuration and the actor model it builds.
#[derive(Clone)]
pub struct SynodModel<P: Protocol> {
    /// What is being checked.
    pub cfg: ModelConfig,
    /// The underlying stateright actor model (its own property list is empty).
    pub actors: ActorModel<SynodActor<P>, ModelConfig, ClientHistory>,
    /// How successor states are normalized: [`Normalization::Full`] for checking.
    pub normalization: Normalization,
    /// A check's deadline and memory bound ([`Self::stopping_by`]): past either, no state is
    /// within the boundary.
    pub stop: Stop,
}

/// How much [`SynodModel::normalize`] removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// Every rule of the module docs: for checking.
    Full,
    /// Every rule except forgetting retired nodes' learned values and replies, so that states
    /// show each node as the core holds it — all that a trace or listing shows; only a retired
    /// node's generation clock, which none shows, is still reset ([`SynodModel::faithful`]).
    Faithful,
    /// Nothing: stateright's plain actor model. Only for testing that the rules lose nothing.
    Off,
}

/// The model of `cfg`, with every node stepping through `protocol`.
pub fn build<P: Protocol>(cfg: &ModelConfig, protocol: P) -> Result<SynodModel<P>, ConfigError> {
    let actors = actors(cfg, &protocol)?;
    let network = match cfg.network {
        NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
        NetworkKind::UnorderedNonDuplicating => Network::new_unordered_nonduplicating([]),
        NetworkKind::Ordered => Network::new_ordered([]),
    };
    let model = ActorModel::new(
        cfg.clone(),
        ClientHistory::new(cfg.client_count(), cfg.proposer_count()),
    )
    .actors(actors)
    .init_network(network)
    .lossy_network(if cfg.explores_drops() {
        LossyNetwork::Yes
    } else {
        LossyNetwork::No
    })
    .max_crashes(cfg.crashes)
    .record_msg_out(ClientHistory::on_request)
    .record_msg_in(ClientHistory::on_reply);
    Ok(SynodModel {
        cfg: cfg.clone(),
        actors: model,
        normalization: Normalization::Full,
        stop: Stop::never(),
    })
}

/// The crash budget: at most `cfg.crashes` crashes in the whole run (crashes so far = restarts
/// plus nodes down now), of the nodes that may crash ([`ModelConfig::may_crash`]). Crashes are
/// for nodes; a crashed client would only be a slow one, which the network already models, so
/// those states are not explored.
fn within_crash_budget<P: Protocol>(cfg: &ModelConfig, state: &SystemState<P>) -> bool {
    let mut crashes = 0usize;
    for (i, (s, crashed)) in state.actor_states.iter().zip(&state.crashed).enumerate() {
        match &**s {
            ActorState::Node(_) if *crashed && !cfg.may_crash(i) => return false,
            ActorState::Node(n) => crashes += n.ghost.restarts as usize + usize::from(*crashed),
            ActorState::Client(_) if *crashed => return false,
            ActorState::Client(_) => {}
        }
    }
    crashes <= cfg.crashes
}

/// A node before a step, a copy of it after, and the step's outputs ([`SynodModel::step_copy`]).
type SteppedCopy<'a> = (&'a Node<Value>, Node<Value>, Vec<Output<Value>>);

/// What the normalization of one state knows about its actors.
struct Facts {
    /// Per actor: it can never crash and restart again ([`SynodModel::never_restarts`]).
    settled: Vec<bool>,
    /// Per actor: it will never start another round ([`SynodModel::clock_dead`]).
    clock_dead: Vec<bool>,
    /// Per actor: it will never take another request and has none ([`SynodModel::retired`]).
    retired: Vec<bool>,
    /// Per actor: its round timer is pending.
    round_timer: Vec<bool>,
    /// Every acceptance so far, gathered on first use ([`Facts::history`]): only a retired
    /// node with a learned value or a reply reads it, and most successors have none.
    history: OnceCell<AcceptHistory>,
}

impl Facts {
    /// Every acceptance recorded in the ghosts of `actors` (normalization changes no ghost's
    /// acceptances, so it does not matter at which point of it this is first asked).
    fn history(&self, actors: &[Arc<ActorState>]) -> &AcceptHistory {
        self.history.get_or_init(|| history_of(actors))
    }
}

impl<P: Protocol> SynodModel<P> {
    /// Drops what cannot influence the future (see the module docs).
    pub fn normalize(&self, mut state: SystemState<P>) -> SystemState<P> {
        if self.normalization == Normalization::Off {
            return state;
        }
        self.wake_dormant(&mut state);
        // Retiring nodes (below) changes none of these facts: it touches neither requests,
        // restarts nor acceptances.
        let facts = Facts {
            settled: (0..state.actor_states.len())
                .map(|i| self.never_restarts(&state, i))
                .collect(),
            clock_dead: (0..state.actor_states.len())
                .map(|i| self.clock_dead(&state, i))
                .collect(),
            retired: (0..state.actor_states.len())
                .map(|i| self.retired(&state, i))
                .collect(),
            round_timer: state
                .timers_set
                .iter()
                .map(|timers| timers.iter().any(|t| *t == Timer::Round))
                .collect(),
            history: OnceCell::new(),
        };
        self.retire_nodes(&mut state, &facts);
        let actors = &state.actor_states;
        // A sender-blind envelope that does not name the canonical sender yet.
        let to_rename =
            |e: &Envelope<ModelMsg>| self.sender_blind(e) && e.src != blind_sender(e.dst);
        match &mut state.network {
            Network::UnorderedDuplicating(set, last) => {
                *last = None;
                set.retain(|e| !self.is_dead(actors, &facts, e));
                let renamed: Vec<_> = set.iter().filter(|e| to_rename(e)).cloned().collect();
                for e in renamed {
                    set.remove(&e);
                    set.insert(Envelope {
                        src: blind_sender(e.dst),
                        ..e
                    });
                }
            }
            Network::UnorderedNonDuplicating(multiset) => {
                multiset.retain(|e, _| !self.is_dead(actors, &facts, e));
                let renamed: Vec<_> = multiset
                    .iter()
                    .filter(|(e, _)| to_rename(e))
                    .map(|(e, n)| (e.clone(), *n))
                    .collect();
                for (e, n) in renamed {
                    multiset.remove(&e);
                    *multiset
                        .entry(Envelope {
                            src: blind_sender(e.dst),
                            ..e
                        })
                        .or_insert(0) += n;
                }
            }
            Network::Ordered(_) => {}
        }
        state
    }

    /// Whether `env` is a protocol message whose effect does not depend on its sender, in a
    /// model that may rename senders (not the faithful one).
    fn sender_blind(&self, env: &Envelope<ModelMsg>) -> bool {
        let (ModelMsg::Peer(msg), Some(SynodActor::Node { protocol, .. })) =
            (&env.msg, self.actors.actors.get(usize::from(env.dst)))
        else {
            return false;
        };
        self.normalization == Normalization::Full && !protocol.sender_matters(msg)
    }

    /// A crashed node's volatile state is dead until its restart: replaces it by what the
    /// restart will find.
    fn wake_dormant(&self, state: &mut SystemState<P>) {
        for i in 0..state.crashed.len() {
            if !state.crashed[i] {
                continue;
            }
            let (ActorState::Node(stale), Some(Some(storage))) =
                (&*state.actor_states[i], state.actor_storages.get(i))
            else {
                continue;
            };
            let dormant = NodeState {
                node: Node::restart(*stale.node.config(), storage.durable.clone()),
                durable: storage.durable.clone(),
                ghost: storage.ghost.clone(),
            };
            if dormant != *stale {
                state.actor_states[i] = Arc::new(ActorState::Node(dormant));
            }
        }
    }

    /// Normalizes every node with a dead clock or retired (see [`Self::retire`]). Unless the
    /// model is [`Self::faithful`], it also forgets a retired node's reply to its request — ghost
    /// state read only by `learned is chosen`, which fails on a `Chosen` reply whose value is not
    /// chosen and holds for it forever once it is chosen (other replies it ignores): one that
    /// holds now is forgotten; one that fails is kept, so the property still fails on it.
    fn retire_nodes(&self, state: &mut SystemState<P>, facts: &Facts) {
        for i in 0..state.actor_states.len() {
            if !facts.clock_dead[i] && !self.forgets_learned_while_busy() {
                continue;
            }
            let ActorState::Node(n) = &*state.actor_states[i] else {
                continue;
            };
            let mut retired = n.clone();
            self.retire(&mut retired.node, facts, &state.actor_states, i);
            let reply_settled = facts.retired[i]
                && self.normalization == Normalization::Full
                && retired
                    .ghost
                    .reply
                    .as_ref()
                    .is_some_and(|reply| match reply {
                        Ok(Outcome::Chosen { value, .. }) => facts
                            .history(&state.actor_states)
                            .chosen(self.cfg.q2())
                            .any(|(_, v)| v == Some(*value)),
                        _ => true,
                    });
            if reply_settled {
                // The reply is ghost state, saved with the storage too: forget it there as well.
                retired.ghost.reply = None;
                if let Some(Some(storage)) = state.actor_storages.get_mut(i) {
                    storage.ghost.reply = None;
                }
            }
            if retired != *n {
                state.actor_states[i] = Arc::new(ActorState::Node(retired));
            }
        }
    }

    /// Drops what node `i` never reads again: a dead generation clock (read only when a round
    /// starts) and, if the node is retired (with the fast paths on: any node, see
    /// [`Self::forgets_learned_while_busy`]) and unless the model is [`Self::faithful`], a learned
    /// value that is chosen (nothing in the protocol reads it; the `learned is chosen` property
    /// holds for it forever, since what is chosen stays chosen; a learned value that is *not*
    /// chosen is kept, so the property fails on it).
    fn retire(&self, node: &mut Node<Value>, facts: &Facts, actors: &[Arc<ActorState>], i: usize) {
        if facts.clock_dead.get(i).copied() == Some(true) {
            node.forget_clock();
        }
        if facts.retired.get(i).copied() != Some(true) && !self.forgets_learned_while_busy() {
            return;
        }
        let chosen = node
            .learned()
            .is_some_and(|p| facts.history(actors).count(p.ballot, p.value) >= self.cfg.q2());
        if self.normalization == Normalization::Full && chosen {
            node.forget_learned();
        }
    }

    /// Whether nodes that are not retired forget a chosen learned value too. Sound for every
    /// configuration: nothing in the protocol reads a learned value (it only decides whether a
    /// step outputs `Learned`, which has no effect in the model; votes are counted separately,
    /// and a learner counting them keeps what it learned), and `learned is chosen` holds for a
    /// chosen value forever. Done only with the fast paths on, where it halves the reads-racing-
    /// writes configuration: on the classic CI configurations it does not pay (a forgotten value
    /// keeps stale `Commit`s alive while its node's own proposal is being counted: two of them
    /// grow by 4 % and 10 %), and their pinned counts stay as they were.
    fn forgets_learned_while_busy(&self) -> bool {
        self.cfg.is_fast()
    }

    /// The same model, for a checker that must stop by `stop` (a deadline, a memory bound):
    /// once it closes no state is within the boundary, so every search strategy stops
    /// expanding states and drains its queue at once (stateright 0.31's own timeout is read
    /// only when a depth-first worker runs out of work, which a single worker never does). A run
    /// it stopped is INCOMPLETE ([`crate::check::run`]); the model a discovery is replayed in
    /// has no bound.
    pub fn stopping_by(&self, stop: Stop) -> Self {
        SynodModel {
            stop,
            ..self.clone()
        }
    }

    /// The same model with [`Normalization::Off`]: stateright's plain actor model.
    pub fn unnormalized(&self) -> Self {
        SynodModel {
            normalization: Normalization::Off,
            ..self.clone()
        }
    }

    /// The same model without forgetting learned values and replies: its states show exactly
    /// what the core holds, as trace files and counterexample listings need (production replays
    /// compare them).
    pub fn faithful(&self) -> Self {
        SynodModel {
            normalization: Normalization::Faithful,
            ..self.clone()
        }
    }
}

impl<P: Protocol> SynodModel<P> {
    /// Whether node `i` can never crash and restart again (its volatile state then only moves
    /// forward: ballots and learned proposals only grow, tallies only gain voters).
    fn never_restarts(&self, state: &SystemState<P>, i: usize) -> bool {
        if state.crashed.get(i).copied().unwrap_or(true) {
            return false;
        }
        if !self.cfg.may_crash(i) {
            return true;
        }
        let used: usize = state
            .actor_states
            .iter()
            .zip(&state.crashed)
            .map(|(s, crashed)| match &**s {
                ActorState::Node(n) => n.ghost.restarts as usize + usize::from(*crashed),
                ActorState::Client(_) => 0,
            })
            .sum();
        used >= self.cfg.crashes
    }

    /// Whether `env` is a reply-side protocol message (`Promise`, `Accepted`, `Reject`,
    /// `Commit`, `Report`) whose delivery to a node that never restarts changes nothing now — and
    /// therefore never will: each is ignored only for a ballot the proposer has left for good,
    /// a voter already counted, a proposal no newer than what was learned, or (a `Report`) a
    /// read that is over or counted that reporter already. A `Reject` that only echoes the
    /// proposer's own reserved next ballot is ignored while that round runs and, for another
    /// ballot, ever after. (A `Query` is request-side: see [`Self::query_is_dead`].) Such an envelope
    /// can only make otherwise identical states look different. The check runs the real
    /// protocol step, so it follows the code rather than a description of it.
    ///
    /// A request-side message (`Prepare`, `Accept`) is dead when its sender's clock is dead (see
    /// [`Self::clock_dead`]), its ballot is not the sender's current one, and delivering it to a
    /// node that never restarts changes nothing there and only sends the sender a reply that is
    /// itself dead. That too lasts: the receiving acceptor's promise only grows, so a request it
    /// ignores now it ignores forever; the sender starts no further round, so its current ballot
    /// never becomes this one, and it ignores every `Promise` and `Reject` for another ballot
    /// whatever they carry (a `Reject` only moves its dead clock), while an `Accepted` it
    /// ignores now it ignores forever (its learner's count only grows, and is replaced only when
    /// its own proposer proposes). In the checked (not faithful) model the ballot may also be
    /// the sender's current one, and a reply may also be a `Reject` that does what the sender's
    /// round timer does ([`Self::ignored_or_timeout`]): any later answer to the request is such a
    /// `Reject` or ignored, for the same reasons.
    fn is_dead(&self, actors: &[Arc<ActorState>], facts: &Facts, env: &Envelope<ModelMsg>) -> bool {
        let ModelMsg::Peer(msg) = &env.msg else {
            return false;
        };
        let (src, dst) = (usize::from(env.src), usize::from(env.dst));
        if let Message::Query { request } = msg {
            return self.query_is_dead(actors, facts, src, dst, *request, msg);
        }
        let (Message::Prepare { ballot } | Message::Accept { ballot, .. }) = msg else {
            return self.ignored_or_timeout(actors, facts, src, dst, msg);
        };
        let Some(out) = self.no_op_delivery(actors, facts, src, dst, msg) else {
            return false;
        };
        let SynodActor::Node { protocol, .. } = &self.actors.actors[dst] else {
            return false;
        };
        // A request of the sender's current round may yet draw a `Reject` that fails it: only
        // the checked model counts that as the round timeout (see `ignored_or_timeout`).
        let sender_moved_on = self.normalization == Normalization::Full
            || matches!(
                actors.get(src).map(|a| &**a),
                Some(ActorState::Node(n)) if n.node.proposer().current_ballot() != Some(*ballot)
            );
        protocol.stale_requests_stay_stale()
            && facts.clock_dead.get(src).copied() == Some(true)
            && sender_moved_on
            && out.into_iter().all(|o| match o {
                Output::Send { to, msg } if actor_of(to) == env.src => {
                    self.ignored_or_timeout(actors, facts, dst, src, &msg)
                }
                _ => false,
            })
    }

    /// Whether a one-round-trip read's `Query` for `request`, from `src` to `dst`, is dead: the
    /// sender's clock is dead and it is not reading `request` — so it never will again (a
    /// request is begun once, and only its first round reads) and ignores every `Report` for it
    /// whatever it carries (a report only moves its dead clock) — and delivering it to a node
    /// that never restarts changes nothing there (an acceptor answers a query without changing
    /// state) and draws only such a report, which the sender ignores (checked by stepping both).
    fn query_is_dead(
        &self,
        actors: &[Arc<ActorState>],
        facts: &Facts,
        src: usize,
        dst: usize,
        request: RequestId,
        msg: &Message<Value>,
    ) -> bool {
        let reading_it = matches!(
            actors.get(src).map(|a| &**a),
            Some(ActorState::Node(n)) if matches!(n.node.proposer().phase(), Phase::Reading { .. })
                && n.node.proposer().request().is_some_and(|(r, _)| r == request)
        );
        if reading_it || facts.clock_dead.get(src).copied() != Some(true) {
            return false;
        }
        let Some(out) = self.no_op_delivery(actors, facts, src, dst, msg) else {
            return false;
        };
        out.into_iter().all(|o| match o {
            Output::Send {
                to,
                msg: reply @ Message::Report { .. },
            } if actor_of(to) == Id::from(src) => {
                self.ignored_or_timeout(actors, facts, dst, src, &reply)
            }
            _ => false,
        })
    }

    /// Whether delivering reply `msg` from `src` to `dst` changes nothing (forever, see
    /// [`Self::is_dead`]), or, in the checked model, is a `Reject` that does exactly what `dst`'s
    /// pending round timer does when it fires, `dst` never restarting and its clock being dead.
    /// The core sets the round timer when a round starts and cancels it only when the round ends
    /// (chosen, failed or given up), so while the round runs the `Reject` only duplicates the
    /// timer's transition (the promise it reports would only move the dead clock), and after it
    /// the `Reject` is ignored.
    fn ignored_or_timeout(
        &self,
        actors: &[Arc<ActorState>],
        facts: &Facts,
        src: usize,
        dst: usize,
        msg: &Message<Value>,
    ) -> bool {
        let delivered = Input::Message {
            from: node_id(src),
            msg: msg.clone(),
        };
        let Some((before, after, out)) = self.step_copy(actors, facts, dst, delivered) else {
            return false;
        };
        if after == *before && out.is_empty() {
            return true;
        }
        let repeats_timer = facts.clock_dead.get(dst).copied() == Some(true)
            && facts.round_timer.get(dst).copied() == Some(true)
            && self.normalization == Normalization::Full
            && matches!(msg, Message::Reject { .. });
        repeats_timer
            && self
                .step_copy(actors, facts, dst, Input::Timeout(Timer::Round))
                .is_some_and(|(_, by_timer, timer_out)| by_timer == after && timer_out == out)
    }

    /// Delivers `msg` from `src` to node `dst`, if `dst` never restarts, and returns the outputs
    /// that have an effect in the model if the node's (normalized) state did not change.
    fn no_op_delivery(
        &self,
        actors: &[Arc<ActorState>],
        facts: &Facts,
        src: usize,
        dst: usize,
        msg: &Message<Value>,
    ) -> Option<Vec<Output<Value>>> {
        let delivered = Input::Message {
            from: node_id(src),
            msg: msg.clone(),
        };
        let (before, after, out) = self.step_copy(actors, facts, dst, delivered)?;
        (after == *before).then_some(out)
    }

    /// Steps a copy of node `dst`, if it never restarts, with `input`: returns the node before,
    /// the copy after (normalized as its state would be) and the outputs that have an effect in
    /// the model (`Learned` has none: the properties read the learner itself).
    fn step_copy<'a>(
        &self,
        actors: &'a [Arc<ActorState>],
        facts: &Facts,
        dst: usize,
        input: Input<Value>,
    ) -> Option<SteppedCopy<'a>> {
        let (Some(true), Some(ActorState::Node(n)), Some(SynodActor::Node { protocol, .. })) = (
            facts.settled.get(dst).copied(),
            actors.get(dst).map(|a| &**a),
            self.actors.actors.get(dst),
        ) else {
            return None;
        };
        let mut node = n.node.clone();
        let mut out = Vec::new();
        protocol.step(&mut node, input, &mut out);
        self.retire(&mut node, facts, actors, dst);
        out.retain(|o| !matches!(o, Output::Learned(_)));
        Some((&n.node, node, out))
    }

    /// Whether node `i` will never start another round: it takes no further request
    /// ([`Self::takes_no_more_requests`]) and no round of its current one is left to start.
    /// Its generation clock is dead state.
    fn clock_dead(&self, state: &SystemState<P>, i: usize) -> bool {
        matches!(state.actor_states.get(i).map(|a| &**a),
            Some(ActorState::Node(n)) if n.node.proposer().starts_no_more_rounds())
            && self.takes_no_more_requests(state, i)
    }

    /// Whether node `i` will never take another request and has none in progress: its proposer
    /// stays idle forever.
    fn retired(&self, state: &SystemState<P>, i: usize) -> bool {
        matches!(state.actor_states.get(i).map(|a| &**a),
            Some(ActorState::Node(n)) if n.node.proposer().request().is_none())
            && self.takes_no_more_requests(state, i)
    }

    /// Whether node `i` will never be handed another request: in consensus mode every node
    /// (a proposer takes its one `ProposeOnce` at start); in register mode a node whose client
    /// (if any) has handed it every operation of its script.
    fn takes_no_more_requests(&self, state: &SystemState<P>, i: usize) -> bool {
        let Some(ActorState::Node(n)) = state.actor_states.get(i).map(|a| &**a) else {
            return false;
        };
        match &self.cfg.mode {
            Mode::Consensus { .. } => true,
            Mode::Register { scripts } => scripts.get(i).is_none_or(|ops| {
                (0..ops.len()).all(|seq| n.ghost.requests_seen & (1u64 << (i * 8 + seq)) != 0)
            }),
        }
    }
}

/// The one sender that envelopes of sender-blind messages to `dst` name: the first node that is
/// not `dst` (a member, and not the receiver itself, so the core does not ignore the message).
pub fn blind_sender(dst: Id) -> Id {
    Id::from(usize::from(usize::from(dst) == 0))
}

impl<P: Protocol> Checked for SynodModel<P> {
    fn config(&self) -> &ModelConfig {
        &self.cfg
    }
}

impl<P: Protocol> Model for SynodModel<P> {
    type State = SystemState<P>;
    type Action = crate::message::Action;

    fn init_states(&self) -> Vec<Self::State> {
        self.actors
            .init_states()
            .into_iter()
            .map(|s| self.normalize(s))
            .collect()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        self.actors.actions(state, actions)
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        self.actors
            .next_state(last, action)
            .map(|s| self.normalize(s))
    }

    fn format_action(&self, action: &Self::Action) -> String {
        crate::notation::fmt_action(self.cfg.nodes, action)
    }

    fn format_step(&self, last: &Self::State, action: Self::Action) -> Option<String> {
        self.actors.format_step(last, action)
    }

    fn as_svg(&self, path: Path<Self::State, Self::Action>) -> Option<String> {
        Some(crate::sequence_diagram::svg(self.cfg.nodes, &path))
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties_of::<P, Self>(&self.cfg)
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        within_crash_budget::<P>(&self.cfg, state) && self.stop.is_open()
    }
}
