//! Staleness check: the exported traces committed under `models/traces/` must be exactly what
//! `synod-model traces export` writes today. A protocol or model change that alters behaviour
//! makes this fail until the traces are regenerated (`synod-model traces export --out
//! models/traces`) and the diff reviewed in the same change. Hand-written traces (the seed's)
//! are not regenerated; they are validated by `trace check`.

use std::path::PathBuf;
use synod_model::trace_export::{export_configs, export_to};

fn committed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

/// The prefix of every exported trace's description (hand-written traces do not have it).
const EXPORTED: &str = "\"description\": \"Exported by synod-model traces export";

#[test]
fn committed_exported_traces_are_byte_for_byte_up_to_date() {
    let fresh = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fresh-traces");
    let _ = std::fs::remove_dir_all(&fresh);
    let written = export_to(&fresh).expect("export succeeds");
    assert!(
        written.len() >= 12,
        "only {} traces exported",
        written.len()
    );
    let regenerate =
        "regenerate with `synod-model traces export --out models/traces` and review the diff";
    for file in &written {
        let name = file.file_name().unwrap();
        let committed = std::fs::read(committed_dir().join(name))
            .unwrap_or_else(|_| panic!("{name:?} is not committed: {regenerate}"));
        let exported = std::fs::read(file).unwrap();
        assert!(
            committed == exported,
            "{name:?} is stale (the model now produces a different trace): {regenerate}"
        );
    }
    // No leftover exported trace that the export no longer produces.
    for entry in std::fs::read_dir(committed_dir()).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        if text.contains(EXPORTED) {
            assert!(
                written.iter().any(|w| w.file_name() == path.file_name()),
                "{} is no longer exported: {regenerate}",
                path.display()
            );
        }
    }
}

#[test]
fn every_configuration_has_a_target_and_names_are_unique() {
    let mut names = std::collections::BTreeSet::new();
    for ec in export_configs() {
        assert!(!ec.targets.is_empty(), "{}", ec.name);
        for t in &ec.targets {
            assert!(
                names.insert(format!("{}--{}", ec.name, t.name)),
                "{}",
                t.name
            );
        }
    }
}

#[test]
fn minimised_paths_reach_their_target_and_no_single_step_can_be_dropped() {
    use synod_model::trace_export::{minimise, reaches, search, Found};
    use synod_model::{model, Correct};
    for ec in export_configs().into_iter().take(3) {
        let m = model::build(&ec.cfg, Correct).unwrap().faithful();
        for t in &ec.targets {
            let Ok(Found::Target(path)) = search(&m, &t.goal) else {
                panic!("{} {}: no path", ec.name, t.name);
            };
            assert!(reaches(&m, &t.goal, &path));
            let min = minimise(&m, &t.goal, path.clone());
            assert!(min.len() <= path.len());
            assert!(reaches(&m, &t.goal, &min), "{} {}", ec.name, t.name);
            for i in 0..min.len() {
                let mut shorter = min.clone();
                shorter.remove(i);
                assert!(
                    !reaches(&m, &t.goal, &shorter),
                    "{} {}: step {i} is removable",
                    ec.name,
                    t.name
                );
            }
        }
    }
}
