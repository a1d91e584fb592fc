//! Deterministic paths through any stateright model, for trace export: a single-threaded
//! breadth-first search for the first state that reaches a target, the replay of an action list,
//! and its minimisation. The fixed-membership export (`trace_export`) and the membership one
//! (`membership::trace_export`) both find their paths here.
//!
//! A search may carry **path facts** — a byte of flags that a state alone does not show (a
//! message was lost, a `Stale` was adopted, …), folded in step by step by a `facts` function
//! `(state before, action, flags so far) → flags after`; the visited set is keyed by the state
//! and its facts. Actions are expanded in sorted order, so the same model gives the same path on
//! every run (stateright's own discoveries are overwritten and vary between threads).

use stateright::{Expectation, Model};
use std::collections::{HashSet, VecDeque};
use std::hash::Hash;

/// The most states one search may visit before giving up.
pub const STATE_BUDGET: usize = 2_000_000;

/// What a search found.
pub enum Found<A> {
    /// The target, reached by these actions.
    Target(Vec<A>),
    /// An always property violated on the way (name, actions).
    Counterexample(&'static str, Vec<A>),
}

/// The enabled successors of `state`, in a fixed order (the model's own order need not be),
/// inside the model's boundary.
fn successors<M>(model: &M, state: &M::State) -> Vec<(M::Action, M::State)>
where
    M: Model,
    M::Action: Clone + Ord,
{
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions.sort();
    actions
        .into_iter()
        .filter_map(|a| {
            let next = model.next_state(state, a.clone())?;
            model.within_boundary(&next).then_some((a, next))
        })
        .collect()
}

/// Breadth-first search from the initial state for the first state where `reached(state,
/// facts)` holds, checking every always property on every visited state. `facts` folds the path
/// facts in (only those the target reads: they are part of the visited key). `Err` is the number
/// of states visited when the search gave up (past [`STATE_BUDGET`], or the space exhausted).
pub fn search<M>(
    model: &M,
    facts: impl Fn(&M::State, &M::Action, u8) -> u8,
    reached: impl Fn(&M::State, u8) -> bool,
) -> Result<Found<M::Action>, usize>
where
    M: Model,
    M::State: Clone + Hash + Eq,
    M::Action: Clone + Ord,
{
    let always: Vec<_> = model
        .properties()
        .into_iter()
        .filter(|p| p.expectation == Expectation::Always)
        .collect();
    let init = model.init_states().remove(0);
    // Search tree: (parent, action) per node, the root first.
    let mut tree: Vec<(usize, Option<M::Action>)> = vec![(0, None)];
    let mut seen: HashSet<(M::State, u8)> = HashSet::new();
    let mut frontier: VecDeque<(usize, M::State, u8)> = VecDeque::new();
    seen.insert((init.clone(), 0));
    frontier.push_back((0, init, 0));
    let actions_to = |tree: &[(usize, Option<M::Action>)], mut at: usize| {
        let mut actions = Vec::new();
        while let Some(a) = &tree[at].1 {
            actions.push(a.clone());
            at = tree[at].0;
        }
        actions.reverse();
        actions
    };
    while let Some((at, state, f)) = frontier.pop_front() {
        if let Some(p) = always.iter().find(|p| !(p.condition)(model, &state)) {
            return Ok(Found::Counterexample(p.name, actions_to(&tree, at)));
        }
        if reached(&state, f) {
            return Ok(Found::Target(actions_to(&tree, at)));
        }
        if seen.len() > STATE_BUDGET {
            return Err(seen.len());
        }
        for (action, next) in successors(model, &state) {
            let nf = facts(&state, &action, f);
            if seen.insert((next.clone(), nf)) {
                tree.push((at, Some(action)));
                frontier.push_back((tree.len() - 1, next, nf));
            }
        }
    }
    Err(seen.len())
}

/// Replays `actions` from the initial state: `Some(final state, facts)` if every action is
/// enabled and every state inside the model's boundary.
pub fn replay<M>(
    model: &M,
    facts: impl Fn(&M::State, &M::Action, u8) -> u8,
    actions: &[M::Action],
) -> Option<(M::State, u8)>
where
    M: Model,
    M::Action: Clone + PartialEq,
{
    let mut state = model.init_states().remove(0);
    let mut f = 0;
    for action in actions {
        let mut enabled = Vec::new();
        model.actions(&state, &mut enabled);
        if !enabled.contains(action) {
            return None;
        }
        let next = model.next_state(&state, action.clone())?;
        if !model.within_boundary(&next) {
            return None;
        }
        f = facts(&state, action, f);
        state = next;
    }
    Some((state, f))
}

/// Drops single steps while the rest still replays and `end(final state, facts)` holds, until no
/// single step can be removed.
pub fn minimise<M>(
    model: &M,
    facts: impl Fn(&M::State, &M::Action, u8) -> u8,
    mut actions: Vec<M::Action>,
    end: impl Fn(&M::State, u8) -> bool,
) -> Vec<M::Action>
where
    M: Model,
    M::Action: Clone + PartialEq,
{
    let mut i = 0;
    while i < actions.len() {
        let mut shorter = actions.clone();
        shorter.remove(i);
        if replay(model, &facts, &shorter).is_some_and(|(s, f)| end(&s, f)) {
            actions = shorter;
            i = 0;
        } else {
            i += 1;
        }
    }
    actions
}
