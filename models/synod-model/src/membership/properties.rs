//! The membership model's properties.
//!
//! **Always**: `agreement` (at most one value chosen per ballot), `learned is chosen` (every
//! learned proposal was chosen), `linearizable` (the clients' history). *Chosen* is judged by the
//! ghost history of acceptances against the configuration of the generation each acceptor was
//! in when it accepted: `q2` members of that generation's accept set. (A round belongs to one
//! generation, so a proposal is accepted in one generation only.)
//!
//! **Sometimes** (each step is reached): `generation g installed` for every step of the plan,
//! `value chosen in the last generation`, and, where the plan has one, `catch-up answered`; with
//! a crashable node, `replaced after a crash` (the last generation installed after the crash).

use super::model::{MembershipModel, OfMembership};
use super::state::{CatchUp, MembershipState};
use crate::value::Value;
use stateright::Property;
use std::collections::BTreeMap;
use synod_core::{Ballot, Proposal};

/// Whether `proposal` was chosen: `q2` acceptors of one generation's accept set accepted it.
pub fn is_chosen(model: &MembershipModel, state: &MembershipState, p: &Proposal<Value>) -> bool {
    state.accepts.get(p).is_some_and(|by_generation| {
        by_generation.iter().any(|(&g, voters)| {
            let c = model.configuration(g);
            voters.iter().filter(|n| c.accept().contains(*n)).count() >= c.q2()
        })
    })
}

fn chosen<'a>(
    model: &'a MembershipModel,
    state: &'a MembershipState,
) -> impl Iterator<Item = &'a Proposal<Value>> + 'a {
    state.accepts.keys().filter(|p| is_chosen(model, state, p))
}

fn agreement<M: OfMembership>(model: &M, state: &MembershipState) -> bool {
    let model = model.membership();
    let mut by_ballot: BTreeMap<Ballot, &Option<Value>> = BTreeMap::new();
    chosen(model, state).all(|p| *by_ballot.entry(p.ballot).or_insert(&p.value) == &p.value)
}

fn learned_is_chosen<M: OfMembership>(model: &M, state: &MembershipState) -> bool {
    let model = model.membership();
    state
        .nodes
        .iter()
        .filter_map(|n| n.node.as_ref()?.learned())
        .all(|p| is_chosen(model, state, p))
}

fn linearizable<M: OfMembership>(_: &M, state: &MembershipState) -> bool {
    state.linearizable
}

/// Some node is at generation `G` or later.
fn installed<M: OfMembership, const G: u64>(_: &M, state: &MembershipState) -> bool {
    state.nodes.iter().any(|n| n.generation() >= Some(G))
}

/// A value was chosen in the plan's last generation.
pub fn chosen_in_last_generation(model: &MembershipModel, state: &MembershipState) -> bool {
    let last = model.last_generation();
    chosen(model, state).any(|p| state.accepts[p].contains_key(&last))
}

fn catch_up_answered<M: OfMembership>(_: &M, state: &MembershipState) -> bool {
    state.admin.catch_up == CatchUp::Done
}

fn replaced_after_crash<M: OfMembership>(model: &M, state: &MembershipState) -> bool {
    let last = model.membership().last_generation();
    state.nodes.iter().any(|n| n.crashed)
        && state.nodes.iter().any(|n| n.generation() == Some(last))
}

/// A property's condition, in the model `M`.
type Condition<M> = fn(&M, &MembershipState) -> bool;

/// `generation g installed`, for g = 1..=8 (a plan of four member changes).
fn installed_conditions<M: OfMembership>() -> [(&'static str, Condition<M>); 8] {
    [
        ("generation 1 installed", installed::<M, 1>),
        ("generation 2 installed", installed::<M, 2>),
        ("generation 3 installed", installed::<M, 3>),
        ("generation 4 installed", installed::<M, 4>),
        ("generation 5 installed", installed::<M, 5>),
        ("generation 6 installed", installed::<M, 6>),
        ("generation 7 installed", installed::<M, 7>),
        ("generation 8 installed", installed::<M, 8>),
    ]
}

/// The properties of `model`, as properties of `M` (the model itself, or its quorum
/// transitions).
pub fn all<M: OfMembership>(model: &MembershipModel) -> Vec<Property<M>> {
    let mut properties = vec![
        Property::always("agreement", agreement::<M> as Condition<M>),
        Property::always("learned is chosen", learned_is_chosen::<M> as Condition<M>),
        Property::always("linearizable", linearizable::<M> as Condition<M>),
    ];
    for (name, condition) in installed_conditions::<M>()
        .into_iter()
        .take(model.last_generation() as usize)
    {
        properties.push(Property::sometimes(name, condition));
    }
    properties.push(Property::sometimes(
        "value chosen in the last generation",
        (|m: &M, s: &MembershipState| chosen_in_last_generation(m.membership(), s)) as Condition<M>,
    ));
    if model.steps.iter().any(|s| s.catch_up_first) && model.cfg.bug.is_none() {
        properties.push(Property::sometimes(
            "catch-up answered",
            catch_up_answered::<M> as Condition<M>,
        ));
    }
    if model.cfg.crashable().is_some() {
        properties.push(Property::sometimes(
            "replaced after a crash",
            replaced_after_crash::<M> as Condition<M>,
        ));
    }
    properties
}
