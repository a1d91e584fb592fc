//! Validating a trace that changes the membership (it has `install` steps) in the membership
//! model: `synod-model trace check` sends such a trace here ([`crate::trace_check`]). Each step
//! must be the trace step of an enabled model action ([`super::trace::steps_of`], the mapping
//! the export writes with), and its expectation — outputs exactly, node states — must equal what
//! that action did; the first step that differs is reported.
//!
//! The admin's `Advance` has no trace step (it touches no node), so it is taken where a step
//! needs it: before an `install` of a generation above the admin's, and before the catch-up
//! read of one.
//!
//! The model is derived from the trace, not recorded in it: its cluster (generation 0: nodes,
//! quorums, retry bound) must be a scenario's, its requests that scenario's clients' scripts in
//! order (client `c` at node `c + 1`, the model's request ids) or the admin's catch-up reads, a
//! crash that scenario's crashable node; among the scenarios that fit, the one whose plan agrees
//! with the trace's installs for longest (so a wrong configuration is reported at its step).
//! The model is the widest of that scenario — round timers fire, nodes may lag — which includes
//! the runs of every narrowed one (`--no-timeouts`, `--no-lagging`, as the guided replacement
//! runs): without lagging nodes an install covers every node at once, which the trace spells
//! as one `install` step per node, in id order, as the lagging admin installs them.

use super::model::{catch_up_generation, Action, MembershipModel};
use super::scenario::{MembershipConfig, Scenario};
use super::state::MembershipState;
use super::trace::{node_state, steps_of, trace_config};
use crate::message::request_id;
use clap::ValueEnum;
use stateright::Model;
use synod_check::expectation::check_step;
use synod_check::notation;
use synod_check::trace::{Divergence, Step, Trace, TraceConfiguration, TraceStep};
use synod_core::Operation;

/// Why a membership trace does not validate.
#[derive(Debug)]
pub enum Mismatch {
    /// A step of the trace differs from the model.
    Diverged(Box<Divergence>),
    /// The trace uses something the membership model cannot express.
    Unsupported(String),
}

/// Whether `trace` changes the membership: some step installs a configuration.
pub fn changes_membership(trace: &Trace<String>) -> bool {
    trace
        .steps
        .iter()
        .any(|s| matches!(s.step, Step::Install { .. }))
}

/// How well the trace fits a scenario: the clients it uses, and how many of its installs, from
/// the first on, agree with the scenario's plan.
struct Fit {
    cfg: MembershipConfig,
    agreeing_installs: usize,
}

/// Whether the trace fits `cfg`'s scenario (see the module doc), or why not.
fn fit(mut cfg: MembershipConfig, trace: &Trace<String>) -> Result<Fit, String> {
    let model = MembershipModel::new(cfg.clone());
    if trace_config(&model) != trace.config {
        return Err(format!(
            "its cluster is nodes {:?} with q1 {}, q2 {}, no shortcuts",
            model.cfg.initial_members().iter().collect::<Vec<_>>(),
            model.configuration(0).q1(),
            model.configuration(0).q2()
        ));
    }
    let scripts = cfg.scripts();
    let mut sent = vec![0; scripts.len()];
    let mut agreeing_installs = 0;
    let mut installs_agree = true;
    for (index, s) in trace.steps.iter().enumerate() {
        match &s.step {
            Step::Request { node, request, op } => {
                if let Some(g) = catch_up_generation(*request) {
                    let due = model
                        .steps
                        .get(g as usize)
                        .is_some_and(|s| s.catch_up_first);
                    if node.0 as usize != cfg.catch_up_node() + 1 || *op != Operation::Read || !due
                    {
                        return Err(format!(
                            "step {index}: request {} at n{node} is no catch-up read of its plan",
                            request.0
                        ));
                    }
                    continue;
                }
                let c = (node.0 as usize).wrapping_sub(1);
                let next = scripts
                    .get(c)
                    .and_then(|ops| ops.get(sent[c]))
                    .map(|op| op.clone().map_value(&|v| v.to_string()));
                if next.as_ref() != Some(op) || *request != request_id(c, sent[c]) {
                    return Err(format!(
                        "step {index}: request {} at n{node} is not the next operation of a client of its scripts",
                        request.0
                    ));
                }
                sent[c] += 1;
            }
            Step::Crash { node } if Some(node.0 as usize) != cfg.crashable().map(|i| i + 1) => {
                return Err(format!("step {index}: n{node} may not crash in it"));
            }
            Step::Install { configuration, .. } if installs_agree => {
                let g = configuration.generation;
                installs_agree = g <= model.last_generation()
                    && *configuration == TraceConfiguration::from(model.configuration(g));
                agreeing_installs += usize::from(installs_agree);
            }
            _ => {}
        }
    }
    cfg.clients = sent.iter().rposition(|&n| n > 0).map_or(0, |c| c + 1);
    Ok(Fit {
        cfg,
        agreeing_installs,
    })
}

/// The membership model the trace runs in (see the module doc).
pub fn derive_config(trace: &Trace<String>) -> Result<MembershipConfig, Mismatch> {
    for s in &trace.steps {
        match s.step {
            Step::Drop { .. } => {
                return Err(Mismatch::Unsupported(
                    "the membership model loses no message (a drop step)".into(),
                ))
            }
            Step::Restart { .. } => {
                return Err(Mismatch::Unsupported(
                    "a node of the membership model crashes for good (a restart step)".into(),
                ))
            }
            _ => {}
        }
    }
    if trace.config.spec().is_err() {
        return Err(Mismatch::Unsupported("an invalid cluster".into()));
    }
    let mut best: Option<Fit> = None;
    let mut reasons = Vec::new();
    for &scenario in Scenario::value_variants() {
        let cfg = MembershipConfig {
            rounds: trace.config.max_attempts,
            ..MembershipConfig::new(scenario)
        };
        match fit(cfg, trace) {
            Ok(f)
                if best
                    .as_ref()
                    .is_none_or(|b| f.agreeing_installs > b.agreeing_installs) =>
            {
                best = Some(f)
            }
            Ok(_) => {}
            Err(why) => reasons.push(format!("{}: {why}", scenario.name())),
        }
    }
    best.map(|f| f.cfg).ok_or_else(|| {
        Mismatch::Unsupported(format!(
            "the trace fits no membership scenario ({})",
            reasons.join("; ")
        ))
    })
}

/// The generation the admin must be at for `step`: an install's, or a catch-up read's.
fn admin_generation_for(model: &MembershipModel, step: &Step<String>) -> Option<u64> {
    match step {
        Step::Install { configuration, .. } => Some(configuration.generation),
        Step::Request { node, request, .. } if node.0 as usize == model.cfg.catch_up_node() + 1 => {
            catch_up_generation(*request)
        }
        _ => None,
    }
}

/// The admin's `Advance`s up to the generation `step` needs, as far as they are enabled.
fn advance_for(
    model: &MembershipModel,
    mut state: MembershipState,
    step: &Step<String>,
) -> MembershipState {
    let Some(g) = admin_generation_for(model, step) else {
        return state;
    };
    while state.admin.generation < g {
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        match actions
            .contains(&Action::Advance)
            .then(|| model.apply(&state, &Action::Advance))
            .flatten()
        {
            Some((next, _)) => state = next,
            None => break,
        }
    }
    state
}

/// The enabled actions of `state` with their trace step and the state they reach.
fn enabled_steps(
    model: &MembershipModel,
    state: &MembershipState,
) -> Vec<(Action, TraceStep<String>, MembershipState)> {
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions
        .into_iter()
        .filter_map(|a| {
            let (after, effects) = model.apply(state, &a)?;
            let mut steps = steps_of(model, state, &a, &after, &effects);
            (steps.len() == 1).then(|| (a, steps.remove(0), after))
        })
        .collect()
}

fn configuration_text(c: &TraceConfiguration) -> String {
    c.configuration()
        .map_or_else(|_| format!("{c:?}"), |c| notation::configuration(&c))
}

/// Why `step` is no enabled action in `state`, as the divergence at `index`.
fn not_enabled(
    model: &MembershipModel,
    state: &MembershipState,
    trace: &Trace<String>,
    index: usize,
) -> Box<Divergence> {
    let step = &trace.steps[index].step;
    let at = |what: String, expected: String, actual: String| {
        Box::new(Divergence::at(trace, index, what, expected, actual))
    };
    let running =
        |id: synod_core::NodeId| node_state(state, (id.0 as usize).wrapping_sub(1)).is_some();
    match step {
        Step::Deliver { from, to, msg } => at(
            format!("message n{from} → n{to} in flight"),
            format!("{} was sent", notation::message(msg)),
            if running(*to) {
                "not enabled: it was never sent, or it is an answer delivered already".into()
            } else {
                format!("not enabled: n{to} does not run (it has not joined, or it crashed)")
            },
        ),
        Step::Install {
            node,
            configuration,
        } => {
            let next = enabled_steps(model, state)
                .into_iter()
                .find_map(|(a, s, _)| match (a, s.step) {
                    (
                        Action::Install(_),
                        Step::Install {
                            node,
                            configuration,
                        },
                    ) => Some((node, configuration)),
                    _ => None,
                });
            let expected = configuration_text(configuration);
            match next {
                Some((n, c)) if n == *node => at(
                    format!("configuration installed on n{node}"),
                    expected,
                    format!("the admin installs {}", configuration_text(&c)),
                ),
                Some((n, c)) => at(
                    format!("install on n{node}"),
                    expected,
                    format!(
                        "not enabled: the admin installs {} on n{n} next (one node at a time, by id)",
                        configuration_text(&c)
                    ),
                ),
                None => at(
                    format!("install on n{node}"),
                    expected,
                    format!(
                        "not enabled: the admin, at generation {}, has nothing to install (every live member runs it, and the next step is not started)",
                        state.admin.generation
                    ),
                ),
            }
        }
        Step::Request { node, request, op } => at(
            format!("request {} at n{node}", request.0),
            format!("{op:?} to be sent"),
            "not enabled: not the next operation of the client at that node (or it waits for an answer), nor the admin's due catch-up read".into(),
        ),
        Step::Timeout { node, timer } => at(
            format!("{timer:?} timer at n{node}"),
            "set".into(),
            "not enabled: not set, or the node does not run".into(),
        ),
        Step::Crash { node } => at(
            format!("crash of n{node}"),
            "a crash".into(),
            "not enabled: the node does not run".into(),
        ),
        Step::Drop { .. } | Step::Restart { .. } => at(
            "step".into(),
            format!("{step:?}"),
            "not an action of the membership model".into(),
        ),
    }
}

/// Whether a model action's trace step is the file's `step`: the same step, an install's
/// configuration compared as a configuration (its member lists in any order).
fn same_step(model_step: &Step<String>, step: &Step<String>) -> bool {
    match (model_step, step) {
        (
            Step::Install {
                node: a,
                configuration: ca,
            },
            Step::Install {
                node: b,
                configuration: cb,
            },
        ) => a == b && ca.configuration().is_ok() && ca.configuration() == cb.configuration(),
        _ => model_step == step,
    }
}

/// Replays `trace` in the membership model; `Ok(steps)` when every step was an enabled action
/// and every expectation held.
pub fn check_trace(trace: &Trace<String>) -> Result<usize, Mismatch> {
    let model = MembershipModel::new(derive_config(trace)?);
    let mut state = model.init_states().remove(0);
    for (index, ts) in trace.steps.iter().enumerate() {
        state = advance_for(&model, state, &ts.step);
        let Some((_, actual, after)) = enabled_steps(&model, &state)
            .into_iter()
            .find(|(_, s, _)| same_step(&s.step, &ts.step))
        else {
            return Err(Mismatch::Diverged(not_enabled(
                &model, &state, trace, index,
            )));
        };
        let outputs = actual.expect.and_then(|e| e.outputs);
        check_step(trace, index, outputs.as_deref(), |id| {
            node_state(&after, (id.0 as usize).wrapping_sub(1))
        })
        .map_err(Mismatch::Diverged)?;
        state = after;
    }
    Ok(trace.steps.len())
}
