//! The chaos run with membership changes in CI (issue 18, item 5): `synod-harness chaos
//! --membership` — 3 real node processes behind fault-injecting proxies, 8 clients on register,
//! once and append keys, the nemesis (kills, partitions, lossy links, pauses) — while an admin
//! grows the cluster to 5 (each new node started empty with `serve --join`), kills a founding
//! node, deletes its data directory, removes it and adds it back empty, and shrinks the cluster
//! back to 3. Every change must be done, the final membership record must name {1, 2, 3} in
//! generation 12 (two steps per change), the workload must go on after every change, and
//! the saved history is read back and re-checked here, independently of the binary's verdict:
//! linearizable per key (agreement on the once key included), and the direct append check (no
//! acknowledged append lost).

mod chaos_run;

use chaos_run::{assert_ends_with_reads, chaos, count};
use synod_check::history::{self, RecordStatus};
use synod_harness::chaos::append_anomalies;

/// The changes the report lists: (what, started at, took), in seconds since the workload began.
fn changes(stdout: &str) -> Vec<(String, f64, f64)> {
    stdout
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("change "))
        .map(|line| {
            let (_, rest) = line.split_once(": ").unwrap();
            let (what, rest) = rest.split_once(" through node ").unwrap();
            let number = |label: &str| -> f64 {
                let at = rest.find(label).unwrap() + label.len();
                rest[at..].split(' ').next().unwrap().parse().unwrap()
            };
            (what.to_owned(), number("at "), number("took "))
        })
        .collect()
}

#[test]
fn a_chaos_run_that_grows_replaces_a_disk_and_shrinks_is_linearizable() {
    const SECONDS: f64 = 24.0;
    let (ok, stdout, records) = chaos(&[
        "--nodes=3",
        "--clients=8",
        "--duration-secs=24",
        "--seed=7",
        "--membership",
    ]);
    assert!(ok, "synod-harness chaos --membership failed:\n{stdout}");
    let verdict = history::check(&records).unwrap();
    assert!(verdict.linearizable(), "{verdict:?}");
    assert_eq!(append_anomalies(&records), []);
    assert!(verdict.ok > 100, "the workload made progress: {verdict:?}");
    assert!(
        count(&stdout, "kills") > 0 && count(&stdout, "partitions") > 0,
        "the nemesis acted"
    );

    // Every phase happened, in order, and the record after the run says where it ended.
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("membership:"))
        .unwrap_or_else(|| panic!("no membership line in {stdout}"));
    assert!(summary.contains("6 of 6 changes"), "{summary}");
    assert!(
        summary.contains("final members {1, 2, 3} in generation 12"),
        "{summary}"
    );
    let done = changes(&stdout);
    let what: Vec<&str> = done.iter().map(|(w, _, _)| w.as_str()).collect();
    let replaced = what[2].strip_prefix("remove node ").unwrap();
    assert_eq!(
        what,
        [
            "add node 4".to_owned(),
            "add node 5".to_owned(),
            format!("remove node {replaced}"),
            format!("add node {replaced}"),
            "remove node 4".to_owned(),
            "remove node 5".to_owned(),
        ],
        "{stdout}"
    );
    assert!(summary.contains(&format!("replaced node {replaced}'s disk")));

    // The cluster kept serving after each change: some operation succeeded between the end of
    // the change and the end of the workload (a change that ended after the workload is covered
    // by the final reads below). Not per configuration: one that lasts a second or two under
    // partitions and kills may legitimately see no success.
    let ns = |s: f64| (s * 1e9) as u64;
    for (change, at, took) in &done {
        let from = ns(at + took);
        if from >= ns(SECONDS) {
            continue;
        }
        assert!(
            records
                .iter()
                .any(|r| r.status == RecordStatus::Ok && (from..ns(SECONDS)).contains(&r.ret)),
            "no operation succeeded after {change} (from {from} ns)"
        );
    }

    // The run ends with a successful read of every key, from the members {1, 2, 3}.
    assert_ends_with_reads(&records, ["r0", "r1", "r2", "once0"]);
}
