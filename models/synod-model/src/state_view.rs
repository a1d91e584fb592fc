//! The Explorer's compact view of one state, in the notation of `check`'s listings
//! (docs/model.md): the step that led to it with its `⇒` changes and the envelopes the model's
//! reductions dropped on it, one line per node, one line per envelope in flight, the chosen
//! proposals, and every property judged at this state.

use crate::counterexample::{actor_line, changes, fmt_envelope, step_line};
use crate::message::Action;
use crate::model::SynodModel;
use crate::properties::SystemState;
use crate::state_properties::{chosen_proposals, judge};
use crate::Protocol;
use stateright::{Model, Path};
use std::fmt::Write;

/// The compact view of the last state of `path` (a path of `model`).
pub fn render<P: Protocol>(model: &SynodModel<P>, path: &Path<SystemState<P>, Action>) -> String {
    let n = model.cfg.nodes;
    let steps = path.clone().into_vec();
    let mut out = String::new();
    match steps.iter().rev().nth(1) {
        Some((before, Some(action))) => {
            let after = path.last_state();
            let (line, touched) = step_line(n, action, after);
            let _ = writeln!(out, "step {}: {line}", steps.len() - 1);
            if let Some(c) = touched.map(|i| changes(before, after, i)) {
                if !c.is_empty() {
                    let _ = writeln!(out, "{c}");
                }
            }
            for dropped in dropped_by_reduction(model, before, action, after) {
                let _ = writeln!(out, "   dropped (can no longer matter): {dropped}");
            }
        }
        _ => out.push_str("initial state\n"),
    }
    let state = path.last_state();
    for i in 0..state.actor_states.len() {
        let _ = writeln!(out, "{}", actor_line(n, state, i));
    }
    let network = envelopes(n, state);
    let _ = writeln!(out, "network ({}):", network.len());
    for e in &network {
        let _ = writeln!(out, "  {e}");
    }
    let chosen = chosen_proposals(model, state);
    let none = vec!["nothing".to_string()];
    let _ = writeln!(
        out,
        "chosen: {}",
        if chosen.is_empty() { &none } else { &chosen }.join(", ")
    );
    for judgement in judge(model, state) {
        let _ = writeln!(out, "{judgement}");
    }
    out
}

/// Every envelope in flight in `state`, one line each, sorted (a copy a non-duplicating network
/// holds twice is listed twice).
pub fn envelopes<P: Protocol>(model_nodes: usize, state: &SystemState<P>) -> Vec<String> {
    let mut lines: Vec<String> = state
        .network
        .iter_all()
        .map(|e| fmt_envelope(model_nodes, e.src, e.dst, e.msg))
        .collect();
    lines.sort();
    lines
}

/// The envelopes that stateright's actor model leaves in flight after `action` and the model's
/// normalization removed from `after` (they can no longer change anything: docs/model.md,
/// *State-space reductions*).
pub fn dropped_by_reduction<P: Protocol>(
    model: &SynodModel<P>,
    before: &SystemState<P>,
    action: &Action,
    after: &SystemState<P>,
) -> Vec<String> {
    let n = model.cfg.nodes;
    let Some(raw) = model.actors.next_state(before, action.clone()) else {
        return Vec::new();
    };
    let mut kept = envelopes(n, after);
    let mut dropped = Vec::new();
    for e in envelopes(n, &raw) {
        match kept.iter().position(|k| *k == e) {
            Some(i) => {
                kept.remove(i);
            }
            None => dropped.push(e),
        }
    }
    dropped
}
