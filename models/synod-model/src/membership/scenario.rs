//! What a membership check explores: the change (grow 3 → 4, or replace a crashed member), the
//! clients' scripts, the retry bound, and an optional buggy double that must FAIL.

use crate::config::node_id;
use crate::value::Value;
use clap::ValueEnum;
use synod_core::{plan, ClusterSpec, Configuration, NodeSet, Operation, Step};

/// The membership change to explore.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum Scenario {
    /// `{1,2,3}` → `{1,2,3,4}`: a writer (`put:a` at node 1) and a racing second proposer
    /// (`put:b` at node 2) while node 4 joins.
    Grow,
    /// `{1,2,3}` → `{1,2,4}`: node 3 may crash for good at any time and is replaced by node 4
    /// (add 4, catch up, remove 3); a writer (`put:a` at node 1) and a reader (`read` at node 2).
    ReplaceCrashed,
}

impl Scenario {
    /// The name used on the command line and in trace file names.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Grow => "grow",
            Scenario::ReplaceCrashed => "replace-crashed",
        }
    }
}

/// A buggy double of the membership change, which the check must FAIL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum)]
pub enum MembershipBug {
    /// The admin installs the step after a catch-up without running the catch-up: the new
    /// quorums are used before every register was re-written through the old ones.
    SkipCatchUp,
    /// Node 1 installs each new generation and its sets but keeps counting votes with the
    /// quorum sizes of generation 0.
    KeepOldQuorums,
}

impl MembershipBug {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            MembershipBug::SkipCatchUp => "skip-catch-up",
            MembershipBug::KeepOldQuorums => "keep-old-quorums",
        }
    }
}

/// A membership check's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MembershipConfig {
    /// The change.
    pub scenario: Scenario,
    /// Rounds (attempts) per request.
    pub rounds: u32,
    /// The double, if any.
    pub bug: Option<MembershipBug>,
    /// How many of the scenario's clients take part (the first ones).
    pub clients: usize,
    /// Whether round timers fire (a round otherwise ends by a rejection or an install).
    pub timeouts: bool,
    /// Whether the admin may start a step while some live node has not installed the current
    /// one (nodes then lag behind by more than one generation, and catch up from `Stale`).
    pub lagging: bool,
    /// Whether the admin starts the change only once client 0's first operation was answered
    /// (a narrower space in which a value is chosen in generation 0 before any step).
    pub change_after_first_write: bool,
    /// Whether the check normalizes states ([`super::reduction`]); off, every reachable state
    /// is explored as the nodes hold it.
    pub reduce: bool,
    /// Whether the check delivers a quorum's votes in one action ([`super::quorum`]; only with
    /// `reduce`).
    pub quorum_transitions: bool,
}

impl MembershipConfig {
    /// `scenario` with the correct protocol and one round per request.
    pub fn new(scenario: Scenario) -> Self {
        MembershipConfig {
            scenario,
            rounds: 1,
            bug: None,
            clients: 2,
            timeouts: true,
            lagging: true,
            change_after_first_write: false,
            reduce: true,
            quorum_transitions: true,
        }
    }

    /// Nodes in the model (members at start, and the one that joins).
    pub fn nodes(&self) -> usize {
        4
    }

    /// The members at start.
    pub fn initial_members(&self) -> NodeSet {
        (0..3).map(node_id).collect()
    }

    /// The members at the end.
    pub fn target_members(&self) -> NodeSet {
        match self.scenario {
            Scenario::Grow => (0..4).map(node_id).collect(),
            Scenario::ReplaceCrashed => [0, 1, 3].into_iter().map(node_id).collect(),
        }
    }

    /// The cluster at start: members, majority quorums, the retry bound.
    pub fn cluster(&self) -> ClusterSpec {
        ClusterSpec::new(self.initial_members().iter())
            .and_then(|c| c.with_max_attempts(self.rounds))
            .expect("the model's cluster is valid")
    }

    /// Generation 0 and the plan's steps: `configurations()[g]` is generation `g`.
    pub fn configurations(&self) -> (Vec<Configuration>, Vec<Step>) {
        let cluster = self.cluster();
        let initial = Configuration::initial(cluster.members(), cluster.quorums());
        let steps = plan(initial, self.target_members()).expect("the model's change is valid");
        let mut all = vec![initial];
        all.extend(steps.iter().map(|s| s.configuration));
        (all, steps)
    }

    /// Client `i`'s script (client `i` talks to node `i`).
    pub fn scripts(&self) -> Vec<Vec<Operation<Value>>> {
        let mut scripts = match self.scenario {
            Scenario::Grow => vec![vec![Operation::Put('a')], vec![Operation::Put('b')]],
            Scenario::ReplaceCrashed => vec![vec![Operation::Put('a')], vec![Operation::Read]],
        };
        scripts.truncate(self.clients);
        scripts
    }

    /// The node (index) that may crash, once and for good.
    pub fn crashable(&self) -> Option<usize> {
        match self.scenario {
            Scenario::Grow => None,
            Scenario::ReplaceCrashed => Some(2),
        }
    }

    /// The node (index) the admin sends a catch-up `Read` to: the joining node, which serves no
    /// client and never crashes.
    pub fn catch_up_node(&self) -> usize {
        3
    }

    /// A one-line description for reports.
    pub fn describe(&self) -> String {
        let change = match self.scenario {
            Scenario::Grow => "membership: grow 3 → 4",
            Scenario::ReplaceCrashed => "membership: replace crashed node 3 by 4",
        };
        let clients: Vec<String> = self
            .scripts()
            .iter()
            .enumerate()
            .map(|(c, ops)| {
                let ops: Vec<String> = ops.iter().map(crate::script::format_op).collect();
                format!("client {c}: {}", ops.join(","))
            })
            .collect();
        let change = if clients.is_empty() {
            format!("{change} (no clients)")
        } else {
            format!("{change} ({})", clients.join("; "))
        };
        let bug = self
            .bug
            .map_or(String::new(), |b| format!(" [bug {}]", b.name()));
        let narrowed: String = [
            (!self.timeouts, ", no timers"),
            (!self.lagging, ", no lagging nodes"),
            (
                self.change_after_first_write,
                ", change after the first write",
            ),
            (!self.reduce, ", no reductions"),
            (
                self.reduce && !self.quorum_transitions,
                ", no quorum transitions",
            ),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, text)| *text)
        .collect();
        format!("{change}, {} round(s){narrowed}{bug}", self.rounds)
    }
}
