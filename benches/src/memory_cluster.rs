//! An in-memory Synod cluster: many registers, each run by one `synod_core::Node` per member,
//! and one FIFO queue of messages between them. No I/O, no clocks, no threads.
//!
//! This is the harness of the core benchmarks: a request enters at one node, and
//! [`MemoryCluster::run`] delivers every message (the late ones too) until the cluster is quiet.
//! Each message crosses a [`Link`], which is the identity for the pure-core numbers and the wire
//! codec for the "every message through the codec" numbers. Output buffers are reused
//! ([`Node::step`] with one `Vec`), so the measured work is the protocol's, not the harness's.
//!
//! `Persist` outputs are counted but not written anywhere (storage has its own benchmark); timers
//! are ignored because nothing is ever lost here.

use std::collections::VecDeque;
use synod_core::{
    Config, ConfigError, FastPaths, Input, Message, Node, NodeId, Operation, Output, ReplyResult,
    RequestId,
};

/// How a message gets from one node to another.
pub trait Link<V> {
    /// Carries `msg` for register `key` from `from` to `to`, returning what arrives.
    fn carry(&mut self, key: usize, from: NodeId, to: NodeId, msg: Message<V>) -> Message<V>;
}

/// The identity link: messages are moved between nodes unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct Direct;

impl<V> Link<V> for Direct {
    fn carry(&mut self, _key: usize, _from: NodeId, _to: NodeId, msg: Message<V>) -> Message<V> {
        msg
    }
}

/// A message in flight.
#[derive(Debug)]
struct Envelope<V> {
    key: usize,
    from: NodeId,
    to: NodeId,
    msg: Message<V>,
}

/// What a cluster has done since it was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Messages delivered.
    pub delivered: u64,
    /// `Persist` outputs (acceptor state changes that a real node would make durable).
    pub persists: u64,
    /// Client replies.
    pub replies: u64,
}

/// `n` members with ids `1..=n`, and any number of registers.
pub struct MemoryCluster<V, L = Direct> {
    configs: Vec<Config>,
    /// `registers[key][i]` is member `i + 1`'s node for register `key`.
    registers: Vec<Vec<Node<V>>>,
    queue: VecDeque<Envelope<V>>,
    out: Vec<Output<V>>,
    replies: Vec<(usize, RequestId, ReplyResult<V>)>,
    counters: Counters,
    link: L,
}

impl<V: Clone + PartialEq> MemoryCluster<V, Direct> {
    /// A cluster of `n` members with no registers yet, whose messages move unchanged.
    pub fn new(n: u8) -> Result<Self, ConfigError> {
        Self::with_link(n, Direct)
    }
}

impl<V: Clone + PartialEq, L: Link<V>> MemoryCluster<V, L> {
    /// A cluster of `n` members whose messages cross `link`.
    pub fn with_link(n: u8, link: L) -> Result<Self, ConfigError> {
        let members: Vec<NodeId> = (1..=n).map(NodeId).collect();
        let configs = members
            .iter()
            .map(|&id| Config::new(id, members.iter().copied()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(MemoryCluster {
            configs,
            registers: Vec::new(),
            queue: VecDeque::new(),
            out: Vec::new(),
            replies: Vec::new(),
            counters: Counters::default(),
            link,
        })
    }

    /// The same cluster with its proposers taking the shortcuts in `fast` (for registers added
    /// from now on).
    pub fn with_fast_paths(mut self, fast: FastPaths) -> Self {
        for config in &mut self.configs {
            *config = config.with_fast_paths(fast);
        }
        self
    }

    /// Number of members.
    pub fn members(&self) -> usize {
        self.configs.len()
    }

    /// Adds a fresh register (one new node per member) and returns its key.
    pub fn add_register(&mut self) -> usize {
        self.registers
            .push(self.configs.iter().map(|&c| Node::new(c)).collect());
        self.registers.len() - 1
    }

    /// Number of registers.
    pub fn registers(&self) -> usize {
        self.registers.len()
    }

    /// Member `at`'s node for register `key`, if both exist.
    pub fn node(&self, key: usize, at: NodeId) -> Option<&Node<V>> {
        self.registers
            .get(key)?
            .get(usize::from(at.0).checked_sub(1)?)
    }

    /// Hands a client request to member `at` for register `key`; its messages are queued, not
    /// delivered (see [`MemoryCluster::run`]). A missing register or member does nothing.
    pub fn request(&mut self, key: usize, at: NodeId, request: RequestId, op: Operation<V>) {
        self.step(key, at, Input::Request { request, op });
    }

    /// Delivers queued messages in FIFO order until none are left; returns how many were
    /// delivered.
    pub fn run(&mut self) -> u64 {
        let mut delivered = 0;
        while let Some(Envelope { key, from, to, msg }) = self.queue.pop_front() {
            let msg = self.link.carry(key, from, to, msg);
            self.step(key, to, Input::Message { from, msg });
            delivered += 1;
        }
        self.counters.delivered += delivered;
        delivered
    }

    /// One decision as the benchmarks count it: `request` at `at`, then [`MemoryCluster::run`],
    /// then the replies are forgotten (their number is still in [`Counters::replies`]).
    pub fn decide(&mut self, key: usize, at: NodeId, request: RequestId, op: Operation<V>) -> u64 {
        self.request(key, at, request, op);
        let delivered = self.run();
        self.clear_replies();
        delivered
    }

    /// Takes the replies received so far: `(key, request, result)`.
    pub fn take_replies(&mut self) -> Vec<(usize, RequestId, ReplyResult<V>)> {
        std::mem::take(&mut self.replies)
    }

    /// Forgets the replies received so far, keeping the buffer's memory.
    pub fn clear_replies(&mut self) {
        self.replies.clear();
    }

    /// What the cluster has done so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// The link messages cross.
    pub fn link(&self) -> &L {
        &self.link
    }

    fn step(&mut self, key: usize, at: NodeId, input: Input<V>) {
        let Some(index) = usize::from(at.0).checked_sub(1) else {
            return;
        };
        let Some(node) = self.registers.get_mut(key).and_then(|r| r.get_mut(index)) else {
            return;
        };
        node.step(input, &mut self.out);
        let n = self.configs.len() as u8;
        for output in self.out.drain(..) {
            match output {
                Output::Send { to, msg } => self.queue.push_back(Envelope {
                    key,
                    from: at,
                    to,
                    msg,
                }),
                Output::Broadcast { msg } => {
                    for to in (1..=n).map(NodeId).filter(|&m| m != at) {
                        self.queue.push_back(Envelope {
                            key,
                            from: at,
                            to,
                            msg: msg.clone(),
                        });
                    }
                }
                Output::Persist(_) => self.counters.persists += 1,
                Output::Reply { request, result } => {
                    self.counters.replies += 1;
                    self.replies.push((key, request, result));
                }
                Output::SetTimer { .. } | Output::CancelTimer(_) | Output::Learned(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::Outcome;

    #[test]
    fn a_put_is_decided_and_every_member_learns_it() {
        let mut cluster = MemoryCluster::<u64>::new(3).unwrap();
        let key = cluster.add_register();
        cluster.request(key, NodeId(1), RequestId(7), Operation::Put(42));
        // Prepare ×2, Promise ×2, Accept ×2, Accepted ×2, Commit ×2.
        assert_eq!(cluster.run(), 10);
        let replies = cluster.take_replies();
        assert_eq!(
            replies,
            vec![(key, RequestId(7), Ok(Outcome::Written { previous: None }))]
        );
        for id in 1..=3 {
            let learned = cluster.node(key, NodeId(id)).unwrap().learned().unwrap();
            assert_eq!(learned.value, Some(42));
        }
        // Three promises and three accepts changed acceptor state.
        assert_eq!(cluster.counters().persists, 6);
    }

    #[test]
    fn with_fast_paths_a_repeated_write_costs_six_messages_and_a_read_four_without_persisting() {
        let mut cluster = MemoryCluster::<u64>::new(3)
            .unwrap()
            .with_fast_paths(FastPaths::ALL);
        let key = cluster.add_register();
        assert_eq!(
            cluster.decide(key, NodeId(1), RequestId(1), Operation::Put(1)),
            10
        );
        for i in 2..5 {
            // Accept ×2, Accepted ×2, Commit ×2: phase 1 was reserved by the previous accept.
            assert_eq!(
                cluster.decide(key, NodeId(1), RequestId(i), Operation::Put(i)),
                6
            );
        }
        let persists = cluster.counters().persists;
        cluster.request(key, NodeId(2), RequestId(9), Operation::Read);
        // Query ×2, Report ×2.
        assert_eq!(cluster.run(), 4);
        assert_eq!(
            cluster.take_replies(),
            vec![(key, RequestId(9), Ok(Outcome::Read { value: Some(4) }))]
        );
        assert_eq!(
            cluster.counters().persists,
            persists,
            "a read persists nothing"
        );
    }

    #[test]
    fn registers_are_independent_and_requests_at_any_member_succeed() {
        let mut cluster = MemoryCluster::<u64>::new(5).unwrap();
        for k in 0..4 {
            let key = cluster.add_register();
            cluster.request(key, NodeId(k as u8 + 1), RequestId(k), Operation::Put(k));
        }
        cluster.run();
        let mut replies = cluster.take_replies();
        replies.sort_by_key(|r| r.0);
        assert_eq!(replies.len(), 4);
        for (key, _, result) in replies {
            assert_eq!(result, Ok(Outcome::Written { previous: None }));
            assert_eq!(
                cluster
                    .node(key, NodeId(2))
                    .unwrap()
                    .learned()
                    .unwrap()
                    .value,
                Some(key as u64)
            );
        }
    }

    #[test]
    fn a_request_for_a_missing_register_or_member_does_nothing() {
        let mut cluster = MemoryCluster::<u64>::new(3).unwrap();
        cluster.request(0, NodeId(1), RequestId(1), Operation::Put(1));
        let key = cluster.add_register();
        cluster.request(key, NodeId(9), RequestId(1), Operation::Put(1));
        cluster.request(key, NodeId(0), RequestId(1), Operation::Put(1));
        assert_eq!(cluster.run(), 0);
        assert!(cluster.take_replies().is_empty());
    }
}
