//! The real-process chaos run in CI: `synod-harness chaos` for a short while — 3 real node
//! processes behind fault-injecting proxies, 8 clients on register, once and append keys, a
//! nemesis that SIGKILLs, partitions, loses traffic and pauses nodes (SIGSTOP/SIGCONT) — must
//! end with a linearizable history; the saved JSON-lines history is read back and re-checked
//! here, independently of the binary's own verdict, by the register check and the direct append
//! check.

mod chaos_run;

use chaos_run::{assert_ends_with_reads, chaos, count};
use std::collections::BTreeSet;
use synod_check::append;
use synod_check::history::{self, OpKind, Output, RecordStatus};

#[test]
fn a_short_chaos_run_with_pauses_and_appends_is_linearizable() {
    // Real deletes (not tombstones), so that every operation kind is exercised.
    let (ok, stdout, records) = chaos(&[
        "--nodes=3",
        "--clients=8",
        "--duration-secs=15",
        "--seed=7",
        "--deletes=empty",
        "--append-keys=1",
        "--pauses=true",
    ]);
    assert!(ok, "synod-harness chaos reported a violation:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    assert!(verdict.linearizable(), "{verdict:?}");
    assert!(verdict.ok > 100, "the workload made progress: {verdict:?}");
    for kind in OpKind::ALL {
        assert!(
            records
                .iter()
                .any(|r| r.op == kind && r.status == RecordStatus::Ok),
            "{kind:?} succeeded at least once"
        );
    }
    assert!(records.iter().all(|r| r.call <= r.ret));
    assert!(
        count(&stdout, "kills") > 0 && count(&stdout, "partitions") > 0,
        "the nemesis acted"
    );
    assert!(count(&stdout, "pauses") > 0, "the nemesis paused nodes");
    // Appends went through, every list grew by one element at a time, and the direct check
    // finds nothing.
    let append_keys: BTreeSet<&str> = records
        .iter()
        .filter(|r| r.key.starts_with('a'))
        .map(|r| r.key.as_str())
        .collect();
    assert!(!append_keys.is_empty());
    for key in &append_keys {
        let of_key: Vec<_> = records.iter().filter(|r| r.key == *key).cloned().collect();
        assert_eq!(append::check(&of_key), [], "{key}");
        for r in of_key.iter().filter(|r| r.op == OpKind::Cas) {
            let new = append::elements(r.value.as_deref());
            assert_eq!(
                new[..new.len() - 1],
                append::elements(r.expected.as_deref())
            );
        }
    }
    assert!(
        records
            .iter()
            .any(|r| r.key.starts_with('a') && matches!(r.output, Some(Output::Written { .. }))),
        "an append succeeded"
    );
    // The run ends with a successful read of every key, after every node was restarted.
    assert_ends_with_reads(
        &records,
        ["r0", "r1", "r2", "once0"].into_iter().chain(append_keys),
    );
}
