//! The actors: one per node, delegating **every** event to a [`Protocol`] (the core's
//! `Node::step`), and in register mode one per client.
//!
//! The node actor only translates between stateright and the core's step contract:
//!
//! | core output | model effect |
//! |---|---|
//! | `Persist(s)` | saved to stateright `Storage` (survives a crash) and kept in the actor state |
//! | `Send` / `Broadcast` | `o.send` to one / every other node |
//! | `SetTimer` / `CancelTimer` | `o.set_timer` (a model-sized range: any delay) / `o.cancel_timer` |
//! | `Reply` | a `Reply` message to the client (register mode) or the ghost reply (consensus) |
//! | `Learned` | nothing: the learner's state is read from the node by the properties |
//!
//! A model step is atomic, so every persist of a step is durable before any of its messages
//! leaves, as the contract requires. A crash keeps only what was persisted (and the ghost
//! history, which is not protocol state); the restart goes through `Node::restart`.

use crate::config::{node_id, ModelConfig, Value};
use crate::ghost::{shortcut, AcceptRecord, Ghost};
use crate::message::{request_id, request_owner, ModelMsg};
use crate::protocol::Protocol;
use stateright::actor::{model_timeout, Actor, Id, Out};
use std::borrow::Cow;
use synod_core::{
    AcceptorState, Config, Input, Message, Node, NodeId, Operation, Output, Phase, RequestId, Timer,
};

/// The consensus-mode request id of a proposer's single `ProposeOnce`.
pub const PROPOSE_REQUEST: RequestId = RequestId(1);

/// One actor of the model.
#[derive(Clone, Debug)]
pub enum SynodActor<P> {
    /// A Paxos node.
    Node {
        /// How the node steps (the real core, or a buggy double).
        protocol: P,
        /// Its core configuration.
        config: Config,
        /// Consensus mode: the value it proposes from the start, if it is a proposer.
        proposes: Option<Value>,
        /// Number of nodes (client actors come after them).
        nodes: usize,
        /// Whether replies go to client actors (register mode).
        register: bool,
    },
    /// A register-mode client next to node `server`: sends `ops` one at a time.
    Client {
        /// Its index among clients.
        index: usize,
        /// The node it talks to.
        server: Id,
        /// Its operations.
        ops: Vec<Operation<Value>>,
    },
}

/// A node actor's state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeState {
    /// The core node.
    pub node: Node<Value>,
    /// The last acceptor state made durable (what a crash brings back).
    pub durable: AcceptorState<Value>,
    /// History for the properties.
    pub ghost: Ghost,
}

/// A client actor's state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientState {
    /// Requests sent so far.
    pub sent: u8,
    /// Replies received so far.
    pub answered: u8,
}

/// An actor's state. (Stored behind an `Arc` by stateright, so the size difference between the
/// variants costs nothing per state.)
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(clippy::large_enum_variant)]
pub enum ActorState {
    /// A node.
    Node(NodeState),
    /// A client.
    Client(ClientState),
}

/// What survives a node's crash. Clients are never crashed (the model's boundary excludes it).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Storage {
    /// The persisted acceptor state.
    pub durable: AcceptorState<Value>,
    /// Ghost history (not protocol state; kept so that properties see the whole past).
    pub ghost: Ghost,
}

/// The stateright actor id of node `id`.
pub fn actor_of(id: NodeId) -> Id {
    Id::from(id.0 as usize - 1)
}

/// Builds the actors of `cfg` (validated) around `protocol`.
pub fn actors<P: Protocol>(
    cfg: &ModelConfig,
    protocol: &P,
) -> Result<Vec<SynodActor<P>>, crate::ConfigError> {
    cfg.validate()?;
    let mut actors = Vec::new();
    for i in 0..cfg.nodes {
        let proposes = match &cfg.mode {
            crate::config::Mode::Consensus { proposers } if i < *proposers => {
                Some(ModelConfig::proposal_of(i))
            }
            _ => None,
        };
        actors.push(SynodActor::Node {
            protocol: protocol.clone(),
            config: cfg.node_config(i)?,
            proposes,
            nodes: cfg.nodes,
            register: cfg.is_register(),
        });
    }
    if let crate::config::Mode::Register { scripts } = &cfg.mode {
        for (index, ops) in scripts.iter().enumerate() {
            actors.push(SynodActor::Client {
                index,
                server: Id::from(index),
                ops: ops.clone(),
            });
        }
    }
    Ok(actors)
}

impl<P: Protocol> SynodActor<P> {
    /// Steps the node with `input` and carries out its outputs. Leaves `state` borrowed when
    /// nothing changed, so stateright prunes the no-op.
    fn node_step(&self, state: &mut Cow<ActorState>, input: Input<Value>, o: &mut Out<Self>) {
        let SynodActor::Node { protocol, .. } = self else {
            return;
        };
        let ActorState::Node(before) = &**state else {
            return;
        };
        let mut next = before.clone();
        let mut outputs = Vec::new();
        let request = matches!(input, Input::Request { .. });
        protocol.step(&mut next.node, input, &mut outputs);
        next.ghost.shortcuts |= shortcuts_taken(before.node.proposer().phase(), request, &outputs);
        self.carry_out(&mut next, outputs, o);
        if next != *before {
            *state = Cow::Owned(ActorState::Node(next));
        }
    }

    /// Carries out the outputs of one step, in order, and updates the ghost history.
    fn carry_out(&self, next: &mut NodeState, outputs: Vec<Output<Value>>, o: &mut Out<Self>) {
        let SynodActor::Node {
            config,
            nodes,
            register,
            ..
        } = self
        else {
            return;
        };
        let old_ghost = next.ghost.clone();
        let old_durable = next.durable.clone();
        for output in outputs {
            match output {
                Output::Persist(s) => next.durable = s,
                Output::Send { to, msg } => o.send(actor_of(to), ModelMsg::Peer(msg)),
                Output::Broadcast { msg } => {
                    if matches!(msg, Message::Accept { .. }) {
                        next.ghost.reached_accept = true;
                    }
                    for to in config.members().iter().filter(|m| *m != config.id()) {
                        o.send(actor_of(to), ModelMsg::Peer(msg.clone()));
                    }
                }
                Output::Reply { request, result } => match request_owner(request) {
                    Some((client, _)) if *register => o.send(
                        Id::from(nodes + client),
                        ModelMsg::Reply { request, result },
                    ),
                    _ => next.ghost.reply = Some(result),
                },
                Output::SetTimer { timer, .. } => o.set_timer(timer, model_timeout()),
                Output::CancelTimer(timer) => o.cancel_timer(timer),
                Output::Learned(_) => {}
            }
        }
        if let Some(p) = &next.node.acceptor().state().accepted {
            let record = AcceptRecord {
                ballot: p.ballot,
                value: p.value,
                after_restart: next.ghost.restarts > 0,
            };
            let known = next
                .ghost
                .accepts
                .iter()
                .any(|r| r.ballot == p.ballot && r.value == p.value);
            if !known {
                next.ghost.accepts.push(record);
            }
        }
        if next.ghost != old_ghost || next.durable != old_durable {
            o.save(Storage {
                durable: next.durable.clone(),
                ghost: next.ghost.clone(),
            });
        }
    }
}

/// The [`shortcut`] bits of one step of a node whose proposer was in `before` (its phase before
/// the step), given whether the step took a client request and what it output. Read from the
/// step's outputs, not from the proposer's internals: a shortcut write is the only way a
/// request's first step sends an `Accept`; a full round that starts in the same step that ends
/// an `Accepting` or `Reading` round is a fallback (a classic round ends in a backoff); and a
/// `Reading` round ends with a reply only when a read quorum reported one proposal.
pub fn shortcuts_taken(before: &Phase<Value>, request: bool, outputs: &[Output<Value>]) -> u8 {
    let broadcasts = |prepare: bool| {
        outputs.iter().any(|o| match o {
            Output::Broadcast { msg } => {
                matches!(msg, Message::Prepare { .. }) == prepare
                    && matches!(msg, Message::Prepare { .. } | Message::Accept { .. })
            }
            _ => false,
        })
    };
    let replies = outputs.iter().any(|o| matches!(o, Output::Reply { .. }));
    let mut bits = 0;
    if request && broadcasts(false) {
        bits |= shortcut::FAST_WRITE;
    }
    match before {
        Phase::Accepting { .. } if broadcasts(true) => bits |= shortcut::WRITE_FELL_BACK,
        Phase::Reading { .. } if broadcasts(true) => bits |= shortcut::READ_FELL_BACK,
        Phase::Reading { .. } if replies => bits |= shortcut::FAST_READ,
        _ => {}
    }
    bits
}

impl<P: Protocol> Actor for SynodActor<P> {
    type Msg = ModelMsg;
    type Timer = Timer;
    type State = ActorState;
    type Storage = Storage;
    type Random = ();

    fn on_start(&self, _id: Id, storage: &Option<Storage>, o: &mut Out<Self>) -> ActorState {
        match self {
            SynodActor::Node {
                config, proposes, ..
            } => {
                let (durable, ghost, fresh) = match storage {
                    Some(Storage { durable, ghost }) => (
                        durable.clone(),
                        Ghost {
                            restarts: ghost.restarts.saturating_add(1),
                            ..ghost.clone()
                        },
                        false,
                    ),
                    _ => (AcceptorState::default(), Ghost::default(), true),
                };
                let mut state = NodeState {
                    node: Node::restart(*config, durable.clone()),
                    durable,
                    ghost,
                };
                if let (true, Some(v)) = (fresh, proposes) {
                    let mut outputs = Vec::new();
                    if let SynodActor::Node { protocol, .. } = self {
                        protocol.step(
                            &mut state.node,
                            Input::Request {
                                request: PROPOSE_REQUEST,
                                op: Operation::ProposeOnce(*v),
                            },
                            &mut outputs,
                        );
                    }
                    self.carry_out(&mut state, outputs, o);
                }
                // Storage exists from the first start on (so a restart is recognised even if
                // nothing was ever persisted), and remembers the restart.
                o.save(Storage {
                    durable: state.durable.clone(),
                    ghost: state.ghost.clone(),
                });
                ActorState::Node(state)
            }
            SynodActor::Client { index, server, ops } => {
                // An idle client (empty script) sends nothing.
                let Some(first) = ops.first() else {
                    return ActorState::Client(ClientState {
                        sent: 0,
                        answered: 0,
                    });
                };
                o.send(
                    *server,
                    ModelMsg::Request {
                        request: request_id(*index, 0),
                        op: first.clone(),
                    },
                );
                ActorState::Client(ClientState {
                    sent: 1,
                    answered: 0,
                })
            }
        }
    }

    fn on_msg(
        &self,
        _id: Id,
        state: &mut Cow<ActorState>,
        src: Id,
        msg: ModelMsg,
        o: &mut Out<Self>,
    ) {
        match (self, msg) {
            (SynodActor::Node { .. }, ModelMsg::Peer(msg)) => {
                let from = node_id(usize::from(src));
                self.node_step(state, Input::Message { from, msg }, o);
            }
            (SynodActor::Node { .. }, ModelMsg::Request { request, op }) => {
                let ActorState::Node(ns) = &**state else {
                    return;
                };
                let Some((client, seq)) = request_owner(request) else {
                    return;
                };
                let bit = 1u64 << (client * 8 + seq);
                if ns.ghost.requests_seen & bit != 0 {
                    return; // a duplicated request message: already taken
                }
                let mut marked = ns.clone();
                marked.ghost.requests_seen |= bit;
                *state = Cow::Owned(ActorState::Node(marked));
                self.node_step(state, Input::Request { request, op }, o);
                if let ActorState::Node(ns) = &**state {
                    // The mark is ghost state: make it survive a crash too.
                    o.save(Storage {
                        durable: ns.durable.clone(),
                        ghost: ns.ghost.clone(),
                    });
                }
            }
            (SynodActor::Client { index, server, ops }, ModelMsg::Reply { request, .. }) => {
                let ActorState::Client(c) = &**state else {
                    return;
                };
                if c.answered >= c.sent || request != request_id(*index, c.sent as usize - 1) {
                    return; // a duplicate or stale reply
                }
                let mut next = c.clone();
                next.answered += 1;
                if (next.sent as usize) < ops.len() {
                    o.send(
                        *server,
                        ModelMsg::Request {
                            request: request_id(*index, next.sent as usize),
                            op: ops[next.sent as usize].clone(),
                        },
                    );
                    next.sent += 1;
                }
                *state = Cow::Owned(ActorState::Client(next));
            }
            _ => {}
        }
    }

    fn on_timeout(&self, _id: Id, state: &mut Cow<ActorState>, timer: &Timer, o: &mut Out<Self>) {
        self.node_step(state, Input::Timeout(*timer), o);
    }

    fn name(&self) -> String {
        match self {
            SynodActor::Node { config, .. } => format!("n{}", config.id()),
            SynodActor::Client { index, .. } => format!("client{}", index + 1),
        }
    }
}
