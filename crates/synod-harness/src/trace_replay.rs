//! Replaying a trace file against production replicas: the regression half of "model-checker
//! paths as test cases".
//!
//! Each trace node becomes a real [`Replica`] with redb storage in its own directory. Every
//! delivered message goes through the wire codec (encode, then decode) before it reaches the
//! replica; `Crash` drops the replica (all volatile state) and `Restart` reopens it from disk. A
//! `Deliver` or `Drop` must name a message that was really sent earlier. After each step the
//! replica's core outputs and node states must equal the trace's expectations; the first
//! difference is reported as a [`Divergence`] naming the trace, the step, expected and actual,
//! in the counterexample notation of docs/model.md ([`synod_check::notation`]).
//!
//! An `Install` step installs a membership change's configuration on a replica
//! ([`Event::Install`]); a node that never ran joins with it ([`Replica::join`]). Messages in
//! flight are what the replicas really sent: a broadcast reaches the members of the sender's
//! configuration at the time.
//!
//! Traces are single-register: every step acts on the key [`TRACE_KEY`].

use bytes::Bytes;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_check::notation;
use synod_check::trace::{
    Divergence, Expectation, NodeState, Step, Trace, TraceConfiguration, TraceError,
};
use synod_core::{Message, NodeId, Output};
use synod_server::wire::{self, Envelope, WireError};
use synod_server::{Event, Metrics, Replica, ReplicaConfig, ReplicaError};
use thiserror::Error;

/// The key a trace's register lives under.
pub const TRACE_KEY: &[u8] = b"trace";

/// Why a replay failed.
#[derive(Debug, Error)]
pub enum ReplayError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not a valid trace.
    #[error("{path}: {source}")]
    Trace {
        /// The file.
        path: PathBuf,
        /// Why.
        source: TraceError,
    },
    /// The production node behaved differently from the trace.
    #[error("{0}")]
    Diverged(Box<Divergence>),
    /// A replica failed (storage) or could not be built.
    #[error("replica error at step {step}: {source}")]
    Replica {
        /// The step.
        step: usize,
        /// Why.
        source: ReplicaError,
    },
    /// A message failed the wire codec.
    #[error("wire codec error at step {step}: {source}")]
    Wire {
        /// The step.
        step: usize,
        /// Why.
        source: WireError,
    },
}

/// Reads, validates and replays the trace file at `path`, with replica data under `workdir`.
pub fn replay_file(path: &Path, workdir: &Path) -> Result<(), ReplayError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReplayError::Read {
        path: path.to_owned(),
        source,
    })?;
    let trace = Trace::<String>::from_json(&text).map_err(|source| ReplayError::Trace {
        path: path.to_owned(),
        source,
    })?;
    replay(&trace, workdir)
}

fn to_bytes(s: String) -> Bytes {
    Bytes::from(s.into_bytes())
}

fn to_string(b: Bytes) -> String {
    String::from_utf8_lossy(&b).into_owned()
}

/// A cluster of replicas being driven through a trace.
struct Replay<'t> {
    trace: &'t Trace<String>,
    workdir: PathBuf,
    replicas: Vec<(NodeId, Option<Replica>)>,
    sent: HashSet<(NodeId, NodeId, Message<String>)>,
}

/// Replays `trace` against fresh replicas whose data lives under `workdir`.
pub fn replay(trace: &Trace<String>, workdir: &Path) -> Result<(), ReplayError> {
    let mut run = Replay {
        trace,
        workdir: workdir.to_owned(),
        replicas: Vec::new(),
        sent: HashSet::new(),
    };
    for id in &trace.config.nodes {
        let replica = run
            .open(*id, true)
            .map_err(|source| ReplayError::Replica { step: 0, source })?;
        run.replicas.push((*id, Some(replica)));
    }
    for (index, step) in trace.steps.iter().enumerate() {
        let outputs = run.step(index, &step.step)?;
        if let Some(expect) = &step.expect {
            run.check(index, &step.note, expect, &outputs)?;
        }
    }
    Ok(())
}

impl Replay<'_> {
    fn config(&self, id: NodeId) -> Result<ReplicaConfig, ReplicaError> {
        Ok(ReplicaConfig {
            cluster_id: format!("trace-{}", self.trace.name),
            node_id: id,
            cluster: self.trace.config.spec_of(id)?,
            queue_limit: 0,
            cache_limit: usize::MAX,
        })
    }

    fn open(&self, id: NodeId, init: bool) -> Result<Replica, ReplicaError> {
        let dir = self.workdir.join(format!("node-{id}"));
        let mut replica =
            Replica::open(&dir, self.config(id)?, init, Arc::new(Metrics::default()))?;
        // A trace's expectations name the core's exact outputs.
        replica.record_outputs(true);
        Ok(replica)
    }

    /// The replica of `id`: `None` while it is crashed. A node that never ran (it joins at an
    /// `Install` step) has a slot from then on, empty until it joins.
    fn slot(&mut self, id: NodeId) -> &mut Option<Replica> {
        let i = match self.replicas.iter().position(|(n, _)| *n == id) {
            Some(i) => i,
            None => {
                self.replicas.push((id, None));
                self.replicas.len() - 1
            }
        };
        &mut self.replicas[i].1
    }

    /// Whether `id` ever ran (a member at start, or a node that joined since).
    fn has_run(&self, id: NodeId) -> bool {
        self.replicas.iter().any(|(n, _)| *n == id)
    }

    /// `Install` of `configuration` on `id`: the replica's own install, or, for a node that
    /// never ran, its join (a new, empty data directory recorded in that configuration).
    fn install(
        &mut self,
        index: usize,
        id: NodeId,
        configuration: &TraceConfiguration,
    ) -> Result<Option<(NodeId, Event)>, ReplayError> {
        let replica_err = |source| ReplayError::Replica {
            step: index,
            source,
        };
        let configuration = configuration
            .configuration()
            .map_err(|detail| ReplayError::Trace {
                path: PathBuf::from(&self.trace.name),
                source: TraceError::Install {
                    step: index,
                    detail,
                },
            })?;
        if self.has_run(id) {
            return Ok(Some((id, Event::Install(configuration))));
        }
        let dir = self.workdir.join(format!("node-{id}"));
        let mut replica = Replica::join(
            &dir,
            self.config(id).map_err(replica_err)?,
            configuration,
            Arc::new(Metrics::default()),
        )
        .map_err(replica_err)?;
        replica.record_outputs(true);
        *self.slot(id) = Some(replica);
        Ok(None)
    }

    fn diverged(
        &self,
        step: usize,
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> ReplayError {
        ReplayError::Diverged(Box::new(Divergence::at(
            self.trace, step, what, expected, actual,
        )))
    }

    /// Runs one step and returns the core outputs it produced (as trace values).
    fn step(
        &mut self,
        index: usize,
        step: &Step<String>,
    ) -> Result<Vec<Output<String>>, ReplayError> {
        let key = Bytes::from_static(TRACE_KEY);
        let (node, event) = match step {
            Step::Request { node, request, op } => (
                *node,
                Event::Request {
                    request: *request,
                    key,
                    op: op.clone().map_value(&to_bytes),
                },
            ),
            Step::Deliver { from, to, msg } => {
                self.require_sent(index, *from, *to, msg)?;
                let envelope = Envelope {
                    from: *from,
                    key,
                    msg: msg.clone().map_value(&to_bytes),
                };
                let frame = wire::encode_batch(&[envelope]);
                let mut decoded =
                    wire::decode_batch(&frame).map_err(|source| ReplayError::Wire {
                        step: index,
                        source,
                    })?;
                let envelope = decoded.pop().expect("one envelope in, one out");
                (*to, Event::Peer(envelope))
            }
            Step::Drop { from, to, msg } => {
                self.require_sent(index, *from, *to, msg)?;
                return Ok(Vec::new());
            }
            Step::Timeout { node, timer } => (*node, Event::Timeout { key, timer: *timer }),
            Step::Crash { node } => {
                *self.slot(*node) = None;
                return Ok(Vec::new());
            }
            Step::Install {
                node,
                configuration,
            } => match self.install(index, *node, configuration)? {
                Some(install) => install,
                None => return Ok(Vec::new()),
            },
            Step::Restart { node } => {
                if self.slot(*node).is_none() {
                    let replica =
                        self.open(*node, false)
                            .map_err(|source| ReplayError::Replica {
                                step: index,
                                source,
                            })?;
                    *self.slot(*node) = Some(replica);
                }
                return Ok(Vec::new());
            }
        };
        // A crashed node, or one that has not joined yet, neither receives nor acts.
        if !self.has_run(node) {
            return Ok(Vec::new());
        }
        let Some(replica) = self.slot(node).as_mut() else {
            return Ok(Vec::new());
        };
        let effects = replica
            .handle_batch([event])
            .map_err(|source| ReplayError::Replica {
                step: index,
                source,
            })?;
        let outputs: Vec<Output<String>> = effects
            .outputs
            .into_iter()
            .filter(|(k, _)| k.as_ref() == TRACE_KEY)
            .map(|(_, o)| o.map_value(&to_string))
            .collect();
        // What the replica really sends (a broadcast goes to the members of its current
        // configuration, which a membership change moves).
        for sent in effects.sends {
            if sent.envelope.key.as_ref() == TRACE_KEY {
                let msg = sent.envelope.msg.map_value(&to_string);
                self.sent.insert((node, sent.to, msg));
            }
        }
        Ok(outputs)
    }

    fn require_sent(
        &self,
        step: usize,
        from: NodeId,
        to: NodeId,
        msg: &Message<String>,
    ) -> Result<(), ReplayError> {
        if self.sent.contains(&(from, to, msg.clone())) {
            Ok(())
        } else {
            Err(self.diverged(
                step,
                format!("message n{from} → n{to} in flight"),
                format!("{} was sent", notation::message(msg)),
                "it was never sent",
            ))
        }
    }

    /// The state of `id`: from the running replica, or, for a crashed node, what its disk holds
    /// (and nothing learned: learning is volatile).
    fn node_state(&mut self, step: usize, id: NodeId) -> Result<NodeState<String>, ReplayError> {
        let key = Bytes::from_static(TRACE_KEY);
        let state = match self.slot(id).as_mut() {
            Some(replica) => replica.node_state(&key),
            None => self.open(id, false).and_then(|mut r| r.node_state(&key)),
        };
        state
            .map(|s| s.map_value(&to_string))
            .map_err(|source| ReplayError::Replica { step, source })
    }

    fn check(
        &mut self,
        step: usize,
        _note: &str,
        expect: &Expectation<String>,
        outputs: &[Output<String>],
    ) -> Result<(), ReplayError> {
        if let Some(expected) = &expect.outputs {
            if expected.as_slice() != outputs {
                return Err(self.diverged(
                    step,
                    "outputs",
                    notation::outputs(expected),
                    notation::outputs(outputs),
                ));
            }
        }
        for (id, expected) in &expect.nodes {
            let actual = self.node_state(step, *id)?;
            if &actual != expected {
                return Err(self.diverged(
                    step,
                    format!("state of n{id}"),
                    notation::node_state(expected),
                    notation::node_state(&actual),
                ));
            }
        }
        Ok(())
    }
}
