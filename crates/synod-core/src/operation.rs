//! Operations: what a round does to the register it decides.
//!
//! A round never proposes a raw value. Once its phase-1 quorum is in, it applies its operation
//! to the highest-ballot value the quorum reported (`None` when nothing was accepted) and
//! proposes the result. With only [`Operation::ProposeOnce`] this is exactly the seed's
//! single-decree protocol; with the others it is the CASPaxos register (Rystsov, 2018), which makes
//! repeated updates of one key safe.

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Identifies a client request to the node that runs it; echoed in its [`crate::Output::Reply`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct RequestId(pub u64);

/// A client operation on one register.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Operation<V> {
    /// The seed's protocol: keep the chosen value if there is one, else choose `v`.
    ProposeOnce(V),
    /// Overwrite the value.
    Put(V),
    /// Empty the register.
    Delete,
    /// Write `new` if the current value equals `expected` (`None` = empty).
    Cas {
        /// The value the caller believes is current.
        expected: Option<V>,
        /// The value to write on a match.
        new: V,
    },
    /// Re-accept the current value: a linearizable read.
    Read,
}

/// What an operation did, reported to the caller once its round's value is chosen.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome<V> {
    /// `ProposeOnce`: `value` is chosen; `won` says whether it is the caller's own value.
    Chosen {
        /// The chosen value (perhaps another proposer's).
        value: V,
        /// Whether the chosen value is the one this caller proposed.
        won: bool,
    },
    /// `Put`, `Delete` or a matching `Cas` took effect; `previous` is the value it replaced.
    Written {
        /// The value before the write.
        previous: Option<V>,
    },
    /// A `Cas` whose expectation did not hold; nothing was written.
    CasMismatch {
        /// The value that is actually current.
        current: Option<V>,
    },
    /// `Read`: the current value.
    Read {
        /// The current value (`None` = empty).
        value: Option<V>,
    },
}

/// Why a request did not complete.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Error)]
pub enum RequestError {
    /// This node is already running a round for this register; try again later.
    #[error("a round is already in progress on this register")]
    Busy,
    /// No attempt got its quorums; the operation surely did not take effect.
    #[error("no quorum after {attempts} attempts; the operation did not take effect")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
    },
    /// An attempt reached the accept phase and then failed, and no later attempt could tell
    /// whether its proposal took effect: the operation took effect once or not at all (never
    /// twice), and nobody can tell which.
    #[error("the outcome is unknown: the operation took effect once or not at all")]
    Indeterminate,
}

impl<V: Clone + PartialEq> Operation<V> {
    /// Applies the operation to the register's current value: returns the value to propose and
    /// the outcome to report if that proposal is chosen.
    pub fn apply(&self, current: Option<&V>) -> (Option<V>, Outcome<V>) {
        let current = current.cloned();
        match self {
            Operation::ProposeOnce(v) => {
                let chosen = current.unwrap_or_else(|| v.clone());
                let won = &chosen == v;
                (Some(chosen.clone()), Outcome::Chosen { value: chosen, won })
            }
            Operation::Put(v) => (Some(v.clone()), Outcome::Written { previous: current }),
            Operation::Delete => (None, Outcome::Written { previous: current }),
            Operation::Cas { expected, new } => {
                if &current == expected {
                    (Some(new.clone()), Outcome::Written { previous: current })
                } else {
                    (current.clone(), Outcome::CasMismatch { current })
                }
            }
            Operation::Read => (current.clone(), Outcome::Read { value: current }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propose_once_keeps_a_chosen_value() {
        let op = Operation::ProposeOnce("carol");
        assert_eq!(
            op.apply(Some(&"elanor")),
            (
                Some("elanor"),
                Outcome::Chosen {
                    value: "elanor",
                    won: false
                }
            )
        );
        assert_eq!(
            op.apply(None),
            (
                Some("carol"),
                Outcome::Chosen {
                    value: "carol",
                    won: true
                }
            )
        );
    }

    #[test]
    fn register_operations() {
        assert_eq!(
            Operation::Put(2).apply(Some(&1)),
            (Some(2), Outcome::Written { previous: Some(1) })
        );
        assert_eq!(
            Operation::<u8>::Delete.apply(Some(&1)),
            (None, Outcome::Written { previous: Some(1) })
        );
        assert_eq!(
            Operation::Read.apply(Some(&3)),
            (Some(3), Outcome::Read { value: Some(3) })
        );
        let cas = Operation::Cas {
            expected: Some(1),
            new: 9,
        };
        assert_eq!(
            cas.apply(Some(&1)),
            (Some(9), Outcome::Written { previous: Some(1) })
        );
        assert_eq!(
            cas.apply(Some(&2)),
            (Some(2), Outcome::CasMismatch { current: Some(2) }),
            "a mismatch re-proposes the current value unchanged"
        );
        let cas_absent = Operation::Cas {
            expected: None,
            new: 5,
        };
        assert_eq!(
            cas_absent.apply(None),
            (Some(5), Outcome::Written { previous: None })
        );
    }
}
