//! The chaos run with real partitions: every node in a network namespace of its own, links cut
//! by routes that make the kernel drop the packets (`--network=namespaces`), plus kills and
//! pauses. The history must be linearizable and the nemesis must have cut links.
//!
//! Namespaces need root. CI runs as root, with iproute2 installed by `.ci/run`, and there the
//! test always runs (`CI` is set); elsewhere, without root, it says why it did not run.

mod chaos_run;

use chaos_run::{chaos, count};
use synod_check::history;

#[test]
fn a_chaos_run_with_namespaced_partitions_is_linearizable() {
    if !nix::unistd::geteuid().is_root() && std::env::var_os("CI").is_none() {
        eprintln!("skipped: network namespaces need root (in CI this test always runs)");
        return;
    }
    let (ok, stdout, records) = chaos(&[
        "--nodes=3",
        "--clients=6",
        "--duration-secs=10",
        "--seed=5",
        "--network=namespaces",
    ]);
    assert!(ok, "synod-harness chaos reported a violation:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    assert!(verdict.linearizable(), "{verdict:?}");
    assert!(verdict.ok > 50, "the workload made progress: {verdict:?}");
    assert!(count(&stdout, "partitions") > 0, "the nemesis partitioned");
    assert!(
        count(&stdout, "links blackholed") > 0,
        "partitions were kernel packet drops between namespaces:\n{stdout}"
    );
    assert!(!stdout.contains("proxies:"), "no proxy was used");
}
