//! Turns a path of the model (a counterexample or an example) into what a reviewer reads: a
//! numbered message-sequence listing with each step's state changes, and a trace file in the
//! shared trace format (`synod_check::trace::Trace<String>`), which the server's replay tests and
//! the trace tooling understand.

use crate::actor::{ActorState, NodeState, PROPOSE_REQUEST};
use crate::config::{node_id, Mode, ModelConfig, Value};
use crate::message::Action;
use crate::message::ModelMsg;
use crate::model::SynodModel;
pub use crate::notation::{
    fmt_acceptor, fmt_action, fmt_envelope, fmt_model_msg, fmt_msg, fmt_phase, fmt_proposal,
    fmt_result, fmt_value, who,
};
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
use synod_core::{Message, Operation};

/// The state of node `index`, if that actor is a node.
pub fn node_of<P: Protocol>(state: &SystemState<P>, index: usize) -> Option<&NodeState> {
    match state.actor_states.get(index).map(|s| &**s) {
        Some(ActorState::Node(n)) => Some(n),
        _ => None,
    }
}

/// The visible changes of node `index` between two states: the `   ⇒ nX: …` line of a listing,
/// or nothing.
pub fn changes<P: Protocol>(
    before: &SystemState<P>,
    after: &SystemState<P>,
    index: usize,
) -> String {
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

/// The listing's line for `action` (a crash also says what it kept, read from the state
/// `after`), and the node whose changes the `⇒` line under it shows.
pub fn step_line<P: Protocol>(
    model_nodes: usize,
    action: &Action,
    after: &SystemState<P>,
) -> (String, Option<usize>) {
    let line = fmt_action(model_nodes, action);
    match action {
        ActorModelAction::Deliver { dst, .. } => (line, Some(usize::from(*dst))),
        ActorModelAction::Timeout(id, _) | ActorModelAction::Recover(id) => {
            (line, Some(usize::from(*id)))
        }
        ActorModelAction::Crash(id) => {
            let durable = node_of(after, usize::from(*id))
                .map(|s| format!(" (durable: {})", fmt_acceptor(&s.durable)))
                .unwrap_or_default();
            (format!("{line}{durable}"), None)
        }
        ActorModelAction::Drop(_) | ActorModelAction::SelectRandom { .. } => (line, None),
    }
}

/// Node `index` of `state` in one line: `n1 promised [1,1] accepted 'a'@[1,1] proposer
/// accepting 'a'@[1,1] learned –`, then what else it holds (a durable state that differs from
/// the live one, its reply, pending timers, a crash); a client's requests sent and answered.
pub fn actor_line<P: Protocol>(model_nodes: usize, state: &SystemState<P>, index: usize) -> String {
    let name = who(model_nodes, index);
    let mut line = match state.actor_states.get(index).map(|s| &**s) {
        Some(ActorState::Node(n)) => {
            let live = n.node.acceptor().state();
            let mut line = format!(
                "{name} promised {} accepted {} proposer {} learned {}",
                live.promised,
                live.accepted.as_ref().map_or("–".into(), fmt_proposal),
                fmt_phase(n.node.proposer().phase()),
                n.node.learned().map_or("–".into(), fmt_proposal)
            );
            if n.durable != *live {
                let _ = write!(line, " (durable: {})", fmt_acceptor(&n.durable));
            }
            if let Some(reply) = &n.ghost.reply {
                let _ = write!(line, " replied {}", fmt_result(reply));
            }
            line
        }
        Some(ActorState::Client(c)) => {
            format!("{name} sent {} answered {}", c.sent, c.answered)
        }
        None => name,
    };
    let mut timers: Vec<String> = state
        .timers_set
        .get(index)
        .map(|t| t.iter().map(|t| format!("{t:?}")).collect())
        .unwrap_or_default();
    timers.sort();
    if !timers.is_empty() {
        let _ = write!(line, " timers {}", timers.join(","));
    }
    if state.crashed.get(index).copied() == Some(true) {
        line.push_str(" CRASHED");
    }
    line
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
        let (line, touched) = step_line(n, action, after);
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
