//! The seam between the model and the protocol: every event an actor receives is handed to a
//! [`Protocol`], which steps a `synod_core::Node`.
//!
//! [`Correct`] is the code that ships: it calls [`Node::step`] and nothing else. The buggy test
//! doubles in [`crate::bugs`] implement the same trait by wrapping that call, so a bug is
//! injected without a single switch in production code.

use crate::value::Value;
use synod_core::{Input, Node, Output};

/// How a node actor turns one input into outputs.
pub trait Protocol: Clone + Send + Sync + 'static {
    /// A short name for reports.
    fn name(&self) -> &'static str;

    /// Steps `node` with `input`, appending its outputs in order (the core's step contract).
    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>);

    /// Whether a `Prepare` or `Accept` that changes nothing at a node now changes nothing there
    /// ever after (while the node does not restart). True of the real acceptor, whose promise
    /// only grows and which accepts only at or above it; the model's normalization drops such
    /// requests when their sender is retired. A double that breaks it must say so.
    fn stale_requests_stay_stale(&self) -> bool {
        true
    }

    /// Whether a node's handling of `msg` depends on its sender. The model's normalization
    /// keeps one copy of a message for which it does not ([`synod_core::Message::sender_matters`],
    /// true of the real core). A double that reads the sender of a `Reject` or `Commit` must say so.
    fn sender_matters(&self, msg: &synod_core::Message<crate::Value>) -> bool {
        msg.sender_matters()
    }
}

/// The protocol exactly as shipped: `Node::step`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Correct;

impl Protocol for Correct {
    fn name(&self) -> &'static str {
        "correct"
    }

    fn step(&self, node: &mut Node<Value>, input: Input<Value>, out: &mut Vec<Output<Value>>) {
        node.step(input, out);
    }
}
