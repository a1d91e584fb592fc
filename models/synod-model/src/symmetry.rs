//! Symmetry reduction: nodes that never propose (and have no client) are interchangeable, so a
//! state and the same state with such nodes renamed are explored once.
//!
//! Proposers are *not* interchangeable: their values differ and ballots break ties by node id,
//! so renaming them would change which ballot wins. The passive nodes' ids appear only in
//! tallies, envelopes and their own configuration, all renamed by `synod_core::Relabel`.
//!
//! The representative sorts the passive nodes by their id-free state (acceptor state, durable
//! state, ghost, learned, crashed, timers). Ties are broken by the original order, which keeps
//! the reduction sound (equal representatives are renamings of each other) if not always
//! maximal. stateright 0.31 applies a representative in depth-first search only.

use crate::actor::{ActorState, NodeState, Storage};
use crate::config::node_id;
use crate::message::ModelMsg;
use crate::properties::SystemState;
use crate::Protocol;
use stateright::actor::{Envelope, Id, Network};
use std::sync::Arc;
use synod_core::{NodeId, Relabel};

/// The representative of `state`'s class under renaming of its passive nodes.
pub fn representative<P: Protocol>(state: &SystemState<P>) -> SystemState<P> {
    let nodes = state
        .actor_states
        .iter()
        .filter(|s| matches!(***s, ActorState::Node(_)))
        .count();
    let passive: Vec<usize> = (state.history.first_passive()..nodes).collect();
    if passive.len() < 2 {
        return state.clone();
    }
    let mut order = passive.clone();
    order.sort_by(|a, b| sort_key(state, *a).cmp(&sort_key(state, *b)).then(a.cmp(b)));
    // order[k] is the old index that moves to slot passive[k].
    let mut to_new: Vec<usize> = (0..state.actor_states.len()).collect();
    for (slot, old) in passive.iter().zip(&order) {
        to_new[*old] = *slot;
    }
    if to_new.iter().enumerate().all(|(i, j)| i == *j) {
        return state.clone();
    }
    let map = |n: NodeId| -> NodeId {
        let i = n.0 as usize;
        if (1..=nodes).contains(&i) {
            node_id(to_new[i - 1])
        } else {
            n
        }
    };
    let id = |i: Id| {
        Id::from(
            to_new
                .get(usize::from(i))
                .copied()
                .unwrap_or(usize::from(i)),
        )
    };
    let mut next = state.clone();
    for (old, s) in state.actor_states.iter().enumerate() {
        next.actor_states[to_new[old]] = Arc::new(match &**s {
            ActorState::Node(n) => ActorState::Node(NodeState {
                node: n.node.relabel(&map),
                durable: n.durable.relabel(&map),
                ghost: n.ghost.clone(),
            }),
            other => other.clone(),
        });
        next.timers_set[to_new[old]] = state.timers_set[old].clone();
        next.random_choices[to_new[old]] = state.random_choices[old].clone();
        next.crashed[to_new[old]] = state.crashed[old];
        next.actor_storages[to_new[old]] = state.actor_storages[old].as_ref().map(|st| Storage {
            durable: st.durable.relabel(&map),
            ghost: st.ghost.clone(),
        });
    }
    let rename = |e: &Envelope<ModelMsg>| Envelope {
        src: id(e.src),
        dst: id(e.dst),
        msg: match &e.msg {
            ModelMsg::Peer(m) => ModelMsg::Peer(m.relabel(&map)),
            other => other.clone(),
        },
    };
    next.network = match &state.network {
        Network::UnorderedDuplicating(set, _) => {
            Network::new_unordered_duplicating(set.iter().map(rename))
        }
        Network::UnorderedNonDuplicating(multiset) => Network::new_unordered_nonduplicating(
            multiset
                .iter()
                .flat_map(|(e, n)| std::iter::repeat_n(rename(e), *n)),
        ),
        Network::Ordered(channels) => Network::new_ordered(
            channels
                .iter()
                .flat_map(|((s, d), q)| {
                    q.iter().map(move |m| Envelope {
                        src: *s,
                        dst: *d,
                        msg: m.clone(),
                    })
                })
                .map(|e| rename(&e))
                .collect::<Vec<_>>(),
        ),
    };
    next
}

/// What distinguishes a passive node apart from its name.
fn sort_key<P: Protocol>(state: &SystemState<P>, i: usize) -> impl Ord + '_ {
    let node = match &*state.actor_states[i] {
        ActorState::Node(n) => Some((
            n.node.acceptor().state(),
            &n.durable,
            &n.ghost,
            n.node.learned(),
            n.node.proposer().generation(),
        )),
        ActorState::Client(_) => None,
    };
    let mut timers: Vec<_> = state.timers_set[i].iter().copied().collect();
    timers.sort();
    (node, state.crashed[i], timers)
}
