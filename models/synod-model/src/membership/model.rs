//! The membership model's actions, each stepping the real core through its step contract.
//!
//! | action | what happens |
//! |---|---|
//! | `Deliver(e)` | the receiver steps `Message{from, msg}`; a `Stale` carrying a newer configuration is what a runtime acts on: it installs that configuration (durably, then `Input::Install`). The envelope stays in the network (duplication) |
//! | `Timeout(n, t)` | node `n`'s running timer `t` fires |
//! | `Invoke(c)` | client `c` sends its next operation to its node (`Input::Request`) |
//! | `Install(n)` | the admin installs its current generation on node `n` (creating the node when it joins) |
//! | `CatchUp` | the admin sends a `Read` to the catch-up node, which must be in the current generation |
//! | `Advance` | the admin starts the next step: once the current one is installed somewhere (everywhere, without lagging nodes) and, when the next step needs one, the catch-up was answered (with `change_after_first_write`, only once client 0's first operation was answered) |
//! | `Crash(n)` | the crashable node stops for good (its disk is gone: it is replaced, not restarted) |
//!
//! A step is atomic, so every `Persist` of a step is durable before its messages leave, as the
//! contract requires; the node's acceptor state is its durable state.

use super::scenario::{MembershipBug, MembershipConfig};
use super::state::{Admin, CatchUp, ClientSlot, Envelope, MembershipState, NodeSlot};
use crate::config::node_id;
use crate::message::{request_id, request_owner};
use crate::register_spec::{RegisterSpec, SpecRet};
use crate::stop::Stop;
use crate::value::Value;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use stateright::{Model, Property};
use std::collections::{BTreeMap, BTreeSet};
use synod_core::{Config, Configuration, Input, Message, Node, Output, RequestId, Step, Timer};

/// The request id of the admin's catch-up in generation `g` (client ids start at 256).
pub fn catch_up_request(generation: u64) -> RequestId {
    RequestId(generation + 1)
}

/// The generation whose catch-up `request` is, if it is a catch-up's id (below the clients').
pub fn catch_up_generation(request: RequestId) -> Option<u64> {
    (1..256).contains(&request.0).then(|| request.0 - 1)
}

/// Puts `env` on the network, unless it can never change anything (the model's reductions,
/// docs/model.md): a message to a node that crashed for good (it never restarts); a `Reject`
/// that echoes its receiver's own ballot (a duplicated request reaching an acceptor that already
/// granted it: the proposer ignores it, `tests/node_rules.rs`); and a `Commit`, which only
/// teaches its receiver a value its sender learned — every learned value is judged where it
/// was first learned, so the model explores the runs in which commits are lost.
fn send(state: &mut MembershipState, env: Envelope) {
    let crashed = state.nodes[env.dst.0 as usize - 1].crashed;
    let pointless = match env.msg.clone().generation_of() {
        Some((_, Message::Reject { ballot, promised })) => ballot == promised,
        Some((_, Message::Commit { .. })) => true,
        _ => false,
    };
    if !crashed && !pointless {
        state.network.insert(env);
    }
}

/// One step of the membership model.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Deliver a message (it stays in flight).
    Deliver(Envelope),
    /// A node's timer fires.
    Timeout(usize, Timer),
    /// A client sends its next operation.
    Invoke(usize),
    /// The admin installs its current generation on a node.
    Install(usize),
    /// The admin sends the catch-up `Read`.
    CatchUp,
    /// The admin starts the next step.
    Advance,
    /// A node crashes for good.
    Crash(usize),
}

/// What one action did at the nodes: each node step it took, in order — the node (index) and
/// the core's outputs of that step (an install's included). A delivery, timeout, request or
/// install steps one node; an install without lagging nodes may step several; the admin's
/// `Advance` and a crash step none.
pub type Effects = Vec<(usize, Vec<Output<Value>>)>;

/// A model whose states are the membership model's, judged by its properties: the membership
/// model itself, or its quorum transitions ([`super::quorum`]).
pub trait OfMembership:
    Model<State = MembershipState, Action: Clone + PartialEq + std::fmt::Debug> + Sized
{
    /// The membership model that judges the properties.
    fn membership(&self) -> &MembershipModel;
    /// The membership model's actions that `action` stands for, in order.
    fn expand(action: Self::Action) -> Vec<Action>;
}

impl OfMembership for MembershipModel {
    fn membership(&self) -> &MembershipModel {
        self
    }

    fn expand(action: Action) -> Vec<Action> {
        vec![action]
    }
}

/// The membership model of a [`MembershipConfig`].
#[derive(Clone, Debug)]
pub struct MembershipModel {
    /// What is explored.
    pub cfg: MembershipConfig,
    /// `configurations[g]` is generation `g`.
    pub configurations: Vec<Configuration>,
    /// The plan's steps (`steps[g - 1]` installs generation `g`).
    pub steps: Vec<Step>,
    /// When to stop exploring: a deadline, a memory bound (the run is then INCOMPLETE).
    pub stop: Stop,
    /// Whether every successor state is normalized ([`super::reduction`]): the checked model.
    pub reduce: bool,
}

impl MembershipModel {
    /// The faithful model of `cfg`: every state as the nodes hold it (trace export and check,
    /// guided paths).
    pub fn new(cfg: MembershipConfig) -> Self {
        let (configurations, steps) = cfg.configurations();
        MembershipModel {
            cfg,
            configurations,
            steps,
            stop: Stop::never(),
            reduce: false,
        }
    }

    /// The checked model of `cfg`: [`Self::new`] with the reductions of [`super::reduction`].
    pub fn reduced(cfg: MembershipConfig) -> Self {
        MembershipModel {
            reduce: true,
            ..Self::new(cfg)
        }
    }

    /// The last generation of the plan.
    pub fn last_generation(&self) -> u64 {
        self.steps.len() as u64
    }

    /// The configuration of generation `g`.
    pub fn configuration(&self, g: u64) -> &Configuration {
        &self.configurations[g as usize]
    }

    /// What node `i` installs for generation `g`: the configuration itself, or, for the
    /// `keep-old-quorums` double at node 1, its sets with generation 0's quorum sizes.
    fn installed_by(&self, i: usize, g: u64) -> Configuration {
        let c = *self.configuration(g);
        if self.cfg.bug == Some(MembershipBug::KeepOldQuorums) && i == 0 {
            let old = self.configuration(0);
            return Configuration::unchecked(g, c.prepare(), old.q1(), c.accept(), old.q2());
        }
        c
    }

    /// Node `i` moves to generation `g` (durably first: here the model's step is atomic), and
    /// its outputs; `None` when it neither runs nor joins (crashed, or not a member of `g`). A
    /// node that joins starts empty in `g` and outputs nothing.
    fn install(&self, state: &mut MembershipState, i: usize, g: u64) -> Option<Vec<Output<Value>>> {
        let configuration = self.installed_by(i, g);
        let slot = &mut state.nodes[i];
        if slot.crashed {
            return None;
        }
        match &slot.node {
            Some(_) => Some(self.step(state, i, Input::Install(configuration))),
            None if configuration.members().contains(node_id(i)) => {
                let config = Config::joining(self.cfg.cluster(), node_id(i), configuration)
                    .expect("a joining node is a member");
                slot.node = Some(Node::new(config));
                Some(Vec::new())
            }
            None => None,
        }
    }

    /// Steps node `i` with `input`, carries out its outputs and returns them (nothing when the
    /// node does not run).
    fn step(
        &self,
        state: &mut MembershipState,
        i: usize,
        input: Input<Value>,
    ) -> Vec<Output<Value>> {
        let Some(node) = state.nodes[i].node.as_mut() else {
            return Vec::new();
        };
        let before = node.acceptor_state().accepted.clone();
        let mut out = Vec::new();
        node.step(input, &mut out);
        let me = node.id();
        let generation = node.config().configuration().generation();
        let members = node.config().members();
        if let Some(p) = &node.acceptor_state().accepted {
            if before.as_ref() != Some(p) {
                let voters = state
                    .accepts
                    .entry(p.clone())
                    .or_default()
                    .entry(generation)
                    .or_default();
                voters.insert(me);
            }
        }
        for output in &out {
            match output {
                Output::Send { to, msg } => send(
                    state,
                    Envelope {
                        src: me,
                        dst: *to,
                        msg: msg.clone(),
                    },
                ),
                Output::Broadcast { msg } => {
                    for to in members.iter().filter(|&n| n != me) {
                        let msg = msg.clone();
                        send(
                            state,
                            Envelope {
                                src: me,
                                dst: to,
                                msg,
                            },
                        );
                    }
                }
                Output::SetTimer { timer, .. } => {
                    state.nodes[i].timers.insert(*timer);
                }
                Output::CancelTimer(timer) => {
                    state.nodes[i].timers.remove(timer);
                }
                Output::Reply { request, result } => self.reply(state, *request, result),
                Output::Persist(_) | Output::Learned(_) => {}
            }
        }
        out
    }

    /// A reply reaches its client (or the admin).
    fn reply(
        &self,
        state: &mut MembershipState,
        request: RequestId,
        result: &synod_core::ReplyResult<Value>,
    ) {
        if request == catch_up_request(state.admin.generation) {
            if state.admin.catch_up == CatchUp::Sent {
                state.admin.catch_up = if result.is_ok() {
                    CatchUp::Done
                } else {
                    CatchUp::Failed
                };
            }
            return;
        }
        let Some((c, _)) = request_owner(request) else {
            return;
        };
        let client = &mut state.clients[c];
        if client.waiting != Some(request) {
            return;
        }
        client.waiting = None;
        let thread = (c as u8, client.epoch);
        match SpecRet::of_reply(result) {
            Some(ret) => {
                let _ = state.history.on_return(thread, ret);
                state.linearizable = state.history.serialized_history().is_some();
            }
            None => client.epoch += 1,
        }
    }

    /// The receiver steps the message; then, for a `Stale` that carries a newer configuration,
    /// the runtime's part: it installs that configuration. The outputs of both, in that order
    /// (the core ignores a `Stale` itself, so they are the install's).
    fn deliver(&self, state: &mut MembershipState, env: Envelope) -> Vec<Output<Value>> {
        let i = env.dst.0 as usize - 1;
        let Some(generation) = state.nodes[i].generation() else {
            return Vec::new();
        };
        let stale = match env.msg.clone().generation_of() {
            Some((_, Message::Stale { configuration })) => Some(configuration.generation()),
            _ => None,
        };
        let mut out = self.step(
            state,
            i,
            Input::Message {
                from: env.src,
                msg: env.msg,
            },
        );
        if let Some(newer) = stale.filter(|&g| g > generation) {
            out.extend(self.install(state, i, newer).unwrap_or_default());
        }
        out
    }

    /// Whether the admin may start the next step.
    fn may_advance(&self, state: &MembershipState) -> bool {
        let g = state.admin.generation;
        if g >= self.last_generation() {
            return false;
        }
        let first_write_done = state
            .clients
            .first()
            .is_some_and(|c| c.sent >= 1 && c.waiting.is_none());
        if self.cfg.change_after_first_write && !first_write_done {
            return false;
        }
        let installed = if self.cfg.lagging {
            state.nodes.iter().any(|n| n.generation() == Some(g))
        } else {
            let members = self.configuration(g).members();
            state
                .nodes
                .iter()
                .enumerate()
                .all(|(i, n)| match n.generation() {
                    Some(own) => own >= g,
                    None => n.crashed || !members.contains(node_id(i)),
                })
        };
        let caught_up = !self.steps[g as usize].catch_up_first
            || state.admin.catch_up == CatchUp::Done
            || self.cfg.bug == Some(MembershipBug::SkipCatchUp);
        installed && caught_up
    }

    /// `action` taken in `last`: the next state and what each node's step output, or `None`
    /// when the action changes nothing. The one place the model moves: `next_state` is this
    /// without the outputs, and trace export and validation read the outputs from it.
    pub fn apply(
        &self,
        last: &MembershipState,
        action: &Action,
    ) -> Option<(MembershipState, Effects)> {
        let mut state = last.clone();
        let mut effects = Effects::new();
        match action {
            Action::Deliver(env) => {
                // Requests stay in flight (they may be delivered again); an answer is delivered
                // once, since a second copy is a no-op (docs/model.md).
                let request = env
                    .msg
                    .clone()
                    .generation_of()
                    .is_some_and(|(_, m)| m.is_request());
                if !request {
                    state.network.remove(env);
                }
                let i = env.dst.0 as usize - 1;
                effects.push((i, self.deliver(&mut state, env.clone())));
            }
            Action::Timeout(i, timer) => {
                state.nodes[*i].timers.remove(timer);
                effects.push((*i, self.step(&mut state, *i, Input::Timeout(*timer))));
            }
            Action::Invoke(c) => {
                let c = *c;
                let op = self.cfg.scripts()[c][state.clients[c].sent as usize].clone();
                let request = request_id(c, state.clients[c].sent as usize);
                let client = &mut state.clients[c];
                client.sent += 1;
                client.waiting = Some(request);
                let thread = (c as u8, client.epoch);
                let _ = state.history.on_invoke(thread, op.clone());
                state.linearizable = state.history.serialized_history().is_some();
                effects.push((c, self.step(&mut state, c, Input::Request { request, op })));
            }
            Action::Install(i) => {
                let g = state.admin.generation;
                if self.cfg.lagging {
                    effects.extend(self.install(&mut state, *i, g).map(|out| (*i, out)));
                } else {
                    // Every live node at once: no node lags behind the admin.
                    for n in 0..state.nodes.len() {
                        if state.nodes[n].generation().is_none_or(|own| own < g) {
                            effects.extend(self.install(&mut state, n, g).map(|out| (n, out)));
                        }
                    }
                }
            }
            Action::CatchUp => {
                state.admin.catch_up = CatchUp::Sent;
                let request = catch_up_request(state.admin.generation);
                let op = synod_core::Operation::Read;
                let i = self.cfg.catch_up_node();
                effects.push((i, self.step(&mut state, i, Input::Request { request, op })));
            }
            Action::Advance => {
                state.admin = Admin {
                    generation: state.admin.generation + 1,
                    catch_up: CatchUp::Idle,
                };
            }
            Action::Crash(i) => {
                let slot = &mut state.nodes[*i];
                slot.node = None;
                slot.crashed = true;
                slot.timers.clear();
                let dead = node_id(*i);
                state.network.retain(|e| e.dst != dead);
            }
        }
        if self.reduce {
            super::reduction::normalize(self, &mut state);
        }
        (state != *last).then_some((state, effects))
    }
}

impl Model for MembershipModel {
    type State = MembershipState;
    type Action = Action;

    fn init_states(&self) -> Vec<MembershipState> {
        let cluster = self.cfg.cluster();
        let nodes = (0..self.cfg.nodes())
            .map(|i| NodeSlot {
                node: cluster.node(node_id(i)).ok().map(Node::new),
                crashed: false,
                timers: BTreeSet::new(),
            })
            .collect();
        let clients = self
            .cfg
            .scripts()
            .iter()
            .map(|_| ClientSlot {
                sent: 0,
                waiting: None,
                epoch: 0,
            })
            .collect();
        vec![MembershipState {
            nodes,
            network: BTreeSet::new(),
            clients,
            admin: Admin {
                generation: 0,
                catch_up: CatchUp::Idle,
            },
            accepts: BTreeMap::new(),
            history: LinearizabilityTester::new(RegisterSpec::default()),
            linearizable: true,
        }]
    }

    fn actions(&self, state: &MembershipState, actions: &mut Vec<Action>) {
        for env in &state.network {
            if state.nodes[env.dst.0 as usize - 1].node.is_some() {
                actions.push(Action::Deliver(env.clone()));
            }
        }
        for (i, slot) in state.nodes.iter().enumerate() {
            if slot.node.is_some() && self.cfg.timeouts {
                for &t in &slot.timers {
                    actions.push(Action::Timeout(i, t));
                }
            }
        }
        let scripts = self.cfg.scripts();
        for (c, client) in state.clients.iter().enumerate() {
            let up = state.nodes[c].node.is_some();
            if up && client.waiting.is_none() && (client.sent as usize) < scripts[c].len() {
                actions.push(Action::Invoke(c));
            }
        }
        let g = state.admin.generation;
        let target = self.configuration(g).members();
        for (i, slot) in state.nodes.iter().enumerate() {
            let behind = match slot.generation() {
                Some(own) => own < g,
                None => !slot.crashed && target.contains(node_id(i)),
            };
            if behind && !slot.crashed {
                // One install order (by id): which node lags is still arbitrary, since the
                // admin may start the next step after the first install.
                actions.push(Action::Install(i));
                break;
            }
        }
        let next_needs_catch_up = self.steps.get(g as usize).is_some_and(|s| s.catch_up_first);
        let catch_up_node = &state.nodes[self.cfg.catch_up_node()];
        if next_needs_catch_up
            && self.cfg.bug != Some(MembershipBug::SkipCatchUp)
            && state.admin.catch_up == CatchUp::Idle
            && catch_up_node.generation() == Some(g)
        {
            actions.push(Action::CatchUp);
        }
        if self.may_advance(state) {
            actions.push(Action::Advance);
        }
        if let Some(i) = self.cfg.crashable() {
            if state.nodes[i].node.is_some() {
                actions.push(Action::Crash(i));
            }
        }
    }

    fn next_state(&self, last: &MembershipState, action: Action) -> Option<MembershipState> {
        self.apply(last, &action).map(|(state, _)| state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        super::properties::all(self)
    }

    fn within_boundary(&self, _: &MembershipState) -> bool {
        self.stop.is_open()
    }
}

/// One action as a line of a counterexample listing.
pub fn describe(action: &Action) -> String {
    match action {
        Action::Deliver(e) => format!(
            "deliver {} → {}: {}",
            e.src,
            e.dst,
            describe_message(&e.msg)
        ),
        Action::Timeout(i, t) => format!("node {} {t:?} timer fires", node_id(*i)),
        Action::Invoke(c) => format!(
            "client {c} sends its next operation to node {}",
            node_id(*c)
        ),
        Action::Install(i) => format!(
            "admin installs its current generation on node {} (without lagging nodes: on \
             every node behind it)",
            node_id(*i)
        ),
        Action::CatchUp => "admin sends the catch-up read".to_string(),
        Action::Advance => "admin starts the next step".to_string(),
        Action::Crash(i) => format!("node {} crashes for good", node_id(*i)),
    }
}

fn describe_message(msg: &Message<Value>) -> String {
    synod_check::notation::message(msg)
}

impl MembershipModel {
    /// The same model, whose boundary closes when `stop` does (the run is then INCOMPLETE).
    pub fn stopping_by(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }
}
