//! Judging one replayed step of a trace against the step's expectation: its outputs exactly and
//! in order, then every expected node's state; the first difference is a [`Divergence`] told in
//! the notation of the listings ([`crate::notation`]). The model's trace validation — with fixed
//! membership and through a membership change — judges every step with it.

use crate::notation;
use crate::trace::{Divergence, NodeState, Trace};
use std::fmt::Display;
use synod_core::{NodeId, Output};

/// Whether what a replay did at `step` of `trace` meets the step's expectation (a step without
/// one meets it): `outputs` are the step's core outputs (`None` when the step was no node
/// event), `state_of` gives a node's state after the step (`None` when there is no such node).
pub fn check_step<V: PartialEq + Display>(
    trace: &Trace<V>,
    step: usize,
    outputs: Option<&[Output<V>]>,
    mut state_of: impl FnMut(NodeId) -> Option<NodeState<V>>,
) -> Result<(), Box<Divergence>> {
    let Some(expect) = trace.steps.get(step).and_then(|s| s.expect.as_ref()) else {
        return Ok(());
    };
    let diverged = |what: String, expected: String, actual: String| {
        Box::new(Divergence::at(trace, step, what, expected, actual))
    };
    if let Some(expected) = &expect.outputs {
        if outputs != Some(expected.as_slice()) {
            return Err(diverged(
                "outputs".into(),
                notation::outputs(expected),
                outputs.map_or("no node event".into(), notation::outputs),
            ));
        }
    }
    for (id, expected) in &expect.nodes {
        match state_of(*id) {
            Some(actual) if &actual == expected => {}
            actual => {
                return Err(diverged(
                    format!("state of node {id}"),
                    notation::node_state(expected),
                    actual.map_or("no such node".into(), |a| notation::node_state(&a)),
                ))
            }
        }
    }
    Ok(())
}
