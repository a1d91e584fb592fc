//! Append histories: the list encoding of the append workload and a direct check of its
//! histories (in the spirit of Jepsen's Elle), beside the register check every key gets.
//!
//! An **append key** holds a list of unique elements, written as one string with the elements
//! separated by single spaces (`"1.3 4.2 1.7"`; the empty list is the empty register, `null`).
//! Clients only ever change it by a `cas` whose new value is its expected value with one fresh
//! element appended ([`appended`]), so in any linearization the list only grows, one element at
//! a time, and every list a history shows is a prefix of the key's final list. Such a history
//! needs no search to be judged; three things are checked directly:
//!
//! * **duplicates** — an element appears twice in one list;
//! * **divergence** (a reordering or a fork) — two lists seen in the history are not one a prefix
//!   of the other;
//! * **lost appends** — an append acknowledged (`ok`, `written`) before an operation was called
//!   is missing from the list that operation saw.
//!
//! Each anomaly also makes the key's register history non-linearizable; this check says *which*
//! element went missing or out of order, and when.

use crate::history::{OpKind, Output, Record, RecordStatus};
use std::collections::{BTreeMap, HashSet};

/// The elements of an append key's value (`None` = the empty list).
pub fn elements(value: Option<&str>) -> Vec<&str> {
    value.map_or_else(Vec::new, |v| v.split(' ').collect())
}

/// The value after appending `element` to `value`.
pub fn appended(value: Option<&str>, element: &str) -> String {
    match value {
        None => element.to_owned(),
        Some(v) => format!("{v} {element}"),
    }
}

/// The element a `cas` record appends: the last element of its new value.
pub fn element_of(record: &Record) -> Option<&str> {
    record.value.as_deref().and_then(|v| v.rsplit(' ').next())
}

/// Something an append history shows that no linearization allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppendAnomaly {
    /// One list holds an element twice.
    Duplicate {
        /// The element.
        element: String,
        /// When the operation that saw the list was called.
        seen_at: u64,
    },
    /// Two lists of the history are not one a prefix of the other.
    Diverged {
        /// The shorter list's length.
        shorter: usize,
        /// The longer list's length.
        longer: usize,
        /// The first position where they differ.
        at: usize,
    },
    /// An acknowledged append is missing from a list seen by an operation called after it.
    Lost {
        /// The element.
        element: String,
        /// When its append returned `ok`.
        acknowledged: u64,
        /// When the operation that missed it was called.
        missed_at: u64,
        /// The length of the list it saw.
        len: usize,
    },
}

impl std::fmt::Display for AppendAnomaly {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AppendAnomaly::Duplicate { element, seen_at } => {
                write!(f, "element {element} twice in the list seen at {seen_at} ns")
            }
            AppendAnomaly::Diverged { shorter, longer, at } => write!(
                f,
                "lists of {shorter} and {longer} elements differ at position {at} (reordered or forked)"
            ),
            AppendAnomaly::Lost {
                element,
                acknowledged,
                missed_at,
                len,
            } => write!(
                f,
                "lost append: {element}, acknowledged at {acknowledged} ns, missing from the {len}-element list seen at {missed_at} ns"
            ),
        }
    }
}

/// The lists an `ok` record shows, with the time its operation was called: a read's value, a
/// mismatch's current value, a written cas's previous and new values.
fn lists_seen(record: &Record) -> Vec<Option<&str>> {
    match (&record.output, record.status) {
        (Some(Output::Read { value }), RecordStatus::Ok)
        | (Some(Output::CasMismatch { current: value }), RecordStatus::Ok) => {
            vec![value.as_deref()]
        }
        (Some(Output::Written { previous }), RecordStatus::Ok) if record.op == OpKind::Cas => {
            vec![previous.as_deref(), record.value.as_deref()]
        }
        _ => Vec::new(),
    }
}

/// Checks the history of one append key (the records of other keys must be left out).
pub fn check(records: &[Record]) -> Vec<AppendAnomaly> {
    let mut anomalies = Vec::new();
    // Every distinct list seen, with the earliest and the latest call that saw it.
    let mut seen: BTreeMap<Option<&str>, (u64, u64)> = BTreeMap::new();
    for record in records {
        for list in lists_seen(record) {
            let (first, last) = seen.entry(list).or_insert((record.call, record.call));
            *first = (*first).min(record.call);
            *last = (*last).max(record.call);
        }
    }
    for (&list, &(at, _)) in &seen {
        let mut unique = HashSet::new();
        for e in elements(list) {
            if !unique.insert(e) {
                anomalies.push(AppendAnomaly::Duplicate {
                    element: e.to_owned(),
                    seen_at: at,
                });
            }
        }
    }
    let mut lists: Vec<Vec<&str>> = seen.keys().map(|l| elements(*l)).collect();
    lists.sort_by_key(Vec::len);
    for pair in lists.windows(2) {
        let (short, long) = (&pair[0], &pair[1]);
        if let Some(at) = short.iter().zip(long.iter()).position(|(a, b)| a != b) {
            anomalies.push(AppendAnomaly::Diverged {
                shorter: short.len(),
                longer: long.len(),
                at,
            });
        }
    }
    for append in records.iter().filter(|r| {
        r.op == OpKind::Cas
            && r.status == RecordStatus::Ok
            && matches!(r.output, Some(Output::Written { .. }))
    }) {
        let Some(element) = element_of(append) else {
            continue;
        };
        for (&list, &(_, at)) in &seen {
            if at > append.ret && !elements(list).contains(&element) {
                anomalies.push(AppendAnomaly::Lost {
                    element: element.to_owned(),
                    acknowledged: append.ret,
                    missed_at: at,
                    len: elements(list).len(),
                });
                break;
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(op: OpKind, expected: Option<&str>, value: Option<&str>, output: Output) -> Record {
        Record {
            client: 1,
            op,
            key: "a0.0".into(),
            value: value.map(str::to_owned),
            expected: expected.map(str::to_owned),
            output: Some(output),
            call: 0,
            ret: 0,
            status: RecordStatus::Ok,
        }
    }

    fn append(expected: Option<&str>, element: &str, call: u64, ret: u64) -> Record {
        let new = appended(expected, element);
        Record {
            call,
            ret,
            ..rec(
                OpKind::Cas,
                expected,
                Some(&new),
                Output::Written {
                    previous: expected.map(str::to_owned),
                },
            )
        }
    }

    fn read(value: Option<&str>, call: u64) -> Record {
        Record {
            call,
            ret: call + 1,
            ..rec(
                OpKind::Get,
                None,
                None,
                Output::Read {
                    value: value.map(str::to_owned),
                },
            )
        }
    }

    #[test]
    fn the_encoding_round_trips() {
        assert_eq!(appended(None, "1.1"), "1.1");
        assert_eq!(appended(Some("1.1"), "2.1"), "1.1 2.1");
        assert_eq!(elements(Some("1.1 2.1")), ["1.1", "2.1"]);
        assert!(elements(None).is_empty());
        assert_eq!(element_of(&append(Some("1.1"), "2.1", 0, 1)), Some("2.1"));
    }

    #[test]
    fn a_growing_history_is_clean_and_each_anomaly_is_named() {
        let good = [
            append(None, "1.1", 0, 10),
            append(Some("1.1"), "2.1", 20, 30),
            read(Some("1.1 2.1"), 40),
        ];
        assert!(check(&good).is_empty());

        let mut lost = good.to_vec();
        lost.push(read(Some("1.1"), 50));
        assert!(matches!(
            check(&lost).as_slice(),
            [AppendAnomaly::Lost { element, .. }] if element == "2.1"
        ));

        let mut forked = good.to_vec();
        forked.push(append(Some("1.1"), "3.1", 21, 22));
        assert!(check(&forked)
            .iter()
            .any(|a| matches!(a, AppendAnomaly::Diverged { at: 1, .. })));

        let twice = [read(Some("1.1 1.1"), 5)];
        assert!(matches!(
            check(&twice).as_slice(),
            [AppendAnomaly::Duplicate { element, .. }] if element == "1.1"
        ));
    }
}
