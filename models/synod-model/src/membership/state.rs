//! The membership model's system state. Everything in it is protocol state or history the
//! properties read; nothing is reduced away.

use crate::client_history::Thread;
use crate::register_spec::RegisterSpec;
use crate::value::Value;
use stateright::semantics::LinearizabilityTester;
use std::collections::{BTreeMap, BTreeSet};
use synod_core::{Message, Node, NodeId, NodeSet, Proposal, RequestId, Timer};

/// One node: its core `Node` while it is up, and what a runtime keeps beside it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeSlot {
    /// The core node; `None` before it joins and after it crashed (for good).
    pub node: Option<Node<Value>>,
    /// Whether it crashed.
    pub crashed: bool,
    /// Its running timers.
    pub timers: BTreeSet<Timer>,
}

impl NodeSlot {
    /// The generation of the node's configuration, if it is up.
    pub fn generation(&self) -> Option<u64> {
        self.node
            .as_ref()
            .map(|n| n.config().configuration().generation())
    }
}

/// A message in flight. The network is a set: a message may be delivered any number of times.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Envelope {
    /// The sender.
    pub src: NodeId,
    /// The receiver.
    pub dst: NodeId,
    /// The message (wrapped in its generation when above 0).
    pub msg: Message<Value>,
}

/// A client: sends its script one operation at a time to the node of its index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientSlot {
    /// Operations sent so far.
    pub sent: u8,
    /// The request it waits for.
    pub waiting: Option<RequestId>,
    /// Its tester thread's epoch (a new thread after an `Indeterminate`).
    pub epoch: u8,
}

/// Where the admin's catch-up of the current generation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CatchUp {
    /// Not sent.
    Idle,
    /// A `Read` was sent to the catch-up node.
    Sent,
    /// It was answered: the register's value was chosen again in this generation.
    Done,
    /// It failed (the admin is stuck: the change cannot go on).
    Failed,
}

/// The admin: which step of the plan it is at, and its catch-up.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Admin {
    /// The newest generation it started installing.
    pub generation: u64,
    /// The catch-up in that generation.
    pub catch_up: CatchUp,
}

/// The whole system.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MembershipState {
    /// The nodes, by index (node id = index + 1).
    pub nodes: Vec<NodeSlot>,
    /// Messages in flight.
    pub network: BTreeSet<Envelope>,
    /// The clients, by index.
    pub clients: Vec<ClientSlot>,
    /// The admin.
    pub admin: Admin,
    /// Ghost: every acceptance, by proposal and by the generation the acceptor was in.
    pub accepts: BTreeMap<Proposal<Value>, BTreeMap<u64, NodeSet>>,
    /// Ghost: the clients' history, for `linearizable`.
    pub history: LinearizabilityTester<Thread, RegisterSpec>,
    /// Whether `history` is linearizable (recomputed when it changes).
    pub linearizable: bool,
}
