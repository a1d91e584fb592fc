//! The trace vocabulary: serde types of a trace file, shared by the model (which exports and
//! validates traces) and the server (which replays them as regression tests).
//!
//! A trace is a cluster configuration and an ordered list of steps — `Request`, `Deliver`,
//! `Drop`, `Timeout`, `Crash`, `Restart` — each optionally followed by an expectation: the exact
//! outputs the step must produce and a snapshot of chosen nodes' state after it. Files are JSON
//! with values as strings; `docs/traces.md` documents the format with an annotated example.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synod_core::{
    Ballot, ClusterSpec, Config, ConfigError, Configuration, FastPaths, MembershipError, Message,
    Node, NodeId, NodeSet, Operation, Output, Proposal, RequestId, Timer,
};
use thiserror::Error;

/// The version written into every trace file; readers refuse any other.
pub const TRACE_FORMAT_VERSION: u32 = 1;

/// A whole trace file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trace<V> {
    /// Must equal [`TRACE_FORMAT_VERSION`].
    pub version: u32,
    /// A short unique name (the file's stem).
    pub name: String,
    /// What the trace shows, for the reviewer.
    #[serde(default)]
    pub description: String,
    /// The cluster it runs on.
    pub config: TraceConfig,
    /// The steps, in order.
    pub steps: Vec<TraceStep<V>>,
}

/// The cluster a trace runs on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfig {
    /// Member ids.
    pub nodes: Vec<NodeId>,
    /// Phase-1 quorum size.
    pub q1: usize,
    /// Phase-2 quorum size.
    pub q2: usize,
    /// Rounds per request.
    pub max_attempts: u32,
    /// Per-member overrides of `max_attempts`, in the order of `nodes` (members past its end use
    /// `max_attempts`); absent when every member runs the same number of rounds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts_by_node: Vec<u32>,
    /// The one-round-trip shortcuts the proposers take (`{"writes":…,"reads":…}`); absent for
    /// classic rounds ([`FastPaths::NONE`]), so files written before the shortcuts read unchanged
    /// and a classic trace is written without it.
    #[serde(default, with = "FastPathsDef", skip_serializing_if = "is_classic")]
    pub fast: FastPaths,
}

/// The serde shape of [`FastPaths`] in a trace file (the core type serializes the same fields but
/// does not deserialize).
#[derive(Serialize, Deserialize)]
#[serde(remote = "FastPaths", deny_unknown_fields)]
struct FastPathsDef {
    #[serde(default)]
    writes: bool,
    #[serde(default)]
    reads: bool,
}

fn is_classic(fast: &FastPaths) -> bool {
    *fast == FastPaths::NONE
}

impl TraceConfig {
    /// The core configuration of member `id` (validated like any other configuration).
    pub fn node_config(&self, id: NodeId) -> Result<Config, ConfigError> {
        self.spec_of(id)?.node(id)
    }

    /// The cluster as member `id` runs it: with its own attempt limit (`attempts_by_node`).
    pub fn spec_of(&self, id: NodeId) -> Result<ClusterSpec, ConfigError> {
        let attempts = self
            .nodes
            .iter()
            .position(|n| *n == id)
            .and_then(|i| self.attempts_by_node.get(i))
            .copied()
            .unwrap_or(self.max_attempts);
        self.spec()?.with_max_attempts(attempts)
    }

    /// The cluster, validated (every member with `max_attempts`, proposers taking the shortcuts
    /// in `fast`).
    pub fn spec(&self) -> Result<ClusterSpec, ConfigError> {
        Ok(ClusterSpec::new(self.nodes.iter().copied())?
            .with_quorums(self.q1, self.q2)?
            .with_max_attempts(self.max_attempts)?
            .with_fast_paths(self.fast))
    }
}

/// One step of a trace, with what must hold after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(bound(deserialize = "V: Deserialize<'de>"))]
pub struct TraceStep<V> {
    /// What happens.
    #[serde(flatten)]
    pub step: Step<V>,
    /// A comment for the reader (e.g. the seed's "T4").
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
    /// What must hold after the step, if anything is checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expectation<V>>,
}

/// What happens in one step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step<V> {
    /// A client asks `node` to run `op`.
    Request {
        /// The node asked.
        node: NodeId,
        /// The request's id.
        request: RequestId,
        /// The operation.
        op: Operation<V>,
    },
    /// A message in flight from `from` reaches `to`.
    Deliver {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// The message.
        msg: Message<V>,
    },
    /// A message in flight from `from` to `to` is lost.
    Drop {
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// The message.
        msg: Message<V>,
    },
    /// `timer` fires at `node`.
    Timeout {
        /// The node.
        node: NodeId,
        /// Which timer.
        timer: Timer,
    },
    /// `node` crashes: its volatile state is gone, its persisted acceptor state stays.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// `node` restarts from its persisted state.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// A membership change installs `configuration` on `node` (made durable first, then
    /// `Input::Install`). A node that has not run yet joins the cluster with it: it starts
    /// empty in that configuration.
    Install {
        /// The node.
        node: NodeId,
        /// The configuration installed.
        configuration: TraceConfiguration,
    },
}

/// A configuration of a membership change as a trace file spells it: member lists rather than
/// the core's bit sets, validated like any other configuration when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TraceConfiguration {
    /// Its generation (0 is the cluster at start).
    pub generation: u64,
    /// The prepare set.
    pub prepare: Vec<NodeId>,
    /// Promises from the prepare set needed for phase 1.
    pub q1: usize,
    /// The accept set.
    pub accept: Vec<NodeId>,
    /// Acceptances from the accept set needed to choose.
    pub q2: usize,
}

impl TraceConfiguration {
    /// The core configuration, validated: ids in range and listed once, quorums that meet.
    pub fn configuration(&self) -> Result<Configuration, String> {
        let set = |ids: &[NodeId]| -> Result<NodeSet, String> {
            let mut set = NodeSet::EMPTY;
            for id in ids {
                if id.0 >= NodeId::LIMIT {
                    return Err(format!(
                        "node id {id} is out of range (ids must be below {})",
                        NodeId::LIMIT
                    ));
                }
                if !set.insert(*id) {
                    return Err(format!("node id {id} is listed twice"));
                }
            }
            Ok(set)
        };
        Configuration::new(
            self.generation,
            set(&self.prepare)?,
            self.q1,
            set(&self.accept)?,
            self.q2,
        )
        .map_err(|e: MembershipError| e.to_string())
    }
}

impl From<&Configuration> for TraceConfiguration {
    fn from(c: &Configuration) -> Self {
        TraceConfiguration {
            generation: c.generation(),
            prepare: c.prepare().iter().collect(),
            q1: c.q1(),
            accept: c.accept().iter().collect(),
            q2: c.q2(),
        }
    }
}

/// What must hold after a step. Absent parts are not checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound(deserialize = "V: Deserialize<'de>"))]
pub struct Expectation<V> {
    /// The step's outputs, exactly and in order (messages sent, persists, replies, timers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outputs: Option<Vec<Output<V>>>,
    /// The state of these nodes after the step.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nodes: BTreeMap<NodeId, NodeState<V>>,
}

/// A snapshot of one node's protocol state, as checked by an expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeState<V> {
    /// The acceptor's promise.
    pub promised: Ballot,
    /// The acceptor's accepted proposal.
    pub accepted: Option<Proposal<V>>,
    /// What the learner knows to be chosen.
    pub learned: Option<Proposal<V>>,
}

impl<V: Clone + PartialEq> NodeState<V> {
    /// The snapshot of a running node.
    pub fn of(node: &Node<V>) -> Self {
        let acceptor = node.acceptor_state();
        NodeState {
            promised: acceptor.promised,
            accepted: acceptor.accepted.clone(),
            learned: node.learned().cloned(),
        }
    }
}

impl<V> NodeState<V> {
    /// The same snapshot with its values mapped (like the core types' `map_value`).
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> NodeState<W> {
        NodeState {
            promised: self.promised,
            accepted: self.accepted.map(|p| p.map_value(f)),
            learned: self.learned.map(|p| p.map_value(f)),
        }
    }
}

/// Where a replay of a trace (in the model, or on the production replica) first differed from
/// the trace: the trace, the step, what was compared, expected and actual.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The trace's name.
    pub trace: String,
    /// The step's index (0-based).
    pub step: usize,
    /// The step's note, if any.
    pub note: String,
    /// What was compared.
    pub what: String,
    /// What the trace says.
    pub expected: String,
    /// What the replay did.
    pub actual: String,
}

impl Divergence {
    /// A divergence at `step` of `trace` (its name and the step's note are filled in).
    pub fn at<V>(
        trace: &Trace<V>,
        step: usize,
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Divergence {
            trace: trace.name.clone(),
            step,
            note: trace
                .steps
                .get(step)
                .map(|s| s.note.clone())
                .unwrap_or_default(),
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let note = if self.note.is_empty() {
            String::new()
        } else {
            format!(" ({})", self.note)
        };
        write!(
            f,
            "trace {} diverges at step {}{note}: {}\n  expected: {}\n  actual:   {}",
            self.trace, self.step, self.what, self.expected, self.actual
        )
    }
}

/// Why a trace file could not be read.
#[derive(Debug, Error)]
pub enum TraceError {
    /// Not valid JSON, or not a trace.
    #[error("not a valid trace file: {0}")]
    Malformed(#[from] serde_json::Error),
    /// Written by another version of the format.
    #[error("trace format version {found} is not supported (this build reads version {TRACE_FORMAT_VERSION})")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
    },
    /// The cluster configuration is invalid.
    #[error("invalid cluster configuration in trace: {0}")]
    Config(#[from] ConfigError),
    /// An `Install` step's configuration is invalid, or installs it on a node that neither runs
    /// nor joins with it.
    #[error("step {step}: invalid membership change: {detail}")]
    Install {
        /// The step's index.
        step: usize,
        /// Why.
        detail: String,
    },
}

impl<V> Trace<V> {
    /// The index of the first step whose note starts with `label` (e.g. the seed's "T4").
    pub fn step_labelled(&self, label: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.note.starts_with(label))
    }
}

impl<V> Trace<V>
where
    V: Clone + PartialEq + Serialize + for<'de> Deserialize<'de>,
{
    /// Parses and validates a trace file's text.
    pub fn from_json(text: &str) -> Result<Self, TraceError> {
        let trace: Trace<V> = serde_json::from_str(text)?;
        if trace.version != TRACE_FORMAT_VERSION {
            return Err(TraceError::UnsupportedVersion {
                found: trace.version,
            });
        }
        for id in &trace.config.nodes {
            trace.config.node_config(*id)?;
        }
        for (step, s) in trace.steps.iter().enumerate() {
            if let Step::Install {
                node,
                configuration,
            } = &s.step
            {
                let c = configuration
                    .configuration()
                    .map_err(|detail| TraceError::Install { step, detail })?;
                if c.generation() == 0 {
                    return Err(TraceError::Install {
                        step,
                        detail: "generation 0 is the cluster at start, never installed".into(),
                    });
                }
                if !trace.config.nodes.contains(node) && !c.members().contains(*node) {
                    return Err(TraceError::Install {
                        step,
                        detail: format!(
                            "n{node} is not a member of the cluster and does not join it with generation {}",
                            c.generation()
                        ),
                    });
                }
            }
        }
        Ok(trace)
    }

    /// The canonical text of the trace: one JSON document with the header fields first and
    /// **one step per line**, so files are deterministic and diff cleanly step by step.
    pub fn to_json(&self) -> String {
        let compact = |v: &dyn erased::Json| v.json();
        let mut text = String::from("{\n");
        text += &format!("  \"version\": {},\n", self.version);
        text += &format!("  \"name\": {},\n", compact(&self.name));
        text += &format!("  \"description\": {},\n", compact(&self.description));
        text += &format!("  \"config\": {},\n", compact(&self.config));
        text += "  \"steps\": [";
        for (i, step) in self.steps.iter().enumerate() {
            text += if i == 0 { "\n    " } else { ",\n    " };
            text += &compact(step);
        }
        text += if self.steps.is_empty() {
            "]\n}\n"
        } else {
            "\n  ]\n}\n"
        };
        text
    }
}

/// Compact JSON of any serializable value (a tiny object-safe shim for [`Trace::to_json`]).
mod erased {
    pub trait Json {
        fn json(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> String {
            serde_json::to_string(self).expect("trace types always serialize")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{AcceptorState, Outcome};

    fn b(round: u64, node: u8) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    fn sample() -> Trace<String> {
        let prepare = Message::Prepare { ballot: b(1, 1) };
        let mut nodes = BTreeMap::new();
        nodes.insert(
            NodeId(1),
            NodeState {
                promised: b(1, 1),
                accepted: None,
                learned: None,
            },
        );
        Trace {
            version: TRACE_FORMAT_VERSION,
            name: "sample".into(),
            description: "every step kind once".into(),
            config: TraceConfig {
                nodes: vec![NodeId(1), NodeId(2), NodeId(3)],
                q1: 2,
                q2: 2,
                max_attempts: 3,
                attempts_by_node: Vec::new(),
                fast: FastPaths::NONE,
            },
            steps: vec![
                TraceStep {
                    step: Step::Request {
                        node: NodeId(1),
                        request: RequestId(7),
                        op: Operation::ProposeOnce("alice".into()),
                    },
                    note: "T1".into(),
                    expect: Some(Expectation {
                        outputs: Some(vec![
                            Output::SetTimer {
                                timer: Timer::Round,
                                attempt: 1,
                            },
                            Output::Persist(AcceptorState {
                                promised: b(1, 1),
                                accepted: None,
                            }),
                            Output::Broadcast {
                                msg: prepare.clone(),
                            },
                        ]),
                        nodes,
                    }),
                },
                TraceStep {
                    step: Step::Deliver {
                        from: NodeId(1),
                        to: NodeId(2),
                        msg: prepare.clone(),
                    },
                    note: String::new(),
                    expect: None,
                },
                TraceStep {
                    step: Step::Drop {
                        from: NodeId(1),
                        to: NodeId(3),
                        msg: prepare,
                    },
                    note: String::new(),
                    expect: Some(Expectation {
                        outputs: Some(vec![Output::Reply {
                            request: RequestId(7),
                            result: Ok(Outcome::Chosen {
                                value: "alice".into(),
                                won: true,
                            }),
                        }]),
                        nodes: BTreeMap::new(),
                    }),
                },
                TraceStep {
                    step: Step::Timeout {
                        node: NodeId(1),
                        timer: Timer::Backoff,
                    },
                    note: String::new(),
                    expect: None,
                },
                TraceStep {
                    step: Step::Crash { node: NodeId(2) },
                    note: String::new(),
                    expect: None,
                },
                TraceStep {
                    step: Step::Restart { node: NodeId(2) },
                    note: String::new(),
                    expect: None,
                },
                TraceStep {
                    step: Step::Install {
                        node: NodeId(4),
                        configuration: TraceConfiguration {
                            generation: 1,
                            prepare: vec![NodeId(1), NodeId(2), NodeId(3)],
                            q1: 2,
                            accept: vec![NodeId(1), NodeId(2), NodeId(3), NodeId(4)],
                            q2: 3,
                        },
                    },
                    note: String::new(),
                    expect: None,
                },
            ],
        }
    }

    #[test]
    fn an_install_step_is_validated_when_read() {
        let text = sample().to_json();
        assert!(
            text.contains(
                "{\"step\":\"install\",\"node\":4,\"configuration\":{\"generation\":1,\"prepare\":[1,2,3],\"q1\":2,\"accept\":[1,2,3,4],\"q2\":3}}"
            ),
            "member lists, not bit sets:\n{text}"
        );
        let install = |t: &str| match Trace::<String>::from_json(t) {
            Err(TraceError::Install { step, detail }) => (step, detail),
            other => panic!("expected an Install error, got {other:?}"),
        };
        // Quorums that could miss: two of the prepare set, two of the four accepters.
        let (step, detail) = install(&text.replace("\"q2\":3}", "\"q2\":2}"));
        assert_eq!(step, 6);
        assert!(detail.contains("must exceed"), "{detail}");
        let (_, detail) = install(&text.replace("\"prepare\":[1,2,3]", "\"prepare\":[1,2,2]"));
        assert!(detail.contains("listed twice"), "{detail}");
        let (_, detail) = install(&text.replace("\"generation\":1", "\"generation\":0"));
        assert!(detail.contains("generation 0"), "{detail}");
        // Node 5 neither runs nor is in the configuration it would install.
        let (_, detail) = install(&text.replace("\"node\":4,", "\"node\":5,"));
        assert!(detail.contains("n5 is not a member"), "{detail}");
    }

    #[test]
    fn a_trace_round_trips_through_json() {
        let trace = sample();
        let text = trace.to_json();
        let back = Trace::<String>::from_json(&text).unwrap();
        assert_eq!(back, trace);
        assert_eq!(back.to_json(), text, "canonical text is stable");
        assert!(text.contains("\"step\":\"deliver\""), "{text}");
        assert_eq!(
            text.lines().count(),
            8 + trace.steps.len(),
            "one line per step:\n{text}"
        );
    }

    #[test]
    fn the_fast_paths_are_written_only_when_on_and_reach_the_cluster() {
        let classic = sample();
        let text = classic.to_json();
        assert!(
            !text.contains("\"fast\""),
            "classic traces stay as they were:\n{text}"
        );
        assert_eq!(classic.config.spec().unwrap().fast_paths(), FastPaths::NONE);
        let mut fast = sample();
        fast.config.fast = FastPaths::ALL;
        let text = fast.to_json();
        assert!(
            text.contains("\"fast\":{\"writes\":true,\"reads\":true}"),
            "{text}"
        );
        let back = Trace::<String>::from_json(&text).unwrap();
        assert_eq!(back, fast);
        assert_eq!(back.config.spec().unwrap().fast_paths(), FastPaths::ALL);
        assert_eq!(
            back.config.spec_of(NodeId(2)).unwrap().fast_paths(),
            FastPaths::ALL
        );
        let reads_only = text.replace("\"writes\":true,", "");
        let back = Trace::<String>::from_json(&reads_only).unwrap();
        assert_eq!(
            back.config.fast,
            FastPaths {
                writes: false,
                reads: true
            }
        );
        let unknown = text.replace("\"reads\":true", "\"reeds\":true");
        assert!(Trace::<String>::from_json(&unknown).is_err());
    }

    #[test]
    fn corrupt_or_foreign_files_are_clear_errors() {
        let text = sample().to_json();
        assert!(matches!(
            Trace::<String>::from_json(&text[..text.len() / 2]),
            Err(TraceError::Malformed(_))
        ));
        let future = text.replace("\"version\": 1", "\"version\": 99");
        assert!(matches!(
            Trace::<String>::from_json(&future),
            Err(TraceError::UnsupportedVersion { found: 99 })
        ));
        let bad_quorum = text.replace("\"q2\":2", "\"q2\":1");
        assert!(matches!(
            Trace::<String>::from_json(&bad_quorum),
            Err(TraceError::Config(_))
        ));
        let unknown_step = text.replace("\"step\":\"crash\"", "\"step\":\"explode\"");
        assert!(Trace::<String>::from_json(&unknown_step).is_err());
    }
}
