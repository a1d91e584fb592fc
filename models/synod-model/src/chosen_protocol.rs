//! The protocol a command-line run checks, chosen at run time: the shipped core or one of the
//! buggy doubles of [`crate::bugs`], as one [`Protocol`] type.
//!
//! Every use of the checker, the Explorer and the simulator is generic over the protocol, and
//! the compiler builds a copy of all of it per protocol type it is used with. Running the
//! command line's `--bug` choice through this one type builds that machinery once instead of
//! eight times: most of the model binary's build time, which CI pays on every clean clone. Each
//! method only delegates to the chosen protocol, so a run checks exactly what it would with the
//! protocol's own type (the same states, the same counts).

use crate::bugs::{
    AcceptBelowPromise, AcceptIgnoresNext, ClaimOwnValue, IgnorePromisedValues,
    ReadAcceptsMismatchedReports, ReplyBeforePersist, RetryReappliesOnce,
};
use crate::{Correct, Protocol, Value};
use clap::ValueEnum;
use synod_core::{Input, Message, Node, Output};

/// The shipped core or one named buggy double: the command line's `--bug`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum ChosenProtocol {
    /// The shipped core.
    #[value(name = "none")]
    Correct,
    /// Acceptor accepts below its promise.
    AcceptBelowPromise,
    /// Proposer ignores accepted values reported in promises.
    IgnorePromisedValues,
    /// Acceptor replies before persisting (use with --crashes 1).
    ReplyBeforePersist,
    /// Proposer tells its caller its own value was chosen, whatever was.
    ClaimOwnValue,
    /// A retried propose-once re-applies freely, ignoring its own uncertain proposals (register
    /// mode, --rounds 2).
    RetryReappliesOnce,
    /// A one-round-trip read answers once a read quorum reported, even different proposals
    /// (register mode, --fast reads).
    ReadAcceptsMismatchedReports,
    /// An acceptor accepts without promising the Accept's next ballot, yet counts towards the
    /// proposer's reservation (register mode, --fast writes).
    AcceptIgnoresNext,
}

/// Evaluates `$body` with `$p` bound to the chosen protocol's own value.
macro_rules! with_chosen {
    ($chosen:expr, $p:ident => $body:expr) => {
        match $chosen {
            ChosenProtocol::Correct => {
                let $p = Correct;
                $body
            }
            ChosenProtocol::AcceptBelowPromise => {
                let $p = AcceptBelowPromise;
                $body
            }
            ChosenProtocol::IgnorePromisedValues => {
                let $p = IgnorePromisedValues;
                $body
            }
            ChosenProtocol::ReplyBeforePersist => {
                let $p = ReplyBeforePersist;
                $body
            }
            ChosenProtocol::ClaimOwnValue => {
                let $p = ClaimOwnValue;
                $body
            }
            ChosenProtocol::RetryReappliesOnce => {
                let $p = RetryReappliesOnce;
                $body
            }
            ChosenProtocol::ReadAcceptsMismatchedReports => {
                let $p = ReadAcceptsMismatchedReports;
                $body
            }
            ChosenProtocol::AcceptIgnoresNext => {
                let $p = AcceptIgnoresNext;
                $body
            }
        }
    };
}

impl Protocol for ChosenProtocol {
    fn name(&self) -> &'static str {
        with_chosen!(self, p => p.name())
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        with_chosen!(self, p => p.step(node, input, out));
    }

    fn stale_requests_stay_stale(&self) -> bool {
        with_chosen!(self, p => p.stale_requests_stay_stale())
    }

    fn sender_matters(&self, msg: &Message<Value>) -> bool {
        with_chosen!(self, p => p.sender_matters(msg))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every choice names the protocol it runs, and no two share a name (the reports and the
    /// rerun commands tell the doubles apart by it).
    #[test]
    fn each_choice_delegates_to_its_own_protocol() {
        let all = [
            (ChosenProtocol::Correct, Correct.name()),
            (
                ChosenProtocol::AcceptBelowPromise,
                AcceptBelowPromise.name(),
            ),
            (
                ChosenProtocol::IgnorePromisedValues,
                IgnorePromisedValues.name(),
            ),
            (
                ChosenProtocol::ReplyBeforePersist,
                ReplyBeforePersist.name(),
            ),
            (ChosenProtocol::ClaimOwnValue, ClaimOwnValue.name()),
            (
                ChosenProtocol::RetryReappliesOnce,
                RetryReappliesOnce.name(),
            ),
            (
                ChosenProtocol::ReadAcceptsMismatchedReports,
                ReadAcceptsMismatchedReports.name(),
            ),
            (ChosenProtocol::AcceptIgnoresNext, AcceptIgnoresNext.name()),
        ];
        for (chosen, name) in all {
            assert_eq!(chosen.name(), name);
        }
        let names: std::collections::BTreeSet<_> = all.iter().map(|(_, n)| *n).collect();
        assert_eq!(names.len(), all.len());
        assert!(!ChosenProtocol::AcceptBelowPromise.stale_requests_stay_stale());
        assert!(ChosenProtocol::Correct.stale_requests_stay_stale());
    }
}
