//! The membership model's reductions: after every action, the checked model
//! ([`MembershipModel::reduced`]) forgets what can never influence the future, so that runs
//! which differ only in it are one state. Each rule only removes information; the explored
//! behaviours, and everything the properties read, are unchanged. `tests/membership.rs` checks
//! it: on configurations small enough to explore without them, the reachable observations with
//! and without the reductions are the same sets.
//!
//! * **A `Stale` nobody will act on.** A `Stale` makes its receiver install the configuration it
//!   carries if that is newer than its own. A node's generation only grows, and a node that has
//!   not joined yet joins at the admin's generation, which is at least that of every `Stale`
//!   (a `Stale` carries its sender's configuration, which the admin installed). So a `Stale`
//!   to a node at that generation or above, or to one that has not joined, is a no-op forever.
//! * **A dead answer.** A `Promise`, `Accepted` or `Reject` whose delivery leaves its receiver's
//!   node unchanged and outputs nothing — checked by stepping a copy of the real node — is
//!   removed. It stays a no-op: an answer of an older generation than its receiver's is ignored
//!   and generations only grow; one of the receiver's generation answers a ballot the receiver
//!   issued, and a proposer never runs a ballot again once it moved past it, while a learner
//!   counts only its own node's newest proposal (its count restarts only on an install, which
//!   moves the generation). Nodes never restart (a crash is for good), so no volatile state comes
//!   back.
//! * **A refused request nobody will act on.** A `Prepare` or `Accept` of an older generation
//!   than its receiver's is never answered but by a `Stale` (the receiver's generation only
//!   grows); once its sender is at the plan's last generation (or crashed), that `Stale` would
//!   be dead on arrival, so the request is removed.
//! * **A dead generation clock.** A node that will take no further request (its client's script
//!   is over; for the catch-up node, no catch-up is left for the admin to send) and whose current
//!   request starts no more rounds never reads its clock again: it is reset
//!   (`synod_core::Node::forget_clock`), so that two clocks that differ only there are one state.
//!   A dead answer is judged after the same reset, so a `Reject` that would only move a dead clock
//!   is dead too.
//!
//! Trace export, `traces check` and the guided paths use the model without them
//! ([`MembershipModel::new`]); a check's counterexample is a path of the reduced model, whose
//! every action is also an action of the faithful one (the reductions only remove envelopes and
//! reset dead clocks), and the report lists that path.

use super::model::MembershipModel;
use super::state::{CatchUp, Envelope, MembershipState};
use super::MembershipBug;
use synod_core::{Input, Message, Node};

/// Applies the reductions to `state` (see the module docs).
pub fn normalize(model: &MembershipModel, state: &mut MembershipState) {
    for i in 0..state.nodes.len() {
        if !takes_requests(model, state, i) {
            if let Some(node) = state.nodes[i].node.as_mut() {
                node.forget_clock();
            }
        }
    }
    let dead: Vec<Envelope> = state
        .network
        .iter()
        .filter(|env| is_dead(model, state, env))
        .cloned()
        .collect();
    for env in dead {
        state.network.remove(&env);
    }
}

/// Whether node `i` may still be handed a request: by its client (client `i` talks to node
/// `i`) or, for the catch-up node, by the admin.
fn takes_requests(model: &MembershipModel, state: &MembershipState, i: usize) -> bool {
    let scripts = model.cfg.scripts();
    let client_left = state
        .clients
        .get(i)
        .is_some_and(|c| (c.sent as usize) < scripts[i].len());
    let g = state.admin.generation as usize;
    let catch_up_left = i == model.cfg.catch_up_node()
        && model.cfg.bug != Some(MembershipBug::SkipCatchUp)
        && model.steps.iter().enumerate().any(|(j, step)| {
            step.catch_up_first && (j > g || (j == g && state.admin.catch_up == CatchUp::Idle))
        });
    client_left || catch_up_left
}

/// Whether delivering `env` can never change anything: a dead `Stale`, a dead answer or a
/// refused request nobody will act on (see the module docs).
fn is_dead(model: &MembershipModel, state: &MembershipState, env: &Envelope) -> bool {
    let i = env.dst.0 as usize - 1;
    let slot = &state.nodes[i];
    let Some(node) = slot.node.as_ref() else {
        // Not joined yet: it joins at the admin's generation, newer than any `Stale` sent so far,
        // and nobody sends it anything else before it joins.
        return matches!(unwrapped(&env.msg).1, Message::Stale { .. });
    };
    let (generation, msg) = unwrapped(&env.msg);
    match msg {
        Message::Stale { configuration } => configuration.generation() <= node.generation(),
        Message::Promise { .. } | Message::Accepted { .. } | Message::Reject { .. } => {
            let mut copy: Node<_> = node.clone();
            let mut out = Vec::new();
            copy.step(
                Input::Message {
                    from: env.src,
                    msg: env.msg.clone(),
                },
                &mut out,
            );
            if !takes_requests(model, state, i) {
                copy.forget_clock();
            }
            out.is_empty() && copy == *node
        }
        request if request.is_request() => {
            // Refused for good: of an older generation than its receiver's, so it only ever
            // draws a `Stale` — one its sender, at the plan's last generation already, ignores.
            let sender = &state.nodes[env.src.0 as usize - 1];
            let sender_done =
                sender.crashed || sender.generation() == Some(model.last_generation());
            generation < node.generation() && sender_done
        }
        _ => false,
    }
}

/// The generation of a message and the message inside its wrapper (a malformed, doubly wrapped
/// one, which no node sends, as generation 0).
fn unwrapped<V: Clone>(msg: &Message<V>) -> (u64, Message<V>) {
    msg.clone()
        .generation_of()
        .unwrap_or_else(|| (0, msg.clone()))
}
