//! How a path of the membership model reads as a trace file (docs/traces.md, *Membership
//! traces*): the trace's cluster is generation 0, and each model action becomes the trace steps
//! a runtime sees, with the core's outputs and the touched node's state as their expectations.
//! Export writes these steps ([`super::trace_export`]); validation takes, for each step of a
//! file, the enabled action whose steps these are ([`super::trace_check`]).
//!
//! | action | trace step |
//! |---|---|
//! | `Invoke(c)` | `request` at client `c`'s node, the model's request id, its operation |
//! | `CatchUp` | `request` of a `Read` at the catch-up node, id [`catch_up_request`]`(g)` |
//! | `Install(n)` | `install` of the node's new configuration (a node that did not run joins); an install without lagging nodes is one step per node installed |
//! | `Deliver(e)` | `deliver`; a `Stale` that carries a newer configuration is installed in the same step (its outputs follow the message's) |
//! | `Timeout(n, t)` | `timeout` |
//! | `Crash(n)` | `crash` (for good: no `restart` follows) |
//! | `Advance` | none: the admin's own bookkeeping touches no node |

use super::model::{catch_up_request, Action, Effects, MembershipModel};
use super::state::MembershipState;
use crate::config::node_id;
use crate::message::request_id;
use crate::value::Value;
use synod_check::trace::{
    Expectation, NodeState, Step, TraceConfig, TraceConfiguration, TraceStep,
};
use synod_core::{Message, Operation, Output};

fn to_s(v: Value) -> String {
    v.to_string()
}

/// The trace's cluster: generation 0's members and quorums, the scenario's retry bound.
pub fn trace_config(model: &MembershipModel) -> TraceConfig {
    let cluster = model.cfg.cluster();
    TraceConfig {
        nodes: cluster.members().iter().collect(),
        q1: cluster.quorums().q1(),
        q2: cluster.quorums().q2(),
        max_attempts: cluster.max_attempts(),
        attempts_by_node: Vec::new(),
        fast: cluster.fast_paths(),
    }
}

/// Node `i`'s state in `state` as a trace snapshot, if it runs (it has joined and not crashed).
pub fn node_state(state: &MembershipState, i: usize) -> Option<NodeState<String>> {
    let node = state.nodes.get(i)?.node.as_ref()?;
    Some(NodeState::of(node).map_value(&to_s))
}

/// A step whose expectation is `outputs` and, if it runs after the step, node `touched`'s state.
fn expected(
    step: Step<String>,
    note: String,
    outputs: &[Output<Value>],
    touched: Option<usize>,
    after: &MembershipState,
) -> TraceStep<String> {
    let nodes = touched
        .and_then(|i| Some((node_id(i), node_state(after, i)?)))
        .into_iter()
        .collect();
    TraceStep {
        step,
        note,
        expect: Some(Expectation {
            outputs: Some(outputs.iter().map(|o| o.clone().map_value(&to_s)).collect()),
            nodes,
        }),
    }
}

/// The trace steps of `action`, taken in `before`, which reached `after` with `effects`
/// ([`MembershipModel::apply`]).
pub fn steps_of(
    model: &MembershipModel,
    before: &MembershipState,
    action: &Action,
    after: &MembershipState,
    effects: &Effects,
) -> Vec<TraceStep<String>> {
    let no_outputs = Vec::new();
    let outputs = effects.first().map_or(&no_outputs, |(_, out)| out);
    match action {
        Action::Deliver(e) => {
            let to = e.dst.0 as usize - 1;
            let from_generation = before.nodes[to].generation();
            let to_generation = after.nodes[to].generation();
            let note = match e.msg.clone().generation_of() {
                Some((_, Message::Stale { .. })) if to_generation > from_generation => format!(
                    "n{} adopts generation {} from the refusal",
                    e.dst,
                    to_generation.unwrap_or_default()
                ),
                _ => String::new(),
            };
            let step = Step::Deliver {
                from: e.src,
                to: e.dst,
                msg: e.msg.clone().map_value(&to_s),
            };
            vec![expected(step, note, outputs, Some(to), after)]
        }
        Action::Timeout(i, timer) => {
            let step = Step::Timeout {
                node: node_id(*i),
                timer: *timer,
            };
            vec![expected(step, String::new(), outputs, Some(*i), after)]
        }
        Action::Invoke(c) => {
            let sent = before.clients[*c].sent as usize;
            let step = Step::Request {
                node: node_id(*c),
                request: request_id(*c, sent),
                op: model.cfg.scripts()[*c][sent].clone().map_value(&to_s),
            };
            vec![expected(step, String::new(), outputs, Some(*c), after)]
        }
        Action::CatchUp => {
            let i = model.cfg.catch_up_node();
            let g = before.admin.generation;
            let step = Step::Request {
                node: node_id(i),
                request: catch_up_request(g),
                op: Operation::Read,
            };
            let note = format!("the admin's catch-up read in generation {g}");
            vec![expected(step, note, outputs, Some(i), after)]
        }
        Action::Install(_) => effects
            .iter()
            .filter_map(|(i, out)| {
                let node = after.nodes[*i].node.as_ref()?;
                let configuration = node.config().configuration();
                let joins = before.nodes[*i].node.is_none();
                let step = Step::Install {
                    node: node_id(*i),
                    configuration: TraceConfiguration::from(configuration),
                };
                let note = if joins {
                    format!(
                        "n{} joins with generation {}",
                        node_id(*i),
                        configuration.generation()
                    )
                } else {
                    String::new()
                };
                Some(expected(step, note, out, Some(*i), after))
            })
            .collect(),
        Action::Crash(i) => {
            let step = Step::Crash { node: node_id(*i) };
            let note = format!("n{} crashes for good", node_id(*i));
            vec![expected(step, note, &[], None, after)]
        }
        Action::Advance => Vec::new(),
    }
}

/// Puts every running node's state into the last step's expectation (as the fixed-membership
/// export does).
pub fn expect_every_node(steps: &mut [TraceStep<String>], last: &MembershipState) {
    let Some(step) = steps.last_mut() else {
        return;
    };
    let expect = step.expect.get_or_insert_with(|| Expectation {
        outputs: None,
        nodes: Default::default(),
    });
    for i in 0..last.nodes.len() {
        if let Some(state) = node_state(last, i) {
            expect.nodes.insert(node_id(i), state);
        }
    }
}
