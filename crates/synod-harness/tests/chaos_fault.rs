//! The chaos run catches a real durability bug on every kind of key: started with `--inject
//! forget-persist` (the node's `fault-injection` seam, compiled into `synod-harness`), the nodes
//! answer every prepare and accept without writing their state to disk; after SIGKILLs and the
//! final restart of every node, reads miss acknowledged writes. With deletes written as unique
//! tombstones (the default), no delete of unknown fate can explain a lost write away, so the
//! checker must convict a **register** key, and the direct append check must name a lost append.
//!
//! `cargo test -p synod-harness --test chaos_fault`

mod chaos_run;

use synod_check::append::AppendAnomaly;
use synod_check::history;
use synod_harness::chaos::append_anomalies;

#[test]
fn chaos_catches_acceptors_that_forget_their_promises_on_register_and_append_keys() {
    let (ok, stdout, records) = chaos_run::chaos(&[
        "--nodes=3",
        "--clients=6",
        "--duration-secs=8",
        "--seed=3",
        "--inject=forget-persist",
    ]);
    assert!(!ok, "synod-harness chaos must fail:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    let convicted: Vec<&str> = verdict.violations().map(|k| k.key.as_str()).collect();
    assert!(
        convicted.iter().any(|k| k.starts_with('r')),
        "a register key must be convicted, not only {convicted:?}"
    );
    assert!(
        append_anomalies(&records)
            .iter()
            .any(|(_, a)| matches!(a, AppendAnomaly::Lost { .. })),
        "the append check must name a lost append"
    );
}
