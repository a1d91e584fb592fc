//! The one protocol message type, [`Message`], used verbatim by the model and on the wire.
//!
//! Values are `Option<V>`: the register a round writes may be empty (never written, or deleted),
//! and an acceptor that accepted a deletion is not the same as one that accepted nothing. In the
//! seed's single-decree use every proposed value is `Some`.
//!
//! Membership change (docs/protocol.md): a node of configuration generation `g > 0` sends every
//! message wrapped in [`Message::Generation`]; generation 0 travels bare, so a cluster that never
//! changed its members sends exactly the messages it always sent (and old trace files and peers
//! still read them). An acceptor refuses a request of an older generation with
//! [`Message::Stale`], which carries its configuration.

use crate::{Ballot, Configuration, RequestId};
use serde::{Deserialize, Serialize};

/// A value accepted at a ballot: what a Promise reports and what an acceptor stores.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Proposal<V> {
    /// The ballot at which the value was accepted.
    pub ballot: Ballot,
    /// The register's value (`None` = empty).
    pub value: Option<V>,
}

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Message<V> {
    /// Phase 1a: "promise me `ballot`". Proposer → every acceptor.
    Prepare {
        /// The proposer's new ballot.
        ballot: Ballot,
    },
    /// Phase 1b: the acceptor promised `ballot` and reports what it accepted before, if anything.
    Promise {
        /// The ballot promised (equal to the Prepare's).
        ballot: Ballot,
        /// The acceptor's accepted proposal at the time of the promise.
        accepted: Option<Proposal<V>>,
    },
    /// Phase 2a: "accept `value` at `ballot`". Proposer → every acceptor.
    Accept {
        /// The proposer's ballot.
        ballot: Ballot,
        /// The value to accept.
        value: Option<V>,
        /// The one-round-trip write (docs/protocol.md): the proposer's next ballot, which an
        /// acceptor that accepts also promises in the same durable step — so its `Accepted`
        /// doubles as a `Promise` of `next` reporting this very proposal. `None` in classic
        /// rounds. (Absent in trace files written before the fast path; read as `None`.)
        #[serde(default)]
        next: Option<Ballot>,
    },
    /// Phase 2b: the acceptor accepted the proposal at `ballot`.
    Accepted {
        /// The accepted ballot.
        ballot: Ballot,
    },
    /// The acceptor refused a Prepare or Accept at `ballot` because it promised `promised`.
    Reject {
        /// The ballot of the refused request.
        ballot: Ballot,
        /// The acceptor's promise: the proposer's generation clock moves above it.
        promised: Ballot,
    },
    /// Phase 3: `value` was chosen at `ballot`. Proposer → every node.
    Commit {
        /// The ballot at which a quorum accepted `value`.
        ballot: Ballot,
        /// The chosen value.
        value: Option<V>,
    },
    /// The one-round-trip read: "what have you accepted?" Promises and persists nothing.
    Query {
        /// The reader's request: its answers are matched to it, so an answer to an earlier
        /// read (even one from before the reader restarted) is never counted.
        request: RequestId,
    },
    /// An acceptor's answer to a `Query`: its accepted proposal at the time of the answer.
    Report {
        /// The `Query`'s request.
        request: RequestId,
        /// The acceptor's accepted proposal.
        accepted: Option<Proposal<V>>,
    },
    /// A message sent by a node of configuration generation `generation` (above 0; never
    /// nested): the receiver handles `message` only at that same generation.
    Generation {
        /// The sender's configuration generation.
        generation: u64,
        /// The message itself.
        message: Box<Message<V>>,
    },
    /// An acceptor's refusal of a `Prepare`, `Accept` or `Query` of an older generation: its own
    /// configuration, for the sender's runtime to install (durably) before going on.
    Stale {
        /// The acceptor's configuration.
        configuration: Configuration,
    },
}

impl<V> Message<V> {
    /// `self` as sent by a node of configuration generation `generation` (bare at 0).
    pub fn in_generation(self, generation: u64) -> Message<V> {
        if generation == 0 {
            self
        } else {
            Message::Generation {
                generation,
                message: Box::new(self),
            }
        }
    }

    /// The generation a message was sent in (0 for a bare one) and the message itself. A
    /// `Generation` nested in another, or claiming generation 0, is malformed: `None`.
    pub fn generation_of(self) -> Option<(u64, Message<V>)> {
        match self {
            Message::Generation {
                generation,
                message,
            } => match *message {
                Message::Generation { .. } => None,
                _ if generation == 0 => None,
                message => Some((generation, message)),
            },
            message => Some((0, message)),
        }
    }

    /// Whether the message asks an acceptor for something (so an acceptor of a newer
    /// generation answers it with [`Message::Stale`]).
    pub fn is_request(&self) -> bool {
        matches!(
            self,
            Message::Prepare { .. } | Message::Accept { .. } | Message::Query { .. }
        )
    }

    /// The highest ballot this message tells its receiver about (feeds the generation clock).
    pub fn highest_ballot(&self) -> Ballot {
        match self {
            Message::Generation { message, .. } => message.highest_ballot(),
            Message::Stale { .. } => Ballot::ZERO,
            Message::Prepare { ballot }
            | Message::Promise { ballot, .. }
            | Message::Accepted { ballot }
            | Message::Commit { ballot, .. } => *ballot,
            Message::Accept { ballot, next, .. } => next.map_or(*ballot, |n| n.max(*ballot)),
            Message::Reject { ballot, promised } => (*ballot).max(*promised),
            Message::Query { .. } => Ballot::ZERO,
            Message::Report { accepted, .. } => {
                accepted.as_ref().map_or(Ballot::ZERO, |p| p.ballot)
            }
        }
    }

    #[cfg(feature = "model")]
    /// Whether a node's handling of this message depends on who sent it (beyond checking that
    /// the sender is another member). A `Prepare` or `Accept` is answered to its sender, and a
    /// `Promise`, `Accepted` or `Report` counts its sender as a voter (so does a `Query`, answered
    /// to its sender); a `Reject` or a `Commit` carries everything its receiver acts on, so
    /// copies of it from different senders have the same effect (a model checker keeps only one).
    pub fn sender_matters(&self) -> bool {
        match self {
            Message::Generation { message, .. } => message.sender_matters(),
            Message::Stale { .. } => false,
            Message::Prepare { .. }
            | Message::Promise { .. }
            | Message::Accept { .. }
            | Message::Accepted { .. }
            | Message::Query { .. }
            | Message::Report { .. } => true,
            Message::Reject { .. } | Message::Commit { .. } => false,
        }
    }

    /// The message's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Generation { message, .. } => message.kind(),
            Message::Stale { .. } => "stale",
            Message::Prepare { .. } => "prepare",
            Message::Promise { .. } => "promise",
            Message::Accept { .. } => "accept",
            Message::Accepted { .. } => "accepted",
            Message::Reject { .. } => "reject",
            Message::Commit { .. } => "commit",
            Message::Query { .. } => "query",
            Message::Report { .. } => "report",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    #[test]
    fn a_reject_reports_the_higher_of_its_two_ballots() {
        let low = Ballot::new(1, NodeId(1));
        let high = Ballot::new(4, NodeId(2));
        let reject: Message<u8> = Message::Reject {
            ballot: low,
            promised: high,
        };
        assert_eq!(reject.highest_ballot(), high);
        assert_eq!(reject.kind(), "reject");
    }

    #[test]
    fn messages_round_trip_through_json() {
        let b = Ballot::new(3, NodeId(2));
        let all: Vec<Message<String>> = vec![
            Message::Prepare { ballot: b },
            Message::Promise {
                ballot: b,
                accepted: Some(Proposal {
                    ballot: Ballot::new(1, NodeId(5)),
                    value: Some("elanor".into()),
                }),
            },
            Message::Accept {
                ballot: b,
                value: None,
                next: None,
            },
            Message::Accept {
                ballot: b,
                value: Some("y".into()),
                next: Some(Ballot::new(4, NodeId(2))),
            },
            Message::Query {
                request: RequestId(7),
            },
            Message::Report {
                request: RequestId(7),
                accepted: None,
            },
            Message::Accepted { ballot: b },
            Message::Reject {
                ballot: b,
                promised: Ballot::new(9, NodeId(1)),
            },
            Message::Commit {
                ballot: b,
                value: Some("x".into()),
            },
            Message::Prepare { ballot: b }.in_generation(3),
            Message::Stale {
                configuration: crate::Configuration::stable(
                    2,
                    [NodeId(1), NodeId(2), NodeId(4)].into_iter().collect(),
                )
                .unwrap(),
            },
        ];
        for m in all {
            let json = serde_json::to_string(&m).unwrap();
            let back: Message<String> = serde_json::from_str(&json).unwrap();
            assert_eq!(back, m, "{json}");
        }
    }

    #[test]
    fn generation_zero_travels_bare_and_nesting_is_malformed() {
        let b = Ballot::new(1, NodeId(1));
        let prepare: Message<u8> = Message::Prepare { ballot: b };
        assert_eq!(prepare.clone().in_generation(0), prepare);
        let wrapped = prepare.clone().in_generation(2);
        assert_eq!(wrapped.kind(), "prepare");
        assert_eq!(wrapped.highest_ballot(), b);
        assert_eq!(wrapped.clone().generation_of(), Some((2, prepare.clone())));
        assert_eq!(prepare.clone().generation_of(), Some((0, prepare.clone())));
        assert_eq!(wrapped.in_generation(3).generation_of(), None);
        let zero = Message::Generation {
            generation: 0,
            message: Box::new(prepare),
        };
        assert_eq!(zero.generation_of(), None);
    }
}
