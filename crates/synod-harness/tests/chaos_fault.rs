//! The chaos run catches a real durability bug: started with `--inject forget-persist` (the
//! node's `fault-injection` seam, compiled into `synod-harness`), the nodes answer every prepare
//! and accept without writing their state to disk; after SIGKILLs and the final restart of every
//! node, reads miss acknowledged writes, and the linearizability checker must say so.
//!
//! `cargo test -p synod-harness --test chaos_fault`

mod chaos_run;

use synod_check::history;

#[test]
fn chaos_catches_acceptors_that_forget_their_promises() {
    let (ok, stdout, records) = chaos_run::chaos(&[
        "--nodes=3",
        "--clients=6",
        "--duration-secs=8",
        "--seed=3",
        "--inject=forget-persist",
    ]);
    assert!(!ok, "synod-harness chaos must fail:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    assert!(
        !verdict.linearizable(),
        "the checker must report a violation: {verdict:?}"
    );
}
