//! A tiny in-memory cluster for the core's integration tests: nodes, a bag of messages in
//! flight, durable acceptor state per node, crash and restart, and the ghost oracle of what was
//! chosen. Every network fault is an explicit call, so a test is a schedule.
#![allow(dead_code)]

pub mod schedule;

use synod_check::oracle::ChosenOracle;
use synod_core::{
    AcceptorState, Ballot, Config, Message, Node, NodeId, Operation, Output, Proposal, ReplyResult,
    RequestId, Timer,
};

/// A message on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InFlight<V> {
    pub from: NodeId,
    pub to: NodeId,
    pub msg: Message<V>,
}

/// The cluster.
pub struct Cluster<V> {
    pub configs: Vec<Config>,
    pub nodes: Vec<Option<Node<V>>>,
    pub durable: Vec<AcceptorState<V>>,
    pub in_flight: Vec<InFlight<V>>,
    pub replies: Vec<(NodeId, RequestId, ReplyResult<V>)>,
    pub learned: Vec<(NodeId, Proposal<V>)>,
    pub timers: Vec<(NodeId, Timer)>,
    pub oracle: ChosenOracle<V>,
    /// Outputs of the last step, for tests that look at them.
    pub last: Vec<Output<V>>,
}

/// Node 1 of a 3-node cluster that runs each request for at most `max_attempts` rounds.
pub fn node_1_of_3<V: Clone + PartialEq>(max_attempts: u32) -> Node<V> {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let config = Config::new(NodeId(1), members)
        .unwrap()
        .with_max_attempts(max_attempts)
        .unwrap();
    Node::new(config)
}

/// The ballot of the `Prepare` a node broadcast among `out`, if it did.
pub fn prepared_ballot<V>(out: &[Output<V>]) -> Option<Ballot> {
    out.iter().find_map(|o| match o {
        Output::Broadcast {
            msg: Message::Prepare { ballot },
        } => Some(*ballot),
        _ => None,
    })
}

pub fn id(index: usize) -> NodeId {
    NodeId(index as u8 + 1)
}

pub fn index(node: NodeId) -> usize {
    node.0 as usize - 1
}

impl<V: Clone + Ord + std::fmt::Debug> Cluster<V> {
    /// `n` nodes with ids 1..=n and the given quorums.
    pub fn new(n: usize, q1: usize, q2: usize, max_attempts: u32) -> Self {
        let members: Vec<NodeId> = (0..n).map(id).collect();
        let configs: Vec<Config> = members
            .iter()
            .map(|m| {
                Config::new(*m, members.iter().copied())
                    .unwrap()
                    .with_quorums(q1, q2)
                    .unwrap()
                    .with_max_attempts(max_attempts)
                    .unwrap()
            })
            .collect();
        Cluster {
            nodes: configs.iter().map(|c| Some(Node::new(*c))).collect(),
            durable: vec![AcceptorState::default(); n],
            configs,
            in_flight: Vec::new(),
            replies: Vec::new(),
            learned: Vec::new(),
            timers: Vec::new(),
            oracle: ChosenOracle::new(q2),
            last: Vec::new(),
        }
    }

    pub fn majority(n: usize) -> Self {
        let m = synod_core::majority(n);
        Self::new(n, m, m, 3)
    }

    /// The same (fresh) cluster with every proposer taking the shortcuts in `fast`.
    pub fn with_fast_paths(mut self, fast: synod_core::FastPaths) -> Self {
        for (i, config) in self.configs.iter_mut().enumerate() {
            *config = config.with_fast_paths(fast);
            self.nodes[i] = Some(Node::new(*config));
        }
        self
    }

    pub fn node(&self, node: NodeId) -> &Node<V> {
        self.nodes[index(node)].as_ref().expect("node is up")
    }

    pub fn is_up(&self, node: NodeId) -> bool {
        self.nodes[index(node)].is_some()
    }

    pub fn request(&mut self, node: NodeId, request: u64, op: Operation<V>) {
        if let Some(n) = self.nodes[index(node)].as_mut() {
            let out = n.on_request(RequestId(request), op);
            self.apply(node, out);
        }
    }

    pub fn timeout(&mut self, node: NodeId, timer: Timer) {
        if let Some(n) = self.nodes[index(node)].as_mut() {
            self.timers.retain(|t| *t != (node, timer));
            let out = n.on_timeout(timer);
            self.apply(node, out);
        }
    }

    /// Delivers message `i` of the bag; `keep` leaves a copy in flight (duplication).
    pub fn deliver(&mut self, i: usize, keep: bool) {
        let m = if keep {
            self.in_flight[i].clone()
        } else {
            self.in_flight.remove(i)
        };
        if let Some(n) = self.nodes[index(m.to)].as_mut() {
            let out = n.on_message(m.from, m.msg);
            self.apply(m.to, out);
        }
    }

    /// Delivers the first in-flight message from `from` to `to` that `pick` accepts; panics if
    /// there is none (the scenario expected it to have been sent).
    pub fn deliver_where(
        &mut self,
        from: NodeId,
        to: NodeId,
        pick: impl Fn(&Message<V>) -> bool,
    ) -> Message<V> {
        let i = self
            .in_flight
            .iter()
            .position(|m| m.from == from && m.to == to && pick(&m.msg))
            .unwrap_or_else(|| {
                panic!(
                    "no such message {from}→{to} in flight: {:?}",
                    self.in_flight
                )
            });
        let msg = self.in_flight[i].msg.clone();
        self.deliver(i, false);
        msg
    }

    pub fn drop_message(&mut self, i: usize) {
        self.in_flight.remove(i);
    }

    /// The node loses its volatile state; its durable acceptor state stays.
    pub fn crash(&mut self, node: NodeId) {
        self.nodes[index(node)] = None;
        self.timers.retain(|(n, _)| *n != node);
    }

    pub fn restart(&mut self, node: NodeId) {
        let i = index(node);
        if self.nodes[i].is_none() {
            self.nodes[i] = Some(Node::restart(self.configs[i], self.durable[i].clone()));
        }
    }

    fn apply(&mut self, node: NodeId, out: Vec<Output<V>>) {
        let n = self.configs.len();
        for o in &out {
            match o {
                Output::Persist(state) => {
                    if let Some(p) = &state.accepted {
                        self.oracle.record(node, p);
                    }
                    self.durable[index(node)] = state.clone();
                }
                Output::Send { to, msg } => self.in_flight.push(InFlight {
                    from: node,
                    to: *to,
                    msg: msg.clone(),
                }),
                Output::Broadcast { msg } => {
                    for to in (0..n).map(id).filter(|t| *t != node) {
                        self.in_flight.push(InFlight {
                            from: node,
                            to,
                            msg: msg.clone(),
                        });
                    }
                }
                Output::Reply { request, result } => {
                    self.replies.push((node, *request, result.clone()))
                }
                Output::SetTimer { timer, .. } => {
                    if !self.timers.contains(&(node, *timer)) {
                        self.timers.push((node, *timer));
                    }
                }
                Output::CancelTimer(timer) => self.timers.retain(|t| *t != (node, *timer)),
                Output::Learned(p) => self.learned.push((node, p.clone())),
            }
        }
        self.last = out;
    }

    /// Checks the safety invariants on the whole history so far: agreement (single-decree:
    /// every chosen proposal has one value), every learned proposal chosen, every chosen value
    /// one of `proposed`.
    pub fn check_single_decree(&self, proposed: &[V]) -> Result<(), String> {
        if let Some((a, b)) = self.oracle.disagreement() {
            return Err(format!("two values chosen: {a:?} and {b:?}"));
        }
        for p in self.oracle.chosen() {
            if !p.value.as_ref().is_some_and(|v| proposed.contains(v)) {
                return Err(format!("chosen value was never proposed: {p:?}"));
            }
        }
        for (node, p) in &self.learned {
            if !self.oracle.is_chosen(p) {
                return Err(format!("node {node} learned {p:?}, which is not chosen"));
            }
        }
        Ok(())
    }
}
