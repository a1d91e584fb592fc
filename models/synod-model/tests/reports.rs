//! `--json FILE` and `--junit FILE` of `check`, `check --preset` and `traces check`: the files
//! parse, and carry the verdicts the tables print — PASS for an exhaustive passing check, FAIL
//! with the counterexample listing and trace file for a buggy double, INCOMPLETE (a JUnit error,
//! never a pass) for a bounded run, and one record per trace file.

mod junit_xml;

use junit_xml::Element;
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use std::process::Command;
use synod_check::trace::Trace;

/// A fresh directory for one test's files.
fn dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("reports-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs the binary with `args` plus `--json` and `--junit` into `dir`; the exit code, the
/// output, the JSON and the JUnit root.
fn run(dir: &Path, args: &[&str]) -> (i32, String, Json, Element) {
    let (json, xml) = (dir.join("report.json"), dir.join("report.xml"));
    let out = Command::new(env!("CARGO_BIN_EXE_synod-model"))
        .args(args)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&xml)
        .output()
        .expect("the binary runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let json: Json = serde_json::from_str(
        &std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON ({e}):\n{text}")),
    )
    .unwrap_or_else(|e| panic!("the JSON does not parse: {e}"));
    let xml = junit_xml::parse(&std::fs::read_to_string(&xml).unwrap());
    (out.status.code().unwrap_or(-1), text, json, xml)
}

/// The property records of check `i`.
fn properties(json: &Json, i: usize) -> &Vec<Json> {
    json["checks"][i]["properties"].as_array().unwrap()
}

fn verdicts_of(json: &Json, i: usize) -> Vec<(String, String)> {
    properties(json, i)
        .iter()
        .map(|p| {
            let name = p["name"].as_str().unwrap().to_string();
            (name, p["verdict"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Every test case of the JUnit document, with the outcome element it carries, if any.
fn cases(xml: &Element) -> Vec<(&Element, Option<&Element>)> {
    assert_eq!(xml.name, "testsuites");
    xml.all("testsuite")
        .flat_map(|suite| suite.all("testcase"))
        .map(|case| (case, case.children.first()))
        .collect()
}

/// The JUnit counts and outcomes agree with the JSON verdicts: a PASS is a bare test case, a
/// FAIL a `<failure type="FAIL">`, an INCOMPLETE an `<error type="INCOMPLETE">`.
fn assert_junit_matches(json: &Json, xml: &Element) {
    let verdicts: Vec<String> = (0..json["checks"].as_array().unwrap().len())
        .flat_map(|i| verdicts_of(json, i).into_iter().map(|(_, v)| v))
        .collect();
    let cases = cases(xml);
    assert_eq!(cases.len(), verdicts.len());
    let count = |v: &str| verdicts.iter().filter(|x| *x == v).count().to_string();
    assert_eq!(xml.attr("tests"), verdicts.len().to_string());
    assert_eq!(xml.attr("failures"), count("FAIL"));
    assert_eq!(xml.attr("errors"), count("INCOMPLETE"));
    for ((case, outcome), verdict) in cases.into_iter().zip(&verdicts) {
        match (verdict.as_str(), outcome) {
            ("PASS", None) => {}
            ("FAIL", Some(o)) => assert_eq!((o.name.as_str(), o.attr("type")), ("failure", "FAIL")),
            ("INCOMPLETE", Some(o)) => {
                assert_eq!((o.name.as_str(), o.attr("type")), ("error", "INCOMPLETE"))
            }
            (v, o) => panic!("{} is {v} but carries {o:?}", case.attr("name")),
        }
    }
}

#[test]
fn an_exhaustive_pass_reports_every_property_pass_with_its_counts() {
    let dir = dir("pass");
    let (code, text, json, xml) = run(&dir, &["check", "--progress", "60"]);
    assert_eq!(code, 0, "{text}");
    assert_eq!(json["format"], "synod-model-check/1");
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"PASS".into(), &0.into())
    );
    let check = &json["checks"][0];
    assert_eq!(json["checks"].as_array().unwrap().len(), 1);
    assert_eq!(check["verdict"], "PASS");
    assert_eq!(check["exhaustive"], true);
    let unique = check["unique_states"].as_u64().unwrap();
    assert!(unique > 0 && check["total_states"].as_u64().unwrap() >= unique);
    assert!(text.contains(&format!("unique={unique} ")), "{text}");
    assert!(check["depth"].as_u64().unwrap() > 0);
    assert!(check["seconds"].as_f64().unwrap() >= 0.0);
    if cfg!(target_os = "linux") {
        assert!(check["peak_rss_bytes"].as_u64().unwrap() > 0);
    }
    let cfg = &check["configuration"];
    assert_eq!(
        (&cfg["nodes"], &cfg["mode"], &cfg["proposers"]),
        (&3.into(), &"consensus".into(), &2.into())
    );
    assert_eq!(cfg["protocol"], "correct");
    assert_eq!(cfg["network"], "unordered-duplicating");
    let verdicts = verdicts_of(&json, 0);
    assert!(
        verdicts.contains(&("agreement".into(), "PASS".into())),
        "{verdicts:?}"
    );
    assert!(verdicts.iter().all(|(_, v)| v == "PASS"), "{verdicts:?}");
    let agreement = &properties(&json, 0)[0];
    assert_eq!(
        (&agreement["kind"], &agreement["trace_file"]),
        (&"always".into(), &Json::Null)
    );
    assert_junit_matches(&json, &xml);
    assert_eq!(xml.attr("failures"), "0");
}

#[test]
fn a_buggy_double_fails_with_the_listing_and_trace_file_in_both_reports() {
    let dir = dir("fail");
    let traces = dir.join("traces");
    let args = [
        "check",
        "--bug",
        "accept-below-promise",
        "--threads",
        "1",
        "--progress",
        "60",
    ];
    let (code, text, json, xml) = run(
        &dir,
        &[&args[..], &["--traces", traces.to_str().unwrap()]].concat(),
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"FAIL".into(), &1.into())
    );
    assert_eq!(
        json["checks"][0]["configuration"]["protocol"],
        "accept-below-promise"
    );
    let agreement = properties(&json, 0)
        .iter()
        .find(|p| p["name"] == "agreement")
        .unwrap();
    assert_eq!(agreement["verdict"], "FAIL");
    let file = agreement["trace_file"].as_str().unwrap();
    let trace = Trace::<String>::from_json(&std::fs::read_to_string(file).unwrap()).unwrap();
    let steps = agreement["steps"].as_u64().unwrap() as usize;
    assert!(
        steps > 0 && trace.steps.len() >= steps,
        "{steps} steps, trace {}",
        trace.steps.len()
    );
    let listing = agreement["listing"].as_str().unwrap();
    assert!(listing.contains("chosen"), "{listing}");
    assert!(text.contains(listing), "the listing is the one printed");
    assert!(agreement["explore_url"]
        .as_str()
        .unwrap()
        .starts_with("http://127.0.0.1:3000/"));
    assert!(agreement["explore_command"]
        .as_str()
        .unwrap()
        .contains("--bug accept-below-promise"));
    // The run stopped at the counterexample: what it did not decide is INCOMPLETE, never PASS.
    for p in properties(&json, 0) {
        if p["kind"] == "always" && p["name"] != "agreement" {
            assert_eq!(p["verdict"], "INCOMPLETE", "{p}");
        }
    }
    assert_junit_matches(&json, &xml);
    let (_, failure) = cases(&xml)
        .into_iter()
        .find(|(c, _)| c.attr("name").starts_with("agreement"))
        .unwrap();
    let failure = failure.expect("agreement carries its failure");
    assert!(failure.text.contains(listing), "{}", failure.text);
    assert!(failure.text.contains(file), "{}", failure.text);
}

#[test]
fn a_bounded_run_is_incomplete_and_a_junit_error_never_a_pass() {
    let dir = dir("bounded");
    let (code, text, json, xml) = run(&dir, &["check", "--max-depth", "3", "--progress", "60"]);
    assert_eq!(code, 2, "{text}");
    assert_eq!(
        (&json["verdict"], &json["exit_code"]),
        (&"INCOMPLETE".into(), &2.into())
    );
    assert_eq!(json["checks"][0]["exhaustive"], false);
    assert_eq!(json["checks"][0]["configuration"]["max_depth"], 3);
    let verdicts = verdicts_of(&json, 0);
    assert!(
        verdicts.contains(&("agreement".into(), "INCOMPLETE".into())),
        "{verdicts:?}"
    );
    assert_junit_matches(&json, &xml);
    assert_ne!(xml.attr("errors"), "0");
}

#[test]
fn a_preset_writes_one_record_per_proof_and_combines_their_verdicts() {
    let dir = dir("preset");
    let traces = dir.join("traces");
    let (code, text, json, xml) = run(
        &dir,
        &[
            "check",
            "--preset",
            "ci",
            "--bug",
            "accept-below-promise",
            "--traces",
            traces.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(json["verdict"], "FAIL");
    let checks = json["checks"].as_array().unwrap();
    assert!(checks.len() >= 5, "{} checks", checks.len());
    let mut files = std::collections::BTreeSet::new();
    for check in checks {
        let command = check["command"].as_str().unwrap();
        if check["configuration"]["mode"] == "membership" {
            // The membership model checks the shipped core; the fixed-membership double does
            // not apply to it, and the preset says so.
            assert!(command.starts_with("synod-model membership"), "{command}");
            assert_eq!(check["configuration"]["protocol"], "correct");
            assert_eq!(check["verdict"], "PASS");
            assert!(text.contains("--bug does not apply"), "{text}");
            continue;
        }
        assert!(
            command.starts_with("synod-model check")
                && command.ends_with(" --bug accept-below-promise"),
            "{command}"
        );
        assert_eq!(check["configuration"]["protocol"], "accept-below-promise");
        for p in check["properties"].as_array().unwrap() {
            if let Some(explore) = p["explore_command"].as_str() {
                assert!(explore.contains("--bug accept-below-promise"), "{explore}");
            }
            if let Some(file) = p["trace_file"].as_str() {
                assert!(Path::new(file).exists(), "{file}");
                assert!(files.insert(file.to_string()), "{file} written twice");
            }
        }
    }
    assert!(checks.iter().any(|c| c["verdict"] == "FAIL"));
    assert!(
        checks
            .iter()
            .any(|c| c["configuration"]["mode"] == "membership"),
        "the CI preset runs the membership model too"
    );
    assert_eq!(xml.all("testsuite").count(), checks.len());
    assert_junit_matches(&json, &xml);
}

#[test]
fn a_membership_double_fails_with_its_counterexample_in_the_records() {
    let dir = dir("membership");
    let (code, text, json, xml) = run(
        &dir,
        &[
            "membership",
            "--scenario",
            "grow",
            "--clients",
            "1",
            "--bug",
            "keep-old-quorums",
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(json["verdict"], "FAIL");
    let check = &json["checks"][0];
    assert_eq!(check["configuration"]["mode"], "membership");
    assert_eq!(check["configuration"]["protocol"], "keep-old-quorums");
    assert_eq!(check["exhaustive"], false);
    let failed: Vec<&Json> = properties(&json, 0)
        .iter()
        .filter(|p| p["verdict"] == "FAIL")
        .collect();
    assert!(!failed.is_empty(), "{text}");
    let listing = failed[0]["listing"]
        .as_str()
        .expect("a FAIL carries its listing");
    assert!(listing.contains("counterexample to"), "{listing}");
    assert!(text.contains("counterexample to"), "{text}");
    assert_junit_matches(&json, &xml);
}

#[test]
fn a_bounded_membership_check_is_incomplete_never_pass() {
    let dir = dir("membership-bounded");
    let (code, text, json, _) = run(
        &dir,
        &[
            "membership",
            "--scenario",
            "replace-crashed",
            "--strategy",
            "dfs",
            "--timeout",
            "1",
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert_eq!(json["verdict"], "INCOMPLETE");
    assert!(text.contains("(not exhaustive: the timeout)"), "{text}");
    assert!(verdicts_of(&json, 0).contains(&("linearizable".into(), "INCOMPLETE".into())));
}

fn committed_trace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../traces/consensus-3n-2p--minority-value-recovered.json")
}

#[test]
fn traces_check_reports_one_record_per_file() {
    let dir = dir("traces");
    let mut trace =
        Trace::<String>::from_json(&std::fs::read_to_string(committed_trace()).unwrap()).unwrap();
    let expect = trace.steps[4].expect.as_mut().unwrap();
    expect.nodes.values_mut().next().unwrap().promised =
        synod_core::Ballot::new(7, synod_core::NodeId(3));
    let tampered = dir.join("tampered.json");
    std::fs::write(&tampered, trace.to_json()).unwrap();
    let good = committed_trace();
    let (code, text, json, xml) = run(
        &dir,
        &[
            "traces",
            "check",
            good.to_str().unwrap(),
            tampered.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{text}");
    assert_eq!(json["format"], "synod-model-traces-check/1");
    assert_eq!(json["verdict"], "FAIL");
    let records = json["traces"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["verdict"], "PASS");
    assert_eq!(
        records[0]["steps"].as_u64().unwrap(),
        trace.steps.len() as u64
    );
    assert_eq!(records[1]["verdict"], "FAIL");
    let message = records[1]["message"].as_str().unwrap();
    assert!(message.contains("diverges at step 4"), "{message}");
    let cases = cases(&xml);
    assert_eq!((xml.attr("tests"), xml.attr("failures")), ("2", "1"));
    assert!(cases[0].1.is_none());
    let failure = cases[1].1.unwrap();
    assert_eq!(failure.name, "failure");
    assert!(failure.text.contains("diverges at step 4"));

    let missing = dir.join("missing.json");
    let (code, text, json, xml) = run(&dir, &["traces", "check", missing.to_str().unwrap()]);
    assert_eq!(code, 3, "{text}");
    assert_eq!(json["verdict"], "ERROR");
    let message = json["traces"][0]["message"].as_str().unwrap();
    assert!(message.starts_with("cannot read it: "), "{message}");
    assert!(
        text.contains(&format!("{}: cannot read it", missing.display())),
        "{text}"
    );
    assert_eq!((xml.attr("tests"), xml.attr("errors")), ("1", "1"));
    assert_eq!(cases_len_errors(&xml), 1);
}

fn cases_len_errors(xml: &Element) -> usize {
    cases(xml)
        .into_iter()
        .filter(|(_, o)| o.is_some_and(|o| o.name == "error"))
        .count()
}
