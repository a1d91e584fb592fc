//! A plain walk over every reachable state of a model — depth-first, single-threaded, inside
//! the model's boundary — for tools and tests that need to look at each state (stateright's
//! checker only counts them). States are told apart by a 64-bit hash, as stateright does.

use stateright::Model;
use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Calls `visit` once on every reachable state of `model`; returns how many there are.
pub fn each_reachable_state<M>(model: &M, mut visit: impl FnMut(&M::State)) -> usize
where
    M: Model,
    M::State: Hash,
{
    let mut seen = HashSet::new();
    let mut stack: Vec<M::State> = model
        .init_states()
        .into_iter()
        .filter(|s| seen.insert(fingerprint(s)))
        .collect();
    let mut actions = Vec::new();
    while let Some(state) = stack.pop() {
        visit(&state);
        model.actions(&state, &mut actions);
        for action in actions.drain(..) {
            if let Some(next) = model.next_state(&state, action) {
                if model.within_boundary(&next) && seen.insert(fingerprint(&next)) {
                    stack.push(next);
                }
            }
        }
    }
    seen.len()
}

fn fingerprint<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}
