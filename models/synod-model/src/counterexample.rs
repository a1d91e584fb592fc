//! Turns a path of the model (a counterexample or an example) into what a reviewer reads: a
//! numbered message-sequence listing with each step's state changes, and a trace file in the
//! shared trace format (`synod_check::trace::Trace<String>`), which the server's replay tests and
//! the trace tooling understand.

use crate::actor::{ActorState, NodeState, PROPOSE_REQUEST};
use crate::check::Action;
use crate::config::{node_id, Mode, ModelConfig, Value};
use crate::message::ModelMsg;
use crate::model::SynodModel;
use crate::properties::{history, SystemState};
use crate::Protocol;
use stateright::actor::ActorModelAction;
use stateright::Path;
use std::collections::BTreeMap;
use std::fmt::Write;
use synod_check::trace::{
    Expectation, NodeState as TraceNodeState, Step, Trace, TraceConfig, TraceStep,
    TRACE_FORMAT_VERSION,
};
use synod_core::{Message, Operation, Outcome, Phase, Proposal, ReplyResult};

/// A proposal as `v@[round,node]` (`∅` for the empty register).
pub fn fmt_proposal(p: &Proposal<Value>) -> String {
    format!("{}@{}", fmt_value(&p.value), p.ballot)
}

fn fmt_value(v: &Option<Value>) -> String {
    v.map_or("∅".to_string(), |c| format!("'{c}'"))
}

/// A protocol message in one line.
pub fn fmt_msg(m: &Message<Value>) -> String {
    match m {
        Message::Prepare { ballot } => format!("Prepare {ballot}"),
        Message::Promise { ballot, accepted } => format!(
            "Promise {ballot} (accepted {})",
            accepted.as_ref().map_or("nothing".into(), fmt_proposal)
        ),
        Message::Accept {
            ballot,
            value,
            next: None,
        } => format!("Accept {ballot} {}", fmt_value(value)),
        Message::Accept {
            ballot,
            value,
            next: Some(next),
        } => format!("Accept {ballot} {} (and promise {next})", fmt_value(value)),
        Message::Accepted { ballot } => format!("Accepted {ballot}"),
        Message::Reject { ballot, promised } => format!("Reject {ballot} (promised {promised})"),
        Message::Commit { ballot, value } => format!("Commit {ballot} {}", fmt_value(value)),
        Message::Query { request } => format!("Query (read {})", request.0),
        Message::Report { request, accepted } => format!(
            "Report (read {}: accepted {})",
            request.0,
            accepted.as_ref().map_or("nothing".into(), fmt_proposal)
        ),
    }
}

fn fmt_result(r: &ReplyResult<Value>) -> String {
    match r {
        Ok(Outcome::Chosen { value, won }) => format!("chosen '{value}' (won: {won})"),
        Ok(Outcome::Written { previous }) => format!("written (previous {})", fmt_value(previous)),
        Ok(Outcome::CasMismatch { current }) => {
            format!("cas mismatch (current {})", fmt_value(current))
        }
        Ok(Outcome::Read { value }) => format!("read {}", fmt_value(value)),
        Err(e) => format!("error: {e}"),
    }
}

fn fmt_phase(p: &Phase<Value>) -> String {
    match p {
        Phase::Idle => "idle".into(),
        Phase::Preparing { ballot, .. } => format!("preparing {ballot}"),
        Phase::Accepting { proposal, .. } => format!("accepting {}", fmt_proposal(proposal)),
        Phase::Reading { .. } => "reading".into(),
        Phase::Backoff => "backoff".into(),
    }
}

fn node_of<P: Protocol>(state: &SystemState<P>, index: usize) -> Option<&NodeState> {
    match state.actor_states.get(index).map(|s| &**s) {
        Some(ActorState::Node(n)) => Some(n),
        _ => None,
    }
}

/// The visible changes of node `index` between two states.
fn changes<P: Protocol>(before: &SystemState<P>, after: &SystemState<P>, index: usize) -> String {
    let (Some(b), Some(a)) = (node_of(before, index), node_of(after, index)) else {
        return String::new();
    };
    let mut parts = Vec::new();
    let (sb, sa) = (b.node.acceptor().state(), a.node.acceptor().state());
    if sb.promised != sa.promised {
        parts.push(format!("promised {}→{}", sb.promised, sa.promised));
    }
    if sb.accepted != sa.accepted {
        parts.push(format!(
            "accepted {}",
            sa.accepted.as_ref().map_or("nothing".into(), fmt_proposal)
        ));
    }
    if b.durable != a.durable && a.durable != *sa {
        parts.push(format!(
            "durable promised {} accepted {}",
            a.durable.promised,
            a.durable
                .accepted
                .as_ref()
                .map_or("nothing".into(), fmt_proposal)
        ));
    }
    if b.node.learned() != a.node.learned() {
        parts.push(format!(
            "learned {}",
            a.node.learned().map_or("nothing".into(), fmt_proposal)
        ));
    }
    if b.node.proposer().phase() != a.node.proposer().phase() {
        parts.push(format!("proposer {}", fmt_phase(a.node.proposer().phase())));
    }
    if b.ghost.reply != a.ghost.reply {
        if let Some(r) = &a.ghost.reply {
            parts.push(format!("replies {}", fmt_result(r)));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("   ⇒ n{}: {}", index + 1, parts.join(", "))
    }
}

fn who(model_nodes: usize, id: usize) -> String {
    if id < model_nodes {
        format!("n{}", id + 1)
    } else {
        format!("client{}", id - model_nodes + 1)
    }
}

/// The numbered listing of `path`: who sent what to whom, and what changed.
pub fn listing<P: Protocol>(model: &SynodModel<P>, path: &Path<SystemState<P>, Action>) -> String {
    let n = model.cfg.nodes;
    let mut out = String::new();
    if let Mode::Consensus { proposers } = model.cfg.mode {
        for i in 0..proposers {
            let _ = writeln!(
                out,
                " 0. n{} is asked ProposeOnce('{}') and prepares",
                i + 1,
                ModelConfig::proposal_of(i)
            );
        }
    }
    let steps = path.clone().into_vec();
    for (k, pair) in steps.windows(2).enumerate() {
        let (before, Some(action)) = &pair[0] else {
            continue;
        };
        let after = &pair[1].0;
        let (line, touched) = match action {
            ActorModelAction::Deliver { src, dst, msg } => {
                let (s, d) = (usize::from(*src), usize::from(*dst));
                let what = match msg {
                    ModelMsg::Peer(m) => fmt_msg(m),
                    ModelMsg::Request { op, .. } => {
                        format!("request {}", crate::script::format_op(op))
                    }
                    ModelMsg::Reply { result, .. } => format!("reply: {}", fmt_result(result)),
                };
                (format!("{} → {}: {what}", who(n, s), who(n, d)), Some(d))
            }
            ActorModelAction::Drop(env) => {
                let what = match &env.msg {
                    ModelMsg::Peer(m) => fmt_msg(m),
                    other => format!("{other:?}"),
                };
                (
                    format!(
                        "LOST {} → {}: {what}",
                        who(n, usize::from(env.src)),
                        who(n, usize::from(env.dst))
                    ),
                    None,
                )
            }
            ActorModelAction::Timeout(id, timer) => {
                let i = usize::from(*id);
                (format!("{}: {timer:?} timer fires", who(n, i)), Some(i))
            }
            ActorModelAction::Crash(id) => {
                let i = usize::from(*id);
                let durable = node_of(after, i).map(|s| {
                    format!(
                        " (durable: promised {}, accepted {})",
                        s.durable.promised,
                        s.durable
                            .accepted
                            .as_ref()
                            .map_or("nothing".into(), fmt_proposal)
                    )
                });
                (
                    format!("{} CRASHES{}", who(n, i), durable.unwrap_or_default()),
                    None,
                )
            }
            ActorModelAction::Recover(id) => {
                let i = usize::from(*id);
                (
                    format!("{} restarts from its durable state", who(n, i)),
                    Some(i),
                )
            }
            ActorModelAction::SelectRandom { .. } => ("random choice".into(), None),
        };
        let _ = writeln!(out, "{:>2}. {line}", k + 1);
        if let Some(i) = touched {
            let c = changes(before, after, i);
            if !c.is_empty() {
                let _ = writeln!(out, "{c}");
            }
        }
    }
    let last = path.last_state();
    let h = history(last);
    let chosen: Vec<String> = h
        .chosen(model.cfg.q2())
        .map(|(b, v)| format!("{} at {b}", fmt_value(&v)))
        .collect();
    let _ = writeln!(
        out,
        "chosen (a phase-2 quorum accepted it at one ballot): {}",
        if chosen.is_empty() {
            "nothing".into()
        } else {
            chosen.join(", ")
        }
    );
    if model.cfg.is_register() {
        let _ = writeln!(out, "client history: {}", last.history.describe());
    }
    out
}

fn to_s(c: Value) -> String {
    c.to_string()
}

/// A protocol message with string values (the trace files' value type).
pub fn s_msg(m: &Message<Value>) -> Message<String> {
    m.clone().map_value(&to_s)
}

fn snapshot(n: &NodeState) -> TraceNodeState<String> {
    TraceNodeState::of(&n.node).map_value(&to_s)
}

fn expect_node<P: Protocol>(after: &SystemState<P>, index: usize) -> Option<Expectation<String>> {
    let n = node_of(after, index)?;
    let mut nodes = BTreeMap::new();
    nodes.insert(node_id(index), snapshot(n));
    Some(Expectation {
        outputs: None,
        nodes,
    })
}

/// `path` as a trace file named `name`, with the touched node's state expected after each step.
pub fn to_trace<P: Protocol>(
    model: &SynodModel<P>,
    name: &str,
    description: &str,
    path: &Path<SystemState<P>, Action>,
) -> Trace<String> {
    let cfg = &model.cfg;
    let mut steps = Vec::new();
    let steps_in = path.clone().into_vec();
    if let (Mode::Consensus { proposers }, Some((init, _))) = (&cfg.mode, steps_in.first()) {
        for i in 0..*proposers {
            steps.push(TraceStep {
                step: Step::Request {
                    node: node_id(i),
                    request: PROPOSE_REQUEST,
                    op: Operation::ProposeOnce(ModelConfig::proposal_of(i).to_string()),
                },
                note: "initial request".into(),
                expect: expect_node(init, i),
            });
        }
    }
    for pair in steps_in.windows(2) {
        let (_, Some(action)) = &pair[0] else {
            continue;
        };
        let after = &pair[1].0;
        let mapped = match action {
            ActorModelAction::Deliver { src, dst, msg } => {
                let d = usize::from(*dst);
                match msg {
                    ModelMsg::Peer(m) => Some((
                        Step::Deliver {
                            from: node_id(usize::from(*src)),
                            to: node_id(d),
                            msg: s_msg(m),
                        },
                        Some(d),
                    )),
                    ModelMsg::Request { request, op } => Some((
                        Step::Request {
                            node: node_id(d),
                            request: *request,
                            op: op.clone().map_value(&to_s),
                        },
                        Some(d),
                    )),
                    // A reply reaching a client is not a node event.
                    ModelMsg::Reply { .. } => None,
                }
            }
            ActorModelAction::Drop(env) => match &env.msg {
                ModelMsg::Peer(m) => Some((
                    Step::Drop {
                        from: node_id(usize::from(env.src)),
                        to: node_id(usize::from(env.dst)),
                        msg: s_msg(m),
                    },
                    None,
                )),
                _ => None,
            },
            ActorModelAction::Timeout(id, timer) => Some((
                Step::Timeout {
                    node: node_id(usize::from(*id)),
                    timer: *timer,
                },
                Some(usize::from(*id)),
            )),
            ActorModelAction::Crash(id) => Some((
                Step::Crash {
                    node: node_id(usize::from(*id)),
                },
                None,
            )),
            ActorModelAction::Recover(id) => Some((
                Step::Restart {
                    node: node_id(usize::from(*id)),
                },
                Some(usize::from(*id)),
            )),
            ActorModelAction::SelectRandom { .. } => None,
        };
        if let Some((step, touched)) = mapped {
            steps.push(TraceStep {
                step,
                note: String::new(),
                expect: touched.and_then(|i| expect_node(after, i)),
            });
        }
    }
    Trace {
        version: TRACE_FORMAT_VERSION,
        name: name.to_string(),
        description: description.to_string(),
        config: TraceConfig {
            nodes: cfg.members(),
            q1: cfg.q1(),
            q2: cfg.q2(),
            max_attempts: cfg.rounds,
            attempts_by_node: cfg.rounds_by_node.clone(),
            fast: cfg.fast,
        },
        steps,
    }
}

/// A file-name-safe slug of a property name.
pub fn slug(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}
