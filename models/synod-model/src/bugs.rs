//! Named protocol bugs, as test doubles that wrap the correct [`Node`].
//!
//! Each one is a [`Protocol`] whose `step` rewrites an input or an output of the real core — no
//! switch in the core's code paths. The model check must answer FAIL for each (see
//! `docs/model.md` for the counterexamples of the first three, which break agreement):
//!
//! * [`AcceptBelowPromise`] — an acceptor that accepts a proposal below the ballot it promised.
//! * [`IgnorePromisedValues`] — a proposer that ignores the accepted values reported in promises.
//! * [`ReplyBeforePersist`] — an acceptor whose persists are not durable before it replies, so a
//!   crash loses a promise it already gave (caught with `--crashes 1`).
//! * [`ClaimOwnValue`] — a proposer that tells its caller its own value was chosen, whatever
//!   was (breaks `learned is chosen`; it also shows that the model's forgetting of settled
//!   replies keeps a wrong one).
//! * [`RetryReappliesOnce`] — the retry rule before the fix: a retried `ProposeOnce` forgets its
//!   own uncertain proposals and applies "set if empty" afresh, so a value chosen, then deleted,
//!   is set again (breaks `linearizable` in register mode with two rounds).
//! * [`ReadAcceptsMismatchedReports`] — a one-round-trip read that answers once a read quorum
//!   *reported*, whatever each reported: a stale read (breaks `linearizable` with `--fast reads`).
//! * [`AcceptIgnoresNext`] — an acceptor that accepts an `Accept` without promising the next
//!   ballot it carries, while its answer still counts towards the proposer's reservation: a
//!   one-round-trip write on a stale value (breaks `linearizable` with `--fast writes`).

use crate::protocol::Protocol;
use crate::value::Value;
use synod_core::{
    AcceptorState, Input, Message, Node, Operation, Outcome, Output, Phase, RequestError,
};

/// Accepts an `Accept` below its promise (keeping the promise itself).
///
/// The double restarts the node from a doctored durable state whose promise is lowered to the
/// Accept's ballot, lets the real acceptor accept, and restarts it again with the original
/// promise and the new accepted proposal. Restarting drops volatile state, so the double only
/// misbehaves while its proposer is idle (a crash-free acceptor bug, not a proposer crash).
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptBelowPromise;

impl Protocol for AcceptBelowPromise {
    fn name(&self) -> &'static str {
        "accept-below-promise"
    }

    /// An `Accept` below the promise that changes nothing now (its proposal is the one held)
    /// is taken again, changing the state, once a higher proposal has replaced it.
    fn stale_requests_stay_stale(&self) -> bool {
        false
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let durable = node.acceptor().state().clone();
        let below = match &input {
            Input::Message {
                msg: Message::Accept { ballot, .. },
                ..
            } => *ballot < durable.promised,
            _ => false,
        };
        if !below || *node.proposer().phase() != Phase::Idle {
            return node.step(input, out);
        }
        let config = *node.config();
        let Input::Message {
            msg: Message::Accept { ballot, .. },
            ..
        } = &input
        else {
            return node.step(input, out);
        };
        let mut lowered = Node::restart(
            config,
            AcceptorState {
                promised: *ballot,
                accepted: durable.accepted.clone(),
            },
        );
        let mut produced = Vec::new();
        lowered.step(input, &mut produced);
        let kept = AcceptorState {
            promised: durable.promised,
            accepted: lowered.acceptor().state().accepted.clone(),
        };
        *node = Node::restart(config, kept.clone());
        out.extend(produced.into_iter().map(|o| match o {
            Output::Persist(_) => Output::Persist(kept.clone()),
            other => other,
        }));
    }
}

/// A proposer that never hears about accepted values: every incoming `Promise` has its
/// `accepted` report stripped before the core sees it.
#[derive(Clone, Copy, Debug, Default)]
pub struct IgnorePromisedValues;

impl Protocol for IgnorePromisedValues {
    fn name(&self) -> &'static str {
        "ignore-promised-values"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let input = match input {
            Input::Message {
                from,
                msg: Message::Promise { ballot, .. },
            } => Input::Message {
                from,
                msg: Message::Promise {
                    ballot,
                    accepted: None,
                },
            },
            other => other,
        };
        node.step(input, out);
    }
}

/// Replies without making the new acceptor state durable first: the `Persist` outputs are
/// dropped, so a crash-restart brings back an older promise.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReplyBeforePersist;

impl Protocol for ReplyBeforePersist {
    fn name(&self) -> &'static str {
        "reply-before-persist"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let start = out.len();
        node.step(input, out);
        let mut i = start;
        while i < out.len() {
            if matches!(out[i], Output::Persist(_)) {
                out.remove(i);
            } else {
                i += 1;
            }
        }
    }
}

/// Answers a `ProposeOnce` with its own value as the chosen one, whatever was chosen.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClaimOwnValue;

impl Protocol for ClaimOwnValue {
    fn name(&self) -> &'static str {
        "claim-own-value"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let own = match node.proposer().request() {
            Some((_, Operation::ProposeOnce(v))) => Some(*v),
            _ => None,
        };
        let start = out.len();
        node.step(input, out);
        for output in &mut out[start..] {
            if let (
                Output::Reply {
                    result: Ok(Outcome::Chosen { value, won }),
                    ..
                },
                Some(own),
            ) = (output, own)
            {
                *value = own;
                *won = true;
            }
        }
    }
}

/// The unfixed retry rule: a `ProposeOnce` counted as "safe to re-apply", so the phase-1 quorum
/// of a retry applied it afresh to the highest reported value, whatever earlier proposal of its
/// own might have been chosen. The double hides the proposer's uncertain proposals while a
/// `Promise` is handled (the only step that completes phase 1) and puts them back afterwards,
/// so a failed retry still ends `Indeterminate`, as it did before the fix.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryReappliesOnce;

impl Protocol for RetryReappliesOnce {
    fn name(&self) -> &'static str {
        "retry-reapplies-once"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let once = matches!(
            node.proposer().request(),
            Some((_, Operation::ProposeOnce(_)))
        );
        let promise = matches!(
            input,
            Input::Message {
                msg: Message::Promise { .. },
                ..
            }
        );
        if !(once && promise) {
            return node.step(input, out);
        }
        let hidden = node.proposer_mut().take_uncertain();
        let start = out.len();
        node.step(input, out);
        if !hidden.is_empty() {
            // Giving up in this step, the unfixed core still knew its uncertain proposals.
            for output in &mut out[start..] {
                if let Output::Reply { result, .. } = output {
                    if matches!(result, Err(RequestError::Exhausted { .. })) {
                        *result = Err(RequestError::Indeterminate);
                    }
                }
            }
        }
        node.proposer_mut().restore_uncertain(hidden);
    }
}

/// A one-round-trip read that counts any report towards its read quorum: every `Report` that
/// reaches a reader after its first one is rewritten to name the proposal the first one named,
/// so the reader answers as soon as a read quorum *answered* — even when they accepted
/// different proposals, and the value it returns is not (or no longer) the register's.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadAcceptsMismatchedReports;

impl Protocol for ReadAcceptsMismatchedReports {
    fn name(&self) -> &'static str {
        "read-accepts-mismatched-reports"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let first = match node.proposer().phase() {
            Phase::Reading { reported, reports } if !reports.voters().is_empty() => {
                Some(reported.clone())
            }
            _ => None,
        };
        let input = match (input, first) {
            (
                Input::Message {
                    from,
                    msg: Message::Report { request, .. },
                },
                Some(first),
            ) => Input::Message {
                from,
                msg: Message::Report {
                    request,
                    accepted: first,
                },
            },
            (other, _) => other,
        };
        node.step(input, out);
    }
}

/// An acceptor that accepts an `Accept` but ignores the next ballot it carries: it answers
/// `Accepted` as usual — so the proposer counts the answer as a promise of `next` and builds a
/// reservation on it — without promising `next`. Another proposer can then prepare and write at
/// a ballot between the two on that acceptor, and the first proposer's next write skips phase 1
/// at `next` on top of a value that is no longer the latest: a lost update.
///
/// (The double the issue suggested, an acceptor that promises `next` in memory but does not
/// persist it, cannot break anything with one crash: every write chosen between the two ballots
/// carries its own next ballot, above the reserved one, and its accept quorum promises it in
/// memory; only a second crash of such an acceptor would drop that promise too. See
/// docs/model.md.)
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptIgnoresNext;

impl Protocol for AcceptIgnoresNext {
    fn name(&self) -> &'static str {
        "accept-ignores-next"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        let input = match input {
            Input::Message {
                from,
                msg: Message::Accept { ballot, value, .. },
            } => Input::Message {
                from,
                msg: Message::Accept {
                    ballot,
                    value,
                    next: None,
                },
            },
            other => other,
        };
        node.step(input, out);
    }
}
