//! Guided paths through the membership model, where a search does not reach (or not in the time
//! a test may take): walks that take, phase by phase, the first enabled model action a phase
//! admits.
//!
//! * [`replacement`] — crashed node 3 replaced by node 4 with the catch-up, a write before and a
//!   read after (the exhaustive search does not reach it yet, CHANGELOG issue 18);
//!   `tests/membership.rs` runs it with and without the `skip-catch-up` double, and `synod-model
//!   traces export` writes the correct run as a trace;
//! * [`stale_adoption`] — a proposer that lags adopts the newer configuration from a `Stale` and
//!   retries in it (breadth-first, the grow scenario with both clients takes minutes and
//!   gigabytes to reach that); the export minimises it.

use super::model::{Action, MembershipModel};
use super::scenario::{MembershipBug, MembershipConfig, Scenario};
use super::state::{Envelope, MembershipState};
use stateright::Model;
use synod_core::Timer;

/// The longest walk of one phase: a walk that gets there loops.
const PHASE_LIMIT: usize = 300;

/// A guided replacement: the model it ran in, its actions, and the state after each phase.
pub struct GuidedReplacement {
    /// The model (no round timers, no lagging nodes: the admin installs every live node at
    /// once).
    pub model: MembershipModel,
    /// Every action taken, in order.
    pub path: Vec<Action>,
    /// After the write: client 0's `put:a`, heard by nodes 1 and 3 only.
    pub written: MembershipState,
    /// After node 3's crash and every step of the change.
    pub changed: MembershipState,
    /// After client 1's `read` at node 2, hearing only node 4.
    pub read: MembershipState,
}

/// Whether client `c` sent its one operation and was answered.
pub fn answered(state: &MembershipState, c: usize) -> bool {
    state.clients[c].sent == 1 && state.clients[c].waiting.is_none()
}

/// One phase of [`replacement`]: takes the first enabled action that `allowed` admits and that
/// changes the state, until there is none. A message is delivered once on the walk (a
/// redelivered request only draws the same answer).
fn walk(
    model: &MembershipModel,
    mut state: MembershipState,
    path: &mut Vec<Action>,
    allowed: impl Fn(&Action) -> bool,
) -> MembershipState {
    for _ in 0..PHASE_LIMIT {
        let mut actions = Vec::new();
        model.actions(&state, &mut actions);
        let next = actions
            .into_iter()
            .filter(|a| allowed(a) && !(matches!(a, Action::Deliver(_)) && path.contains(a)))
            .find_map(|a| model.next_state(&state, a.clone()).map(|s| (a, s)));
        let Some((action, next)) = next else {
            return state;
        };
        path.push(action);
        state = next;
    }
    panic!(
        "the guided walk loops: {:?}",
        &path[path.len().saturating_sub(5)..]
    );
}

/// Node 2 lags and adopts the newer configuration from a `Stale` (grow 3 → 4, both clients, two
/// attempts per request): its `put:b` goes out in generation 0; the admin installs generation 1
/// on node 1 alone; node 1 refuses node 2's `Prepare` with `Stale`, and node 2 installs
/// generation 1 from it, which ends its round; its backoff fires and it retries in generation 1,
/// with the admin installing generation 1 where it is still missing, until nothing is left to
/// do (no round timer fires, and client 0 sends nothing). Returns the model and the path.
pub fn stale_adoption() -> (MembershipModel, Vec<Action>) {
    let cfg = MembershipConfig {
        rounds: 2,
        ..MembershipConfig::new(Scenario::Grow)
    };
    let model = MembershipModel::new(cfg);
    let mut path = Vec::new();
    let init = model.init_states().remove(0);
    let proposed = walk(&model, init, &mut path, |a| *a == Action::Invoke(1));
    // One step of the plan started (the next waits for an install), installed on node 1 alone.
    let started = walk(&model, proposed, &mut path, |a| *a == Action::Advance);
    let installed = walk(&model, started, &mut path, |a| *a == Action::Install(0));
    let adopted = walk(&model, installed, &mut path, |a| match a {
        Action::Deliver(e) => between(e, &[1, 2]),
        _ => false,
    });
    walk(&model, adopted, &mut path, |a| match a {
        Action::Timeout(1, Timer::Backoff) | Action::Install(_) => true,
        Action::Deliver(e) => new_generation(e),
        _ => false,
    });
    (model, path)
}

/// Whether `e` carries a message of a generation above 0.
fn new_generation(e: &Envelope) -> bool {
    e.msg.clone().generation_of().is_some_and(|(g, _)| g > 0)
}

/// Whether `e` travels between two of `nodes`.
fn between(e: &Envelope, nodes: &[u8]) -> bool {
    nodes.contains(&e.src.0) && nodes.contains(&e.dst.0)
}

/// The replacement of node 3 by node 4 (`replace-crashed`, with `bug` if any): client 0's
/// `put:a` is chosen by nodes 1 and 3 alone (node 2 hears nothing of it); node 3 crashes for
/// good; the admin walks every step of the change, running a catch-up where the model offers
/// one (through nodes 1, 2 and 4, on messages of the new generations only: node 2 still never
/// hears the write's own round); then client 1 reads at node 2, hearing only node 4.
pub fn replacement(bug: Option<MembershipBug>) -> GuidedReplacement {
    let mut cfg = MembershipConfig::new(Scenario::ReplaceCrashed);
    cfg.timeouts = false;
    cfg.lagging = false;
    cfg.bug = bug;
    let model = MembershipModel::new(cfg);
    let mut path = Vec::new();
    let written = walk(
        &model,
        model.init_states().remove(0),
        &mut path,
        |a| match a {
            Action::Invoke(0) => true,
            Action::Deliver(e) => between(e, &[1, 3]),
            _ => false,
        },
    );
    let crashed = walk(&model, written.clone(), &mut path, |a| {
        *a == Action::Crash(2)
    });
    let changed = walk(&model, crashed, &mut path, |a| match a {
        Action::Install(_) | Action::Advance | Action::CatchUp => true,
        Action::Deliver(e) => between(e, &[1, 2, 4]) && new_generation(e),
        _ => false,
    });
    let read = walk(&model, changed.clone(), &mut path, |a| match a {
        Action::Invoke(1) => true,
        Action::Deliver(e) => between(e, &[2, 4]),
        _ => false,
    });
    GuidedReplacement {
        model,
        path,
        written,
        changed,
        read,
    }
}
