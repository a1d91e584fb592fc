//! The chaos run catches a real durability bug: built with the `fault-injection` feature and
//! started with `--inject forget-persist`, the nodes answer every prepare and accept without
//! writing their state to disk; after SIGKILLs and the final restart of every node, reads miss
//! acknowledged writes, and the linearizability checker must say so.
//!
//! `cargo test -p synod-server --features fault-injection --test chaos_fault`

mod chaos_run;

use synod_server::history;

#[test]
fn chaos_catches_acceptors_that_forget_their_promises() {
    let (ok, stdout, records) = chaos_run::chaos(&[
        "--nodes=3",
        "--clients=6",
        "--duration-secs=8",
        "--seed=3",
        "--inject=forget-persist",
    ]);
    assert!(!ok, "synod chaos must fail:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    assert!(
        !verdict.linearizable(),
        "the checker must report a violation: {verdict:?}"
    );
}
