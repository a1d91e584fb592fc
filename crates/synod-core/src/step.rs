//! The step contract: what goes into a [`crate::Node`] and what comes out.
//!
//! Every input ([`Input`]) returns an **ordered** list of [`Output`]s. The runtime executes them
//! in order, with one rule that carries the protocol's safety: **a [`Output::Persist`] must be
//! durable before any message that follows it in the list (or in a later step) is transmitted.**
//! A runtime may batch the persists of many steps into one write (group commit) as long as it
//! holds back every message produced after them until that write is durable.
//!
//! Messages a node sends to itself never appear as outputs: the node delivers them inline, within
//! the same step, which is how a proposer's own acceptor promises and accepts (Athens is one of
//! its own quorum at T2 and T6 of the seed). [`Output::Broadcast`] therefore means "to every
//! *other* member".

use crate::{
    AcceptorState, Configuration, Message, NodeId, Operation, Outcome, Proposal, RequestError,
    RequestId,
};
use serde::{Deserialize, Serialize};

/// The timers a node asks its runtime for. Setting a timer that is already set restarts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// The current round has waited long enough for its quorum: give up on it.
    Round,
    /// The random wait between a failed attempt and the next (the seed's livelock remedy) is over.
    Backoff,
}

/// One input to a node.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Input<V> {
    /// A protocol message from another member.
    Message {
        /// The sender.
        from: NodeId,
        /// The message.
        msg: Message<V>,
    },
    /// A client asks this node to run an operation.
    Request {
        /// Echoed in the reply.
        request: RequestId,
        /// What to do.
        op: Operation<V>,
    },
    /// A timer set earlier by [`Output::SetTimer`] fired.
    Timeout(Timer),
    /// Install a newer configuration of the acceptor set (docs/protocol.md, "Membership
    /// change"). The runtime makes it durable **before** this input (it is node-wide, not part
    /// of a register's acceptor state) and passes the latest one to [`crate::Node::restart`].
    /// It comes from the agreed sequence of configurations, or from a [`Message::Stale`] reply
    /// that carries one. An older or equal generation is ignored.
    Install(Configuration),
    /// A membership change's catch-up of this register: a `Read` that runs a full round (no
    /// one-round-trip read, no reserved ballot), answered like a client's `Read`.
    CatchUp {
        /// Echoed in the reply.
        request: RequestId,
    },
}

/// The reply to a client request.
pub type ReplyResult<V> = Result<Outcome<V>, RequestError>;

/// One effect the runtime must carry out, in order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Output<V> {
    /// Make this acceptor state durable before transmitting any later message.
    Persist(AcceptorState<V>),
    /// Send `msg` to one other member.
    Send {
        /// The receiver.
        to: NodeId,
        /// The message.
        msg: Message<V>,
    },
    /// Send `msg` to every other member.
    Broadcast {
        /// The message.
        msg: Message<V>,
    },
    /// Answer the client request `request`.
    Reply {
        /// The request being answered.
        request: RequestId,
        /// What happened.
        result: ReplyResult<V>,
    },
    /// Start (or restart) `timer`; `attempt` (1-based) lets the runtime grow its backoff.
    SetTimer {
        /// Which timer.
        timer: Timer,
        /// The attempt the timer belongs to.
        attempt: u32,
    },
    /// Stop `timer` if it is running.
    CancelTimer(Timer),
    /// This node learned that `proposal` was chosen.
    Learned(Proposal<V>),
}
