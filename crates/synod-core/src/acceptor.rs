//! The acceptor: the durable half of Paxos, and the two rules of the seed's table.
//!
//! * Prepare: "if the prepare's generation is later than the generation it has promised, promise
//!   it and answer with the proposal it already accepted" — [`Acceptor::on_prepare`].
//! * Accept: "if the accept's generation is not older than the promised one, store it as the
//!   accepted proposal" — [`Acceptor::on_accept`], which also raises the promise: to the
//!   Accept's ballot, or to the proposer's `next` ballot when the Accept carries one (the
//!   one-round-trip write: accepting and promising `next` is one durable step, so the
//!   `Accepted` answer doubles as a promise of `next` that reports this very proposal).
//! * Query: report the accepted proposal, changing nothing — [`Acceptor::on_query`] (the
//!   one-round-trip read).
//!
//! Anything else is answered with a `Reject` carrying the promise, so the proposer can retry
//! above it. [`AcceptorState`] is exactly what must be durable before a reply leaves the node.

use crate::{Ballot, Message, Proposal, RequestId};
use serde::{Deserialize, Serialize};

/// The acceptor's durable state.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AcceptorState<V> {
    /// The highest ballot promised ([`Ballot::ZERO`] before any prepare).
    pub promised: Ballot,
    /// The last proposal accepted, if any.
    pub accepted: Option<Proposal<V>>,
}

impl<V> Default for AcceptorState<V> {
    /// Nothing promised, nothing accepted.
    fn default() -> Self {
        AcceptorState {
            promised: Ballot::ZERO,
            accepted: None,
        }
    }
}

/// What an acceptor did with a request: its reply, and whether its durable state changed (in
/// which case the new state must be persisted before the reply is sent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<V> {
    /// The answer to send back to the proposer.
    pub reply: Message<V>,
    /// Whether [`AcceptorState`] changed.
    pub changed: bool,
}

/// One acceptor.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Acceptor<V> {
    state: AcceptorState<V>,
}

impl<V: Clone + PartialEq> Default for Acceptor<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: Clone + PartialEq> Acceptor<V> {
    /// A fresh acceptor that promised nothing and accepted nothing.
    pub fn new() -> Self {
        Acceptor {
            state: AcceptorState::default(),
        }
    }

    /// An acceptor recovered from its durable state.
    pub fn restore(state: AcceptorState<V>) -> Self {
        Acceptor { state }
    }

    /// The durable state.
    pub fn state(&self) -> &AcceptorState<V> {
        &self.state
    }

    /// Phase 1b. Promises only a ballot strictly above the current promise; a repeated Prepare
    /// of the promised ballot is rejected with that same ballot, which the proposer recognises as
    /// its own promise echoed back and ignores.
    pub fn on_prepare(&mut self, ballot: Ballot) -> Verdict<V> {
        let before = self.state.promised;
        let verdict = if ballot > self.state.promised {
            self.state.promised = ballot;
            Verdict {
                reply: Message::Promise {
                    ballot,
                    accepted: self.state.accepted.clone(),
                },
                changed: true,
            }
        } else {
            self.reject(ballot)
        };
        check_rule(before, &self.state);
        verdict
    }

    /// Phase 2b. Accepts a proposal whose ballot is not below the promise, and raises the promise
    /// to it — or to `next`, the proposer's next ballot, when the Accept carries one above its
    /// ballot. A duplicate Accept is answered again without changing the state (unless the
    /// promise has moved above it since — to its own `next`, say — which rejects it).
    pub fn on_accept(
        &mut self,
        ballot: Ballot,
        value: Option<V>,
        next: Option<Ballot>,
    ) -> Verdict<V> {
        let before = self.state.promised;
        let proposal = Proposal { ballot, value };
        if ballot < self.state.promised {
            return self.reject(ballot);
        }
        debug_assert!(
            ballot >= before,
            "acceptor invariant: an accept only at or above the promise"
        );
        let promise = next.map_or(ballot, |next| next.max(ballot));
        let changed =
            self.state.promised != promise || self.state.accepted.as_ref() != Some(&proposal);
        self.state.promised = promise;
        self.state.accepted = Some(proposal);
        check_rule(before, &self.state);
        Verdict {
            reply: Message::Accepted { ballot },
            changed,
        }
    }

    /// The one-round-trip read: reports the accepted proposal and changes nothing (so nothing
    /// is persisted).
    pub fn on_query(&self, request: RequestId) -> Verdict<V> {
        Verdict {
            reply: Message::Report {
                request,
                accepted: self.state.accepted.clone(),
            },
            changed: false,
        }
    }

    fn reject(&self, ballot: Ballot) -> Verdict<V> {
        Verdict {
            reply: Message::Reject {
                ballot,
                promised: self.state.promised,
            },
            changed: false,
        }
    }
}

/// The acceptor's invariants, checked after every rule against the promise it held before:
/// the promise never decreases, and the accepted proposal is never above the promise.
///
/// Not checked on [`Acceptor::restore`]: the model's `AcceptBelowPromise` double restores a
/// doctored state through it on purpose (the server checks every state it writes to disk).
fn check_rule<V>(promised_before: Ballot, state: &AcceptorState<V>) {
    debug_assert!(
        state.promised >= promised_before,
        "acceptor invariant: the promise never decreases"
    );
    debug_assert!(
        state
            .accepted
            .as_ref()
            .is_none_or(|p| p.ballot <= state.promised),
        "acceptor invariant: the accepted ballot is at most the promise"
    );
}

#[cfg(feature = "model")]
impl<V: Clone> crate::Relabel for Acceptor<V> {
    fn relabel(&self, map: &dyn Fn(crate::NodeId) -> crate::NodeId) -> Self {
        Acceptor {
            state: self.state.relabel(map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    fn b(round: u64, node: u8) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    #[test]
    fn promises_only_a_higher_ballot() {
        let mut a = Acceptor::<u8>::new();
        let v = a.on_prepare(b(1, 1));
        assert!(v.changed);
        assert_eq!(
            v.reply,
            Message::Promise {
                ballot: b(1, 1),
                accepted: None
            }
        );
        // Equal ballot: not higher, so rejected with the promise itself, state untouched.
        let v = a.on_prepare(b(1, 1));
        assert!(!v.changed);
        assert_eq!(
            v.reply,
            Message::Reject {
                ballot: b(1, 1),
                promised: b(1, 1)
            }
        );
        // Lower ballot: rejected with the (higher) promise.
        a.on_prepare(b(2, 5));
        let v = a.on_prepare(b(2, 1));
        assert_eq!(
            v.reply,
            Message::Reject {
                ballot: b(2, 1),
                promised: b(2, 5)
            }
        );
        assert_eq!(a.state().promised, b(2, 5));
    }

    #[test]
    fn a_promise_reports_the_accepted_proposal() {
        let mut a = Acceptor::new();
        a.on_prepare(b(1, 1));
        a.on_accept(b(1, 1), Some(7u8), None);
        let v = a.on_prepare(b(2, 2));
        assert_eq!(
            v.reply,
            Message::Promise {
                ballot: b(2, 2),
                accepted: Some(Proposal {
                    ballot: b(1, 1),
                    value: Some(7)
                })
            }
        );
    }

    #[test]
    fn accepts_at_or_above_the_promise_and_raises_it() {
        let mut a = Acceptor::new();
        a.on_prepare(b(2, 1));
        // Equal to the promise: accepted.
        let v = a.on_accept(b(2, 1), Some(1u8), None);
        assert!(v.changed);
        assert_eq!(v.reply, Message::Accepted { ballot: b(2, 1) });
        // Above the promise without a prepare: accepted, and the promise rises.
        let v = a.on_accept(b(5, 3), Some(2), None);
        assert!(v.changed);
        assert_eq!(a.state().promised, b(5, 3));
        // Below the promise: rejected, nothing changes.
        let before = a.state().clone();
        let v = a.on_accept(b(4, 9), Some(3), None);
        assert_eq!(
            v.reply,
            Message::Reject {
                ballot: b(4, 9),
                promised: b(5, 3)
            }
        );
        assert!(!v.changed);
        assert_eq!(a.state(), &before);
    }

    #[test]
    fn duplicate_accept_is_harmless() {
        let mut a = Acceptor::new();
        assert!(a.on_accept(b(1, 1), Some(4u8), None).changed);
        let again = a.on_accept(b(1, 1), Some(4), None);
        assert!(!again.changed, "nothing new to persist");
        assert_eq!(again.reply, Message::Accepted { ballot: b(1, 1) });
        assert_eq!(
            a.state().accepted,
            Some(Proposal {
                ballot: b(1, 1),
                value: Some(4)
            })
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "acceptor invariant: the promise never decreases")]
    fn a_lowered_promise_is_caught() {
        check_rule(
            b(2, 1),
            &AcceptorState::<u8> {
                promised: b(1, 1),
                accepted: None,
            },
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "acceptor invariant: the accepted ballot is at most the promise")]
    fn an_accepted_ballot_above_the_promise_is_caught() {
        check_rule(
            b(1, 1),
            &AcceptorState {
                promised: b(1, 1),
                accepted: Some(Proposal {
                    ballot: b(2, 1),
                    value: Some(1u8),
                }),
            },
        );
    }

    #[test]
    fn restore_gives_back_the_durable_state() {
        let mut a = Acceptor::new();
        a.on_prepare(b(3, 2));
        a.on_accept(b(3, 2), None::<u8>, None);
        let again = Acceptor::restore(a.state().clone());
        assert_eq!(again, a);
    }

    #[test]
    fn an_accept_with_a_next_ballot_promises_it_in_the_same_step() {
        let mut a = Acceptor::<u8>::new();
        let v = a.on_accept(b(1, 1), Some(4), Some(b(2, 1)));
        assert!(v.changed);
        assert_eq!(v.reply, Message::Accepted { ballot: b(1, 1) });
        assert_eq!(a.state().promised, b(2, 1), "the next ballot is promised");
        // A prepare in between is now refused; the next ballot itself is accepted directly.
        assert!(matches!(
            a.on_prepare(b(1, 3)).reply,
            Message::Reject { promised, .. } if promised == b(2, 1)
        ));
        let v = a.on_accept(b(2, 1), Some(5), Some(b(3, 1)));
        assert_eq!(v.reply, Message::Accepted { ballot: b(2, 1) });
        assert_eq!(a.state().promised, b(3, 1));
    }

    #[test]
    fn a_duplicate_accept_after_its_next_ballot_was_promised_is_rejected_with_it() {
        let mut a = Acceptor::<u8>::new();
        a.on_accept(b(1, 1), Some(4), Some(b(2, 1)));
        let again = a.on_accept(b(1, 1), Some(4), Some(b(2, 1)));
        assert!(!again.changed);
        assert_eq!(
            again.reply,
            Message::Reject {
                ballot: b(1, 1),
                promised: b(2, 1)
            },
            "the proposer recognises its own next ballot and ignores this"
        );
    }

    #[test]
    fn a_query_reports_the_accepted_proposal_and_changes_nothing() {
        let mut a = Acceptor::<u8>::new();
        a.on_accept(b(2, 1), Some(6), None);
        let before = a.state().clone();
        let v = a.on_query(RequestId(9));
        assert!(!v.changed);
        assert_eq!(
            v.reply,
            Message::Report {
                request: RequestId(9),
                accepted: Some(Proposal {
                    ballot: b(2, 1),
                    value: Some(6)
                })
            }
        );
        assert_eq!(a.state(), &before);
    }
}
