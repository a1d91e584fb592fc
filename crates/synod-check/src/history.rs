//! Client histories: one record per operation, saved as JSON lines, and their linearizability
//! check.
//!
//! Both fault harnesses of `synod-harness` — the deterministic simulation and the real-process
//! chaos run — record what their clients saw as [`Record`]s and hand them to
//! [`check`], which partitions the history by key (keys are independent registers) and runs the
//! project's one checker, [`crate::linearizability::check`] (Wing–Gong search with Lowe's
//! memoisation; the sequential specification is `Operation::apply`).
//!
//! The JSON-lines format is documented in `docs/testing.md` so that any independent checker can
//! read it. One line per operation:
//!
//! ```json
//! {"client":3,"op":"cas","key":"r1","value":"3.17","expected":"1.4","output":{"type":"written","previous":"1.4"},"call":1200345,"return":1290001,"status":"ok"}
//! ```
//!
//! `status` is `ok` (the `output` is what the operation returned), `fail` (it surely did not
//! take effect) or `unknown` (it may have taken effect, at any time after `call`; `output` is
//! null). `call` and `return` are nanoseconds from one monotonic clock shared by all clients.

use crate::linearizability::{self, Event, Status, Violation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;
use synod_core::{Operation, Outcome};

/// The operation a client invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// A linearizable read.
    Get,
    /// Overwrite with `value`.
    Put,
    /// Write `value` if the current value is `expected` (null = empty).
    Cas,
    /// Empty the key.
    Delete,
    /// Choose `value` unless a value is already chosen.
    ProposeOnce,
}

impl OpKind {
    /// Every kind, in declaration order.
    pub const ALL: [OpKind; 5] = [
        OpKind::Get,
        OpKind::Put,
        OpKind::Cas,
        OpKind::Delete,
        OpKind::ProposeOnce,
    ];
}

/// How an operation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordStatus {
    /// It returned `output`.
    Ok,
    /// It surely did not take effect.
    Fail,
    /// It may or may not have taken effect.
    Unknown,
}

/// What an operation returned (the core's `Outcome`, with values as strings).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Output {
    /// `get`: the current value (null = empty).
    Read {
        /// The value.
        value: Option<String>,
    },
    /// `put`, `delete` or a matching `cas`: the value replaced.
    Written {
        /// The previous value.
        previous: Option<String>,
    },
    /// A `cas` whose expectation did not hold.
    CasMismatch {
        /// The current value.
        current: Option<String>,
    },
    /// `propose-once`: the chosen value and whether it was this caller's.
    Chosen {
        /// The chosen value.
        value: String,
        /// Whether it is the caller's value.
        won: bool,
    },
}

impl From<Outcome<String>> for Output {
    fn from(outcome: Outcome<String>) -> Self {
        match outcome {
            Outcome::Read { value } => Output::Read { value },
            Outcome::Written { previous } => Output::Written { previous },
            Outcome::CasMismatch { current } => Output::CasMismatch { current },
            Outcome::Chosen { value, won } => Output::Chosen { value, won },
        }
    }
}

impl From<Output> for Outcome<String> {
    fn from(output: Output) -> Self {
        match output {
            Output::Read { value } => Outcome::Read { value },
            Output::Written { previous } => Outcome::Written { previous },
            Output::CasMismatch { current } => Outcome::CasMismatch { current },
            Output::Chosen { value, won } => Outcome::Chosen { value, won },
        }
    }
}

/// One operation of a history.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Record {
    /// The client (a sequential process: one operation at a time).
    pub client: u64,
    /// The operation.
    pub op: OpKind,
    /// The key.
    pub key: String,
    /// The value written (`put`, `propose-once`) or the new value (`cas`); null otherwise.
    pub value: Option<String>,
    /// `cas` only: the expected value (null = empty).
    pub expected: Option<String>,
    /// What it returned, when `status` is `ok`.
    pub output: Option<Output>,
    /// Invocation time, ns on the shared monotonic clock.
    pub call: u64,
    /// Completion time, ns on the same clock (for `unknown`: when the client gave up).
    #[serde(rename = "return")]
    pub ret: u64,
    /// How it ended.
    pub status: RecordStatus,
}

/// Why a record cannot be checked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// A field the operation needs is missing.
    #[error("{0:?} needs a value")]
    MissingValue(OpKind),
    /// `ok` without an output.
    #[error("status ok without an output")]
    MissingOutput,
}

impl Record {
    /// The core operation this record invoked.
    pub fn operation(&self) -> Result<Operation<String>, RecordError> {
        let value = || self.value.clone().ok_or(RecordError::MissingValue(self.op));
        Ok(match self.op {
            OpKind::Get => Operation::Read,
            OpKind::Put => Operation::Put(value()?),
            OpKind::Delete => Operation::Delete,
            OpKind::ProposeOnce => Operation::ProposeOnce(value()?),
            OpKind::Cas => Operation::Cas {
                expected: self.expected.clone(),
                new: value()?,
            },
        })
    }

    /// The record as an event for the checker.
    pub fn event(&self) -> Result<Event<String>, RecordError> {
        let status = match self.status {
            RecordStatus::Ok => Status::Ok(
                self.output
                    .clone()
                    .ok_or(RecordError::MissingOutput)?
                    .into(),
            ),
            RecordStatus::Fail => Status::Failed,
            RecordStatus::Unknown => Status::Unknown,
        };
        Ok(Event {
            op: self.operation()?,
            call: self.call,
            ret: self.ret,
            status,
        })
    }
}

/// The verdict on one key's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyVerdict {
    /// The key.
    pub key: String,
    /// Operations on it (all statuses).
    pub operations: usize,
    /// The checker's answer.
    pub result: Result<(), Violation>,
}

/// The verdict on a whole history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    /// One entry per key, in key order.
    pub keys: Vec<KeyVerdict>,
    /// Operations by status: ok, fail, unknown.
    pub ok: usize,
    /// Operations that surely did not take effect.
    pub failed: usize,
    /// Operations of unknown fate.
    pub unknown: usize,
}

impl Verdict {
    /// Whether every key's history is linearizable.
    pub fn linearizable(&self) -> bool {
        self.keys.iter().all(|k| k.result.is_ok())
    }

    /// The keys whose history is not linearizable.
    pub fn violations(&self) -> impl Iterator<Item = &KeyVerdict> {
        self.keys.iter().filter(|k| k.result.is_err())
    }
}

/// Checks every key's history for linearizability.
pub fn check(records: &[Record]) -> Result<Verdict, RecordError> {
    let mut by_key: BTreeMap<&str, Vec<Event<String>>> = BTreeMap::new();
    let mut verdict = Verdict::default();
    for record in records {
        match record.status {
            RecordStatus::Ok => verdict.ok += 1,
            RecordStatus::Fail => verdict.failed += 1,
            RecordStatus::Unknown => verdict.unknown += 1,
        }
        by_key
            .entry(record.key.as_str())
            .or_default()
            .push(record.event()?);
    }
    verdict.keys = by_key
        .into_iter()
        .map(|(key, events)| KeyVerdict {
            key: key.to_owned(),
            operations: events.len(),
            result: linearizability::check(&events),
        })
        .collect();
    Ok(verdict)
}

/// Writes `records` as JSON lines.
pub fn write_jsonl(path: &Path, records: &[Record]) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for record in records {
        serde_json::to_writer(&mut out, record)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read history: {0}")]
    Io(#[from] std::io::Error),
    /// A line is not a record.
    #[error("line {line}: {source}")]
    Json {
        /// The 1-based line number.
        line: usize,
        /// What serde reported.
        source: serde_json::Error,
    },
}

/// Reads a JSON-lines history (blank lines are skipped).
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>, ReadError> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut records = Vec::new();
    for (n, line) in file.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        records.push(
            serde_json::from_str(&line).map_err(|source| ReadError::Json {
                line: n + 1,
                source,
            })?,
        );
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(client: u64, op: OpKind, value: Option<&str>, output: Output, call: u64) -> Record {
        Record {
            client,
            op,
            key: "k".into(),
            value: value.map(str::to_owned),
            expected: None,
            output: Some(output),
            call,
            ret: call + 5,
            status: RecordStatus::Ok,
        }
    }

    #[test]
    fn the_json_format_is_the_documented_one_and_round_trips() {
        let r = Record {
            client: 3,
            op: OpKind::Cas,
            key: "r1".into(),
            value: Some("3.17".into()),
            expected: Some("1.4".into()),
            output: Some(Output::Written {
                previous: Some("1.4".into()),
            }),
            call: 1200345,
            ret: 1290001,
            status: RecordStatus::Ok,
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"client":3,"op":"cas","key":"r1","value":"3.17","expected":"1.4","output":{"type":"written","previous":"1.4"},"call":1200345,"return":1290001,"status":"ok"}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), r);
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("h.jsonl");
        write_jsonl(&path, &[r.clone(), r.clone()]).unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![r.clone(), r]);
    }

    #[test]
    fn keys_are_checked_separately_and_a_stale_read_is_reported() {
        let put = rec(
            1,
            OpKind::Put,
            Some("a"),
            Output::Written { previous: None },
            0,
        );
        let stale = rec(2, OpKind::Get, None, Output::Read { value: None }, 100);
        let mut other = stale.clone();
        other.key = "other".into();
        let verdict = check(&[put.clone(), other.clone()]).unwrap();
        assert!(verdict.linearizable());
        assert_eq!(verdict.keys.len(), 2);
        let verdict = check(&[put, stale, other]).unwrap();
        assert!(!verdict.linearizable());
        let bad: Vec<_> = verdict.violations().map(|k| k.key.as_str()).collect();
        assert_eq!(bad, ["k"]);
        assert_eq!(verdict.ok, 3);
    }

    #[test]
    fn malformed_records_are_errors() {
        let mut r = rec(1, OpKind::Put, None, Output::Written { previous: None }, 0);
        assert_eq!(r.event(), Err(RecordError::MissingValue(OpKind::Put)));
        r.value = Some("v".into());
        r.output = None;
        assert_eq!(r.event(), Err(RecordError::MissingOutput));
    }
}
