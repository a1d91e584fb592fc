//! Validating a trace file in the model (`synod-model trace check`): the trace is replayed as
//! model actions, step by step — each step must be an enabled action of the model (a message
//! really in flight, a timer really set, a crash within the budget, not a no-op), and each
//! expectation (outputs, node states) must equal what the model's node did. The first step that
//! differs is reported. A trace that installs a configuration is replayed in the membership
//! model instead ([`crate::membership::trace_check`]).
//!
//! The model is derived from the trace: its cluster, quorums and retry bound; consensus mode
//! when the trace starts with the proposers' initial `ProposeOnce` requests (request id 1 at
//! nodes 1…P, values `a`, `b`, …) and has no other request, register mode when its requests are
//! client requests (clients at nodes 1…K, the model's request ids); a non-duplicating lossy
//! network when the trace loses messages, the duplicating one otherwise; a crash budget of the
//! trace's crash count. String values are mapped to the model's one-letter values (a one-letter
//! string is itself; otherwise its first letter, or the first free letter).

use crate::actor::{ActorState, PROPOSE_REQUEST};
use crate::config::{ConfigError, Mode, ModelConfig, NetworkKind, Value};
use crate::membership;
use crate::membership::trace_check::Mismatch;
use crate::message::Action;
use crate::message::{request_id, ModelMsg};
use crate::model::build;
use crate::model::SynodModel;
use crate::properties::SystemState;
use crate::step_outputs::{initial_request_outputs, step_outputs};
use crate::Correct;
use stateright::actor::{ActorModelAction, Envelope, Id};
use stateright::Model;
use std::collections::BTreeMap;
use synod_check::expectation::check_step;
use synod_check::trace::{Divergence, NodeState as TraceNodeState, Step, Trace};
use synod_core::{Message, NodeId, Operation, Output};
use thiserror::Error;

/// Why a trace could not be validated.
#[derive(Debug, Error)]
pub enum CheckError {
    /// The model differs from the trace.
    #[error("{0}")]
    Diverged(Box<Divergence>),
    /// The trace uses something the model cannot express.
    #[error("the model cannot express this trace: {0}")]
    Unsupported(String),
    /// The derived model configuration is invalid.
    #[error("invalid model configuration for this trace: {0}")]
    Config(#[from] ConfigError),
}

/// The bijection between a trace's string values and the model's letters.
#[derive(Default)]
struct Values {
    to_model: BTreeMap<String, Value>,
    to_trace: BTreeMap<Value, String>,
}

impl Values {
    fn learn(&mut self, v: &str) {
        if self.to_model.contains_key(v) {
            return;
        }
        let mut chars = v.chars();
        let preferred = match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            (Some(c), Some(_)) if c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        };
        let letter = preferred
            .filter(|c| !self.to_trace.contains_key(c))
            .or_else(|| ('a'..='z').find(|c| !self.to_trace.contains_key(c)));
        if let Some(c) = letter {
            self.to_model.insert(v.to_string(), c);
            self.to_trace.insert(c, v.to_string());
        }
    }

    fn model(&self, v: &String) -> Result<Value, CheckError> {
        self.to_model
            .get(v)
            .copied()
            .ok_or_else(|| CheckError::Unsupported(format!("value {v:?} is never requested")))
    }

    fn trace(&self, c: Value) -> String {
        self.to_trace
            .get(&c)
            .cloned()
            .unwrap_or_else(|| c.to_string())
    }
}

fn op_values(op: &Operation<String>) -> Vec<&String> {
    match op {
        Operation::ProposeOnce(v) | Operation::Put(v) => vec![v],
        Operation::Cas { expected, new } => expected.iter().chain([new]).collect(),
        Operation::Delete | Operation::Read => vec![],
    }
}

fn to_model_op(values: &Values, op: &Operation<String>) -> Result<Operation<Value>, CheckError> {
    Ok(match op {
        Operation::ProposeOnce(v) => Operation::ProposeOnce(values.model(v)?),
        Operation::Put(v) => Operation::Put(values.model(v)?),
        Operation::Cas { expected, new } => Operation::Cas {
            expected: expected.as_ref().map(|e| values.model(e)).transpose()?,
            new: values.model(new)?,
        },
        Operation::Delete => Operation::Delete,
        Operation::Read => Operation::Read,
    })
}

fn to_model_msg(values: &Values, msg: &Message<String>) -> Result<Message<Value>, CheckError> {
    // Every value in a message was requested by somebody (or the model could not produce it).
    let error = std::cell::RefCell::new(None);
    let mapped = msg.clone().map_value(&|v: String| {
        values.model(&v).unwrap_or_else(|e| {
            *error.borrow_mut() = Some(e.to_string());
            '?'
        })
    });
    match error.into_inner() {
        Some(e) => Err(CheckError::Unsupported(e)),
        None => Ok(mapped),
    }
}

/// Trace request ids (per node) → the model clients' request ids.
type RequestIds = BTreeMap<(NodeId, synod_core::RequestId), synod_core::RequestId>;

/// The model configuration and the number of leading initial-request steps for `trace`.
fn derive_config(
    trace: &Trace<String>,
    values: &Values,
    ids: &mut RequestIds,
) -> Result<(ModelConfig, usize), CheckError> {
    let nodes = trace.config.nodes.len();
    if trace
        .config
        .nodes
        .iter()
        .enumerate()
        .any(|(i, id)| id.0 as usize != i + 1)
    {
        return Err(CheckError::Unsupported(
            "node ids must be 1, 2, …, n".into(),
        ));
    }
    let requests: Vec<(usize, NodeId, synod_core::RequestId, &Operation<String>)> = trace
        .steps
        .iter()
        .enumerate()
        .filter_map(|(i, s)| match &s.step {
            Step::Request { node, request, op } => Some((i, *node, *request, op)),
            _ => None,
        })
        .collect();
    let initial = requests
        .iter()
        .enumerate()
        .all(|(k, (i, node, request, op))| {
            *i == k
                && node.0 as usize == k + 1
                && *request == PROPOSE_REQUEST
                && matches!(op, Operation::ProposeOnce(v)
                if values.model(v).ok() == Some(ModelConfig::proposal_of(k)))
        });
    let (mode, leading) = if initial && !requests.is_empty() {
        (
            Mode::Consensus {
                proposers: requests.len(),
            },
            requests.len(),
        )
    } else {
        // Client i sits at node i + 1; its k-th request gets the model's id for (i, k).
        let mut scripts: Vec<Vec<Operation<Value>>> = vec![Vec::new(); nodes];
        for (_, node, request, op) in &requests {
            let client = node.0 as usize - 1;
            let model_id = request_id(client, scripts[client].len());
            if ids.insert((*node, *request), model_id).is_some() {
                return Err(CheckError::Unsupported(format!(
                    "request {request:?} is sent to node {node} twice"
                )));
            }
            scripts[client].push(to_model_op(values, op)?);
        }
        while scripts.last().is_some_and(|s| s.is_empty()) {
            scripts.pop();
        }
        (Mode::Register { scripts }, 0)
    };
    let lossy = trace
        .steps
        .iter()
        .any(|s| matches!(s.step, Step::Drop { .. }));
    let crashes = trace
        .steps
        .iter()
        .filter(|s| matches!(s.step, Step::Crash { .. }))
        .count();
    let cfg = ModelConfig {
        nodes,
        mode,
        rounds: trace.config.max_attempts,
        rounds_by_node: trace.config.attempts_by_node.clone(),
        network: if lossy {
            NetworkKind::UnorderedNonDuplicating
        } else {
            NetworkKind::UnorderedDuplicating
        },
        lossy,
        crashes,
        crashable: Vec::new(),
        unsafe_quorums: false,
        q1: Some(trace.config.q1),
        q2: Some(trace.config.q2),
        fast: trace.config.fast,
    };
    cfg.validate()?;
    Ok((cfg, leading))
}

fn actor(id: NodeId) -> Id {
    Id::from(id.0 as usize - 1)
}

/// The model action of a (non-initial) trace step.
fn action_of(
    cfg: &ModelConfig,
    values: &Values,
    ids: &RequestIds,
    step: &Step<String>,
) -> Result<Action, CheckError> {
    Ok(match step {
        Step::Request { node, request, op } => ActorModelAction::Deliver {
            src: Id::from(cfg.nodes + node.0 as usize - 1),
            dst: actor(*node),
            msg: ModelMsg::Request {
                request: *ids.get(&(*node, *request)).ok_or_else(|| {
                    CheckError::Unsupported(format!("request {request:?} is not a client's"))
                })?,
                op: to_model_op(values, op)?,
            },
        },
        Step::Deliver { from, to, msg } => ActorModelAction::Deliver {
            src: actor(*from),
            dst: actor(*to),
            msg: ModelMsg::Peer(to_model_msg(values, msg)?),
        },
        Step::Drop { from, to, msg } => ActorModelAction::Drop(Envelope {
            src: actor(*from),
            dst: actor(*to),
            msg: ModelMsg::Peer(to_model_msg(values, msg)?),
        }),
        Step::Timeout { node, timer } => ActorModelAction::Timeout(actor(*node), *timer),
        Step::Crash { node } => ActorModelAction::Crash(actor(*node)),
        Step::Restart { node } => ActorModelAction::Recover(actor(*node)),
        // `check_trace` sends a trace with install steps to the membership model.
        Step::Install { .. } => {
            return Err(CheckError::Unsupported(
                "a membership change (install step) is not part of the fixed-membership model"
                    .into(),
            ))
        }
    })
}

type M = SynodModel<Correct>;
type S = SystemState<Correct>;

/// The next state if `action` is enabled in `state` (and stays inside the model's boundary).
fn take(model: &M, state: &S, action: &Action) -> Option<S> {
    let mut enabled = Vec::new();
    model.actions(state, &mut enabled);
    if !enabled.contains(action) {
        return None;
    }
    let next = model.next_state(state, action.clone())?;
    model.within_boundary(&next).then_some(next)
}

/// Delivers the replies waiting for `client` (invisible in traces: they are not node events),
/// so that its next request is sent.
fn deliver_replies(model: &M, state: &S, client: Id) -> Option<S> {
    let mut enabled = Vec::new();
    model.actions(state, &mut enabled);
    enabled.sort();
    enabled
        .into_iter()
        .filter(|a| {
            matches!(a, ActorModelAction::Deliver { dst, msg: ModelMsg::Reply { .. }, .. } if *dst == client)
        })
        .find_map(|a| take(model, state, &a))
}

/// Judges step `step` against its expectation: `outputs` of the model's node (values and
/// request ids mapped back to the trace's), and the nodes' states in `state`.
fn compare(
    trace: &Trace<String>,
    step: usize,
    values: &Values,
    back: &BTreeMap<synod_core::RequestId, synod_core::RequestId>,
    outputs: Option<Vec<Output<Value>>>,
    state: &S,
) -> Result<(), CheckError> {
    let to_s = |c: Value| values.trace(c);
    let outputs: Option<Vec<Output<String>>> = outputs.map(|o| {
        o.into_iter()
            .map(|o| match o.map_value(&to_s) {
                Output::Reply { request, result } => Output::Reply {
                    request: back.get(&request).copied().unwrap_or(request),
                    result,
                },
                other => other,
            })
            .collect()
    });
    check_step(trace, step, outputs.as_deref(), |id| {
        match state.actor_states.get(id.0 as usize - 1).map(|s| &**s) {
            Some(ActorState::Node(n)) => Some(TraceNodeState::of(&n.node).map_value(&to_s)),
            _ => None,
        }
    })
    .map_err(CheckError::Diverged)
}

/// Replays `trace` in the model; `Ok(steps)` when every step was enabled and every expectation
/// held.
pub fn check_trace(trace: &Trace<String>) -> Result<usize, CheckError> {
    if membership::trace_check::changes_membership(trace) {
        return membership::trace_check::check_trace(trace).map_err(|m| match m {
            Mismatch::Diverged(d) => CheckError::Diverged(d),
            Mismatch::Unsupported(why) => CheckError::Unsupported(why),
        });
    }
    let mut values = Values::default();
    for s in &trace.steps {
        if let Step::Request { op, .. } = &s.step {
            for v in op_values(op) {
                values.learn(v);
            }
        }
    }
    let mut ids = RequestIds::new();
    let (cfg, leading) = derive_config(trace, &values, &mut ids)?;
    let back: BTreeMap<_, _> = ids.iter().map(|(k, m)| (*m, k.1)).collect();
    let model = build(&cfg, Correct)?.faithful();
    let mut state = model.init_states().remove(0);
    for (index, ts) in trace.steps.iter().enumerate() {
        let outputs = if index < leading {
            initial_request_outputs(&model, index)
        } else {
            let action = action_of(&cfg, &values, &ids, &ts.step)?;
            let mut next = take(&model, &state, &action);
            if let (
                None,
                ActorModelAction::Deliver {
                    src,
                    msg: ModelMsg::Request { .. },
                    ..
                },
            ) = (&next, &action)
            {
                if let Some(replied) = deliver_replies(&model, &state, *src) {
                    state = replied;
                    next = take(&model, &state, &action);
                }
            }
            let Some(next) = next else {
                return Err(CheckError::Diverged(Box::new(Divergence::at(
                    trace,
                    index,
                    "step",
                    format!("{:?} to be an enabled action of the model", ts.step),
                    "not enabled (message not in flight, timer not set, node crashed, crash budget spent, or a no-op)",
                ))));
            };
            let outputs = step_outputs(&model, &state, &action);
            state = next;
            outputs
        };
        compare(trace, index, &values, &back, outputs, &state)?;
    }
    Ok(trace.steps.len())
}
