//! Settling an operation of `unknown` fate by reading its key afterwards — only where a read can
//! prove the fate from the history alone.
//!
//! A client whose write ended `unknown` (a timeout, a reset, a crashed node) reads the key until
//! one of the rules below applies, and then records the write as `ok` (with the output it must
//! have had and, as its `return`, the end of the read that proved it) or as `fail`. Each rule is
//! sound in this sense: **if the original history H is linearizable, so is the resolved H'** —
//! so a violation found in H' convicts the system just as one found in H would. The arguments
//! rely on two facts of the workload: every written value is unique, and the read `R` that
//! settles the write `W` is called after `W` was called (so after everything `W`'s client
//! observed before calling `W`). Take any linearization of H.
//!
//! * **A `cas` (any key) whose new value `n` is read**: only `W` writes `n`, so `W` took effect,
//!   and a `cas` takes effect only on its expected value `e`: its output was
//!   `written, previous e`, at a point before `R`'s, so before `R` returned. H' records exactly
//!   that.
//! * **An append `cas` whose element `x` is in the list read**: the same argument (only `W`
//!   appends `x`).
//! * **An append `cas` expecting list `L`, when `R` reads a list `L' ≠ L` without `x`**: lists
//!   only grow, one unique element per successful append, and `R` comes after `W`'s client saw
//!   `L`, so `L'` strictly extends `L`. If `W` took effect before `R`, every later list holds
//!   `x`, `L'` included — it does not; so at `W`'s point the value was not `L` (a mismatch,
//!   which changes nothing). If `W` comes after `R`, the value is an extension of `L'`, never
//!   `L` again: a mismatch too. A mismatch with its output unrecorded changes no other
//!   operation's outcome, so H' may drop `W` (`fail`).
//! * **A `propose-once v` when `R` reads `v`**: only `W` proposes `v`; it won:
//!   `chosen v, won` before `R` returned.
//! * **A `propose-once v` when `R` reads `w ≠ v`**: once keys are never emptied, so the key held
//!   `w` from then on; `W` either came earlier and lost, or later and lost: it changed nothing
//!   (`fail`).
//!
//! What a read can **not** settle, and why these stay `unknown`: a `put` or a `delete` (a read
//! of its value shows it took effect but not what it replaced; a read without it does not show
//! it never will: as far as the history tells, it may take effect at any later time); a register
//! `cas` whose value is not read (it may have been overwritten already, and its expected value
//! may come back through a `delete`). An argument from the protocol instead of the history —
//! e.g. "once a later write of the same client is chosen at a higher ballot, the earlier
//! proposal can never be chosen" — would depend on when a node abandons a timed-out request,
//! on forwarded copies of it at the key's home node and on in-flight accepts: not used here.

use super::KeyKind;
use synod_check::append;
use synod_check::history::{OpKind, Output, Record};

/// What a read of the key proved about an operation of unknown fate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// It took effect with this output (before the read returned).
    Applied(Output),
    /// It changed nothing, and never will.
    Absent,
    /// Not settled (yet).
    Open,
}

/// Whether a read can ever settle `op` on a key of `kind`.
pub fn settleable(op: OpKind, kind: KeyKind) -> bool {
    matches!(
        (op, kind),
        (OpKind::Cas, _) | (OpKind::ProposeOnce, KeyKind::Once)
    )
}

/// What a read of `read` (the key's value, called after `unknown` was called) proves about
/// `unknown`.
pub fn resolve(unknown: &Record, read: Option<&str>) -> Resolution {
    let kind = KeyKind::of(&unknown.key);
    let value = unknown.value.as_deref();
    match (unknown.op, kind) {
        (OpKind::Cas, KeyKind::Append) => {
            let Some(element) = append::element_of(unknown) else {
                return Resolution::Open;
            };
            if append::elements(read).contains(&element) {
                Resolution::Applied(Output::Written {
                    previous: unknown.expected.clone(),
                })
            } else if read != unknown.expected.as_deref() {
                Resolution::Absent
            } else {
                Resolution::Open
            }
        }
        (OpKind::Cas, _) if read.is_some() && read == value => {
            Resolution::Applied(Output::Written {
                previous: unknown.expected.clone(),
            })
        }
        (OpKind::ProposeOnce, KeyKind::Once) => match (read, value) {
            (Some(r), Some(v)) if r == v => Resolution::Applied(Output::Chosen {
                value: v.to_owned(),
                won: true,
            }),
            (Some(_), Some(_)) => Resolution::Absent,
            _ => Resolution::Open,
        },
        _ => Resolution::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_check::history::RecordStatus;

    fn unknown(op: OpKind, key: &str, expected: Option<&str>, value: Option<&str>) -> Record {
        Record {
            client: 1,
            op,
            key: key.into(),
            value: value.map(str::to_owned),
            expected: expected.map(str::to_owned),
            output: None,
            call: 10,
            ret: 20,
            status: RecordStatus::Unknown,
        }
    }

    #[test]
    fn appends_are_settled_both_ways_and_only_by_a_different_list() {
        let w = unknown(OpKind::Cas, "a0.0", Some("1.1"), Some("1.1 2.1"));
        assert_eq!(resolve(&w, Some("1.1")), Resolution::Open);
        assert_eq!(
            resolve(&w, Some("1.1 2.1 3.1")),
            Resolution::Applied(Output::Written {
                previous: Some("1.1".into())
            })
        );
        assert_eq!(resolve(&w, Some("1.1 3.1")), Resolution::Absent);
        let first = unknown(OpKind::Cas, "a0.0", None, Some("2.1"));
        assert_eq!(resolve(&first, None), Resolution::Open);
        assert_eq!(resolve(&first, Some("3.1")), Resolution::Absent);
    }

    #[test]
    fn registers_settle_only_a_cas_whose_value_is_read() {
        let cas = unknown(OpKind::Cas, "r0", None, Some("2.1"));
        assert_eq!(
            resolve(&cas, Some("2.1")),
            Resolution::Applied(Output::Written { previous: None })
        );
        assert_eq!(resolve(&cas, Some("3.1")), Resolution::Open);
        assert_eq!(resolve(&cas, None), Resolution::Open);
        let put = unknown(OpKind::Put, "r0", None, Some("2.2"));
        assert_eq!(resolve(&put, Some("2.2")), Resolution::Open);
        assert_eq!(resolve(&put, Some("3.1")), Resolution::Open);
        assert!(!settleable(OpKind::Put, KeyKind::Register));
        assert!(!settleable(OpKind::Delete, KeyKind::Register));
        assert!(settleable(OpKind::Cas, KeyKind::Register));
    }

    #[test]
    fn propose_once_is_settled_by_any_value() {
        let w = unknown(OpKind::ProposeOnce, "once0", None, Some("2.1"));
        assert_eq!(resolve(&w, None), Resolution::Open);
        assert_eq!(
            resolve(&w, Some("2.1")),
            Resolution::Applied(Output::Chosen {
                value: "2.1".into(),
                won: true
            })
        );
        assert_eq!(resolve(&w, Some("3.1")), Resolution::Absent);
        assert!(settleable(OpKind::ProposeOnce, KeyKind::Once));
    }
}
