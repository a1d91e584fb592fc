//! Named sets of larger proofs, run with `synod-model check --preset NAME`: what a protocol
//! change should pass beyond CI's small configurations, on demand and in one command (a CI job
//! a reviewer triggers, or a laptop overnight). Each entry is a `check` or `membership` command
//! line with its own time bound, so an entry that cannot finish reports INCOMPLETE, never PASS.

use clap::ValueEnum;

/// One proof of a preset: a name for the summary and the `check` arguments.
#[derive(Clone, Copy, Debug)]
pub struct Proof {
    /// What it proves, for the summary table.
    pub name: &'static str,
    /// The `synod-model` command line after the program name: `check …` (the fixed-membership
    /// model) or `membership …` (the membership-change model), separated by spaces.
    pub args: &'static str,
}

/// The named sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Preset {
    /// Five nodes with a retry, with a crash and in register mode, and three rounds on three
    /// nodes: the reviewer's "prove it for five nodes" (issue 14's table).
    FiveNodes,
    /// The one-round-trip shortcuts beyond CI: a reader racing two writes, a home crash on a
    /// non-duplicating network, five nodes, a retrying writer.
    Shortcuts,
    /// The CI-sized configurations of `tests/ci_configs.rs` and `tests/membership.rs` (which pin
    /// their state counts):
    /// seconds in a release build, so that every pull request's model check can report a
    /// verdict table and counterexamples (docs/ci.md). Not part of `all`.
    Ci,
    /// The membership-change model beyond CI: replacing a crashed member with round timers,
    /// lagging nodes and a reader.
    Membership,
    /// Every proof of `five-nodes`, `shortcuts` and `membership`.
    All,
}

const FIVE_NODES: &[Proof] = &[
    Proof {
        name: "5 nodes, 2 proposers, 1 round",
        args: "check --nodes 5 --strategy dfs --timeout 600",
    },
    Proof {
        name: "5 nodes, 2 proposers, one retry each (symmetry)",
        args: "check --nodes 5 --rounds 2 --strategy dfs --symmetry --no-compare --timeout 1200",
    },
    Proof {
        name: "5 nodes, 2 proposers, 1 crash",
        args: "check --nodes 5 --crashes 1 --strategy dfs --timeout 300",
    },
    Proof {
        name: "5 nodes, register, clients put:a / cas:-:b",
        args: "check --nodes 5 --mode register --strategy dfs --timeout 300",
    },
    Proof {
        name: "3 nodes, 2 proposers, 3 rounds",
        args: "check --rounds 3 --strategy dfs --timeout 1800",
    },
];

const SHORTCUTS: &[Proof] = &[
    Proof {
        name: "shortcuts: two writes in a row and a reader",
        args: "check --mode register --ops put:a,put:b;read --fast all --strategy dfs --timeout 600",
    },
    Proof {
        name: "shortcuts: the home crashes, non-duplicating network",
        args: "check --mode register --ops put:a,put:b --fast all --crashes 1 --crash-nodes 1 --network nonduplicating --strategy dfs --timeout 600",
    },
    Proof {
        name: "shortcuts: a retrying writer and a competing CAS",
        args: "check --mode register --ops put:a,put:b;cas:-:c --rounds 2,1 --fast all --strategy dfs --timeout 600",
    },
    Proof {
        name: "shortcuts: 5 nodes, a competing proposer",
        args: "check --nodes 5 --mode register --ops put:a,cas:a:b;cas:a:c --fast all --strategy dfs --timeout 600",
    },
];

const MEMBERSHIP: &[Proof] = &[
    Proof {
        name: "membership: replace a crashed member, a writer (timers, lagging nodes)",
        args: "membership --scenario replace-crashed --clients 1 --strategy dfs --timeout 600",
    },
    Proof {
        name: "membership: replace a crashed member, a writer and a reader, timers",
        args: "membership --scenario replace-crashed --no-lagging --change-after-first-write --strategy dfs --timeout 900",
    },
    Proof {
        name: "membership: replace a crashed member, a writer and a reader (everything)",
        args: "membership --scenario replace-crashed --strategy dfs --timeout 3600",
    },
];

const CI: &[Proof] = &[
    Proof {
        name: "3 nodes, 2 proposers, 1 round",
        args: "check --timeout 300",
    },
    Proof {
        name: "3 nodes, 2 proposers, 1 crash, lossy",
        args: "check --crashes 1 --lossy --timeout 300",
    },
    Proof {
        name: "3 nodes, 2 proposers, one retry each",
        args: "check --rounds 2 --strategy dfs --timeout 300",
    },
    Proof {
        name: "5 nodes, 2 proposers, 1 round",
        args: "check --nodes 5 --strategy dfs --timeout 300",
    },
    Proof {
        name: "register, clients put:a / cas:-:b",
        args: "check --mode register --timeout 300",
    },
    Proof {
        name: "register, ordered network",
        args: "check --mode register --network ordered --timeout 300",
    },
    Proof {
        name: "register, a retried propose-once racing a put",
        args: "check --mode register --ops once:a;put:b --rounds 2,1 --strategy dfs --timeout 300",
    },
    Proof {
        name: "shortcuts: two writes in a row",
        args: "check --mode register --ops put:a,put:b --fast all --timeout 300",
    },
    Proof {
        name: "membership: grow 3 → 4, a writer and a racing proposer",
        args: "membership --scenario grow --timeout 300",
    },
    Proof {
        name: "membership: replace a crashed member, a writer and a reader",
        args: "membership --scenario replace-crashed --no-timeouts --no-lagging --change-after-first-write --timeout 300",
    },
];

/// The proofs of `preset`, in the order they run.
pub fn proofs(preset: Preset) -> Vec<Proof> {
    match preset {
        Preset::FiveNodes => FIVE_NODES.to_vec(),
        Preset::Shortcuts => SHORTCUTS.to_vec(),
        Preset::Ci => CI.to_vec(),
        Preset::Membership => MEMBERSHIP.to_vec(),
        Preset::All => FIVE_NODES
            .iter()
            .chain(SHORTCUTS)
            .chain(MEMBERSHIP)
            .copied()
            .collect(),
    }
}

/// The exit code of a preset from its proofs' codes (0 PASS, 1 FAIL, 2 INCOMPLETE, 3 bad
/// arguments): a bad entry is an error; otherwise any FAIL is a FAIL, and any INCOMPLETE makes
/// the preset INCOMPLETE.
pub fn combined_exit_code(codes: &[u8]) -> u8 {
    if codes.contains(&3) {
        3
    } else if codes.contains(&1) {
        1
    } else if codes.iter().any(|&c| c != 0) {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_failure_fails_and_any_unfinished_proof_is_incomplete() {
        assert_eq!(combined_exit_code(&[0, 0]), 0);
        assert_eq!(combined_exit_code(&[0, 2, 1]), 1);
        assert_eq!(combined_exit_code(&[0, 2]), 2);
        assert_eq!(combined_exit_code(&[1, 3]), 3);
    }

    #[test]
    fn all_is_every_proof_once() {
        let all = proofs(Preset::All);
        assert_eq!(
            all.len(),
            FIVE_NODES.len() + SHORTCUTS.len() + MEMBERSHIP.len()
        );
        let names: std::collections::BTreeSet<_> = all.iter().map(|p| p.name).collect();
        assert_eq!(names.len(), all.len());
    }
}
