//! The real-process chaos run in CI: `synod-harness chaos` for a short while — 3 real node
//! processes behind fault-injecting proxies, 8 clients, a nemesis that SIGKILLs, partitions and
//! loses traffic — must end with a linearizable history; the saved JSON-lines history is read
//! back and re-checked here, independently of the binary's own verdict.

mod chaos_run;

use chaos_run::{chaos, count};
use synod_check::history::{self, OpKind, RecordStatus};

#[test]
fn a_short_chaos_run_is_linearizable() {
    let (ok, stdout, records) =
        chaos(&["--nodes=3", "--clients=8", "--duration-secs=15", "--seed=7"]);
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
    // The run ends with a successful read of every key, after every node was restarted.
    for key in ["r0", "r1", "r2", "once0"] {
        let last = records
            .iter()
            .filter(|r| r.key == key)
            .max_by_key(|r| r.call)
            .unwrap();
        assert_eq!(
            (last.op, last.status),
            (OpKind::Get, RecordStatus::Ok),
            "{key}"
        );
    }
}
