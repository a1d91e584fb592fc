//! Shared by the chaos tests: runs `synod-harness chaos` and reads back its history.

#![allow(dead_code)]

use std::process::Command;
use synod_check::history::{self, OpKind, RecordStatus};

/// Runs `synod-harness chaos` with `args`; returns (success, stdout, history records).
pub fn chaos(args: &[&str]) -> (bool, String, Vec<history::Record>) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("history.jsonl");
    let output = Command::new(env!("CARGO_BIN_EXE_synod-harness"))
        .arg("chaos")
        .args(args)
        .arg("--history")
        .arg(&path)
        .arg("--data-root")
        .arg(tmp.path().join("data"))
        .env("SYNOD_LOG", "error")
        .output()
        .expect("run synod-harness chaos");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let records = history::read_jsonl(&path).expect("the history was saved");
    (output.status.success(), stdout, records)
}

/// The number before `word` in `text` (e.g. "4 kills").
pub fn count(text: &str, word: &str) -> u64 {
    let at = text
        .find(word)
        .unwrap_or_else(|| panic!("no {word:?} in {text}"));
    text[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count before {word:?}"))
}

/// Asserts that the last operation on each of `keys` is a successful read (the run's final
/// reads, after every node was restarted).
pub fn assert_ends_with_reads<'a>(
    records: &[history::Record],
    keys: impl IntoIterator<Item = &'a str>,
) {
    for key in keys {
        let last = records
            .iter()
            .filter(|r| r.key == key)
            .max_by_key(|r| r.call)
            .unwrap_or_else(|| panic!("no operation on {key}"));
        assert_eq!(
            (last.op, last.status),
            (OpKind::Get, RecordStatus::Ok),
            "{key}"
        );
    }
}
