//! What a model check explores: cluster size, who proposes or which clients send which
//! operations, the retry bound, the network, crashes and quorums.
//!
//! A [`ModelConfig`] is validated once, by [`ModelConfig::validate`], before any actor is built;
//! every error is a [`ConfigError`] value, never a panic.

use std::fmt;
use synod_core::{ClusterSpec, Config, FastPaths, NodeId, Operation};
use thiserror::Error;

pub use crate::value::Value;

/// The kind of network the actors talk over (stateright's three network semantics).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NetworkKind {
    /// Unordered, and a sent message may be delivered any number of times (TLA+'s message set).
    UnorderedDuplicating,
    /// Unordered, each sent message delivered at most once.
    UnorderedNonDuplicating,
    /// Per-channel FIFO, each message delivered at most once.
    Ordered,
}

impl fmt::Display for NetworkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NetworkKind::UnorderedDuplicating => "unordered-duplicating",
            NetworkKind::UnorderedNonDuplicating => "unordered-nonduplicating",
            NetworkKind::Ordered => "ordered",
        })
    }
}

/// What the clients do.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The seed's protocol: the first `proposers` nodes each run `ProposeOnce` of their own
    /// value (`'a'`, `'b'`, …) from the start.
    Consensus {
        /// How many nodes propose.
        proposers: usize,
    },
    /// The CASPaxos register: client `i` sits next to node `i` and sends it `scripts[i]`, one
    /// operation at a time, each after the previous one was answered.
    Register {
        /// One operation list per client.
        scripts: Vec<Vec<Operation<Value>>>,
    },
}

/// A model check's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ModelConfig {
    /// Cluster size (3 to 7).
    pub nodes: usize,
    /// Who asks for what.
    pub mode: Mode,
    /// Rounds (attempts) per request: the retry bound.
    pub rounds: u32,
    /// Per-node overrides of `rounds`: node index `i < len` runs each request for
    /// `rounds_by_node[i]` rounds (so one client can retry while the others do not, which keeps
    /// multi-client retry configurations small enough to exhaust). Empty: `rounds` everywhere.
    pub rounds_by_node: Vec<u32>,
    /// Network semantics.
    pub network: NetworkKind,
    /// Whether the network may lose messages.
    pub lossy: bool,
    /// The crash budget: at most this many node crashes in a whole run (each may be followed by
    /// a restart from durable state).
    pub crashes: usize,
    /// The nodes that may crash (node indices, 0-based); empty: every node. Naming them explores
    /// fewer behaviours — a restriction, never a loss of soundness for what it explores — and
    /// lets the other nodes count as never restarting from the start, which the normalization
    /// needs to drop dead messages (see `model.rs`).
    pub crashable: Vec<usize>,
    /// Accept quorum sizes that do not intersect (`q1 + q2 ≤ n`): **unsafe**, to show what
    /// breaks without the rule (`--allow-unsafe-quorums`); refused otherwise.
    pub unsafe_quorums: bool,
    /// Phase-1 quorum size (majority if `None`).
    pub q1: Option<usize>,
    /// Phase-2 quorum size (majority if `None`).
    pub q2: Option<usize>,
    /// The one-round-trip shortcuts the proposers take (issue 13): [`FastPaths::NONE`] for the
    /// classic two-phase rounds.
    pub fast: FastPaths,
}

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// Cluster size outside 3..=7.
    #[error("nodes must be between 3 and 7, got {0}")]
    Nodes(usize),
    /// More proposers or clients than nodes, or none at all.
    #[error("need between 1 and {nodes} proposers/clients, got {got}")]
    Proposers {
        /// Cluster size.
        nodes: usize,
        /// Requested count.
        got: usize,
    },
    /// A client without operations, or with more than the model can number.
    #[error("client {client} needs between 1 and {max} operations")]
    Script {
        /// The client (0-based).
        client: usize,
        /// The limit.
        max: usize,
    },
    /// The core refused the node configuration (bad quorums, zero rounds).
    #[error(transparent)]
    Core(#[from] synod_core::ConfigError),
    /// A node that may crash is not a member.
    #[error("node {node} may not crash: the nodes are 1 to {nodes}")]
    Crashable {
        /// The node id given.
        node: usize,
        /// Cluster size.
        nodes: usize,
    },
    /// More simultaneous crashes than nodes.
    #[error("crashes ({crashes}) must be below the node count ({nodes})")]
    Crashes {
        /// Requested crashes.
        crashes: usize,
        /// Cluster size.
        nodes: usize,
    },
}

/// The most operations one client may send (request ids pack client and sequence number).
pub const MAX_SCRIPT_LEN: usize = 8;

impl ModelConfig {
    /// The CI-sized consensus configuration: 3 nodes, 2 proposers, one round each, duplicating
    /// lossless network, no crashes, majority quorums.
    pub fn consensus(nodes: usize, proposers: usize, rounds: u32) -> Self {
        ModelConfig {
            nodes,
            mode: Mode::Consensus { proposers },
            rounds,
            rounds_by_node: Vec::new(),
            network: NetworkKind::UnorderedDuplicating,
            lossy: false,
            crashes: 0,
            crashable: Vec::new(),
            unsafe_quorums: false,
            q1: None,
            q2: None,
            fast: FastPaths::NONE,
        }
    }

    /// The same configuration with proposers taking the shortcuts in `fast`.
    pub fn with_fast(self, fast: FastPaths) -> Self {
        ModelConfig { fast, ..self }
    }

    /// Whether any one-round-trip shortcut is on.
    pub fn is_fast(&self) -> bool {
        self.fast != FastPaths::NONE
    }

    /// A register configuration with the given client scripts.
    pub fn register(nodes: usize, scripts: Vec<Vec<Operation<Value>>>, rounds: u32) -> Self {
        ModelConfig {
            mode: Mode::Register { scripts },
            ..Self::consensus(nodes, 1, rounds)
        }
    }

    /// Checks everything once, so that building the model cannot fail afterwards.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(3..=7).contains(&self.nodes) {
            return Err(ConfigError::Nodes(self.nodes));
        }
        let actors = self.proposer_count();
        if actors == 0 || actors > self.nodes {
            return Err(ConfigError::Proposers {
                nodes: self.nodes,
                got: actors,
            });
        }
        if let Mode::Register { scripts } = &self.mode {
            // An empty script is an idle client (so that trace checking can place clients at
            // any node); at least one client must have something to do.
            let idle = scripts.iter().all(|s| s.is_empty());
            for (client, script) in scripts.iter().enumerate() {
                if (idle && script.is_empty()) || script.len() > MAX_SCRIPT_LEN {
                    return Err(ConfigError::Script {
                        client,
                        max: MAX_SCRIPT_LEN,
                    });
                }
            }
        }
        if let Some(&node) = self.crashable.iter().find(|&&i| i >= self.nodes) {
            return Err(ConfigError::Crashable {
                node: node.wrapping_add(1),
                nodes: self.nodes,
            });
        }
        if self.crashes >= self.nodes {
            return Err(ConfigError::Crashes {
                crashes: self.crashes,
                nodes: self.nodes,
            });
        }
        for i in 0..self.nodes {
            self.node_config(i)?;
        }
        Ok(())
    }

    /// How many nodes receive requests (proposers, or nodes with a client).
    pub fn proposer_count(&self) -> usize {
        match &self.mode {
            Mode::Consensus { proposers } => *proposers,
            Mode::Register { scripts } => scripts.len(),
        }
    }

    /// How many client actors the model has (none in consensus mode).
    pub fn client_count(&self) -> usize {
        match &self.mode {
            Mode::Consensus { .. } => 0,
            Mode::Register { scripts } => scripts.len(),
        }
    }

    /// Whether this is register mode.
    pub fn is_register(&self) -> bool {
        matches!(self.mode, Mode::Register { .. })
    }

    /// Member ids: node index `i` is `NodeId(i + 1)` (the seed's a, b, c… are 1, 2, 3…).
    pub fn members(&self) -> Vec<NodeId> {
        (0..self.nodes).map(node_id).collect()
    }

    /// The core configuration of node index `i`.
    pub fn node_config(&self, i: usize) -> Result<Config, ConfigError> {
        let spec = ClusterSpec::new(self.members())?;
        let spec = if self.unsafe_quorums {
            spec.with_unsafe_quorums(self.q1(), self.q2())?
        } else {
            spec.with_quorums_or_majority(self.q1, self.q2)?
        };
        Ok(spec
            .with_max_attempts(self.rounds_of(i))?
            .with_fast_paths(self.fast)
            .node(node_id(i))?)
    }

    /// The rounds per request of node index `i`.
    pub fn rounds_of(&self, i: usize) -> u32 {
        self.rounds_by_node.get(i).copied().unwrap_or(self.rounds)
    }

    /// Whether loss is explored as explicit `Drop` steps. On a duplicating network it is not:
    /// not delivering a message (ever again) already *is* losing it, so drops add states but no
    /// reachable node state; `lossy` is then subsumed, and the report says so.
    pub fn explores_drops(&self) -> bool {
        self.lossy && self.network != NetworkKind::UnorderedDuplicating
    }

    /// Whether node index `i` may crash (within the crash budget).
    pub fn may_crash(&self, i: usize) -> bool {
        self.crashes > 0 && (self.crashable.is_empty() || self.crashable.contains(&i))
    }

    /// The phase-2 quorum size in effect.
    pub fn q2(&self) -> usize {
        self.q2.unwrap_or(synod_core::majority(self.nodes))
    }

    /// The phase-1 quorum size in effect.
    pub fn q1(&self) -> usize {
        self.q1.unwrap_or(synod_core::majority(self.nodes))
    }

    /// The value proposer `i` proposes in consensus mode: `'a'`, `'b'`, ….
    pub fn proposal_of(i: usize) -> Value {
        (b'a' + i as u8) as char
    }

    /// Whether `value` may legitimately be accepted: proposed by somebody (validity).
    pub fn is_proposed(&self, value: &Option<Value>) -> bool {
        match (&self.mode, value) {
            (Mode::Consensus { proposers }, Some(v)) => {
                (0..*proposers).any(|i| Self::proposal_of(i) == *v)
            }
            (Mode::Consensus { .. }, None) => false,
            // The empty register is the initial value, so `None` is always valid.
            (Mode::Register { .. }, None) => true,
            (Mode::Register { scripts }, Some(v)) => scripts.iter().flatten().any(|op| match op {
                Operation::ProposeOnce(w) | Operation::Put(w) => w == v,
                Operation::Cas { new, .. } => new == v,
                Operation::Delete | Operation::Read => false,
            }),
        }
    }
}

/// The name of a [`FastPaths`] setting, as the CLI spells it: `none`, `writes`, `reads`, `all`.
pub fn fast_name(fast: FastPaths) -> &'static str {
    match (fast.writes, fast.reads) {
        (false, false) => "none",
        (true, false) => "writes",
        (false, true) => "reads",
        (true, true) => "all",
    }
}

/// The core id of node index `i`.
pub fn node_id(i: usize) -> NodeId {
    NodeId(i as u8 + 1)
}

impl fmt::Display for ModelConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nodes      {}", self.nodes)?;
        match &self.mode {
            Mode::Consensus { proposers } => {
                let values: Vec<String> = (0..*proposers)
                    .map(|i| format!("n{} proposes '{}'", i + 1, Self::proposal_of(i)))
                    .collect();
                writeln!(f, "mode       consensus ({})", values.join(", "))?;
            }
            Mode::Register { scripts } => {
                writeln!(f, "mode       register")?;
                for (i, s) in scripts.iter().enumerate() {
                    let ops: Vec<String> = s.iter().map(crate::script::format_op).collect();
                    writeln!(f, "client {}   → n{}: {}", i + 1, i + 1, ops.join(", "))?;
                }
            }
        }
        if self.rounds_by_node.is_empty() {
            writeln!(f, "rounds     {} per request", self.rounds)?;
        } else {
            let per_node: Vec<String> = (0..self.nodes)
                .map(|i| format!("n{} {}", i + 1, self.rounds_of(i)))
                .collect();
            writeln!(f, "rounds     per request: {}", per_node.join(", "))?;
        }
        let loss = match (self.lossy, self.explores_drops()) {
            (false, _) => "",
            (true, true) => ", lossy",
            (true, false) => {
                ", lossy (subsumed: an undelivered duplicate-network message is a lost one)"
            }
        };
        writeln!(f, "network    {}{loss}", self.network)?;
        let which = if self.crashable.is_empty() || self.crashes == 0 {
            String::new()
        } else {
            let ids: Vec<String> = self
                .crashable
                .iter()
                .map(|i| format!("n{}", i + 1))
                .collect();
            format!(", only {}", ids.join(", "))
        };
        writeln!(
            f,
            "crashes    at most {} in a run (restart from durable state){which}",
            self.crashes
        )?;
        let unsafe_note = if self.q1() + self.q2() <= self.nodes {
            " (UNSAFE: q1 + q2 does not exceed the cluster size; allowed by --allow-unsafe-quorums)"
        } else {
            ""
        };
        writeln!(
            f,
            "quorums    q1={} q2={}{unsafe_note}",
            self.q1(),
            self.q2()
        )?;
        let fast = match fast_name(self.fast) {
            "none" => "none (classic two-phase rounds)",
            "writes" => "writes (one-round-trip writes)",
            "reads" => "reads (one-round-trip reads)",
            _ => "all (one-round-trip writes and reads)",
        };
        write!(f, "fast       {fast}")
    }
}
