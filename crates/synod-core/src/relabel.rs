//! Renaming nodes: [`Relabel`] applies a map of node ids to every id inside a value.
//!
//! Model checkers use it for symmetry reduction: two cluster states that differ only by a
//! permutation of interchangeable nodes (acceptors that never propose) behave alike, so only one
//! needs exploring. A relabelled value is the same value seen under other names; the protocol
//! logic never calls this.

use crate::{AcceptorState, Ballot, Message, NodeId, NodeSet, Phase, Proposal};

/// A value whose node ids can be renamed by a map (normally a permutation of the members).
pub trait Relabel {
    /// The value with every node id `n` replaced by `map(n)`.
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self;
}

impl Relabel for NodeId {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        map(*self)
    }
}

impl Relabel for Ballot {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        if *self == Ballot::ZERO {
            return *self;
        }
        Ballot::new(self.round, map(self.node))
    }
}

impl Relabel for NodeSet {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        self.iter().map(map).collect()
    }
}

impl<V: Clone> Relabel for Proposal<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Proposal {
            ballot: self.ballot.relabel(map),
            value: self.value.clone(),
        }
    }
}

impl<T: Relabel> Relabel for Option<T> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        self.as_ref().map(|t| t.relabel(map))
    }
}

impl<V: Clone> Relabel for AcceptorState<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        AcceptorState {
            promised: self.promised.relabel(map),
            accepted: self.accepted.relabel(map),
        }
    }
}

impl<V: Clone> Relabel for Phase<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        match self {
            Phase::Idle => Phase::Idle,
            Phase::Backoff => Phase::Backoff,
            Phase::Preparing {
                ballot,
                promises,
                highest,
            } => Phase::Preparing {
                ballot: ballot.relabel(map),
                promises: promises.relabel(map),
                highest: highest.relabel(map),
            },
            Phase::Accepting {
                proposal,
                answer,
                effect,
            } => Phase::Accepting {
                proposal: proposal.relabel(map),
                answer: answer.clone(),
                effect: *effect,
            },
            Phase::Reading { reported, reports } => Phase::Reading {
                reported: reported.relabel(map),
                reports: reports.relabel(map),
            },
        }
    }
}

impl<V: Clone> Relabel for Message<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        match self {
            Message::Prepare { ballot } => Message::Prepare {
                ballot: ballot.relabel(map),
            },
            Message::Promise { ballot, accepted } => Message::Promise {
                ballot: ballot.relabel(map),
                accepted: accepted.relabel(map),
            },
            Message::Accept {
                ballot,
                value,
                next,
            } => Message::Accept {
                ballot: ballot.relabel(map),
                value: value.clone(),
                next: next.relabel(map),
            },
            Message::Accepted { ballot } => Message::Accepted {
                ballot: ballot.relabel(map),
            },
            Message::Reject { ballot, promised } => Message::Reject {
                ballot: ballot.relabel(map),
                promised: promised.relabel(map),
            },
            Message::Commit { ballot, value } => Message::Commit {
                ballot: ballot.relabel(map),
                value: value.clone(),
            },
            Message::Query { request } => Message::Query { request: *request },
            Message::Report { request, accepted } => Message::Report {
                request: *request,
                accepted: accepted.relabel(map),
            },
            Message::Generation {
                generation,
                message,
            } => Message::Generation {
                generation: *generation,
                message: Box::new(message.relabel(map)),
            },
            Message::Stale { configuration } => Message::Stale {
                configuration: configuration.relabel(map),
            },
        }
    }
}
