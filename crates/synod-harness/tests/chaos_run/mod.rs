//! Shared by the chaos tests: runs `synod-harness chaos` and reads back its history.

#![allow(dead_code)]

use std::process::Command;
use synod_check::history;

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
