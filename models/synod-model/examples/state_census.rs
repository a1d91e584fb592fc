//! Which part of the state multiplies the state space? Explores a consensus configuration
//! exhaustively (depth-first, single-threaded), projects every reachable state onto parts of it
//! and counts the distinct projections. docs/model.md quotes its output for 2 rounds.
//!
//! `cargo run --release -p synod-model --example state_census -- [ROUNDS]` (default 2; 3 nodes,
//! 2 proposers). Memory grows with the state count: 2 rounds need about 1 GB.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};
use synod_model::actor::ActorState;
use synod_model::properties::{history, SystemState};
use synod_model::walk::each_reachable_state;
use synod_model::{model, Correct, ModelConfig};

fn hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// A projection: which parts of a state to keep.
struct Parts {
    name: &'static str,
    network: bool,
    ghost: bool,
    /// Keep only the acceptance records that are chosen or a node's current proposal.
    prune_minority: bool,
}

fn project(state: &SystemState<Correct>, parts: &Parts, q2: usize) -> u64 {
    let accepts = history(state);
    let nodes: Vec<u64> = state
        .actor_states
        .iter()
        .map(|a| match &**a {
            ActorState::Node(n) if parts.ghost => {
                let current = n.node.acceptor().state().accepted.as_ref();
                let kept: Vec<_> = n
                    .ghost
                    .accepts
                    .iter()
                    .filter(|r| {
                        !parts.prune_minority
                            || accepts.count(r.ballot, r.value) >= q2
                            || current.is_some_and(|c| c.ballot == r.ballot)
                    })
                    .collect();
                let g = &n.ghost;
                hash(&(&n.node, kept, g.reached_accept, g.restarts, &g.reply))
            }
            ActorState::Node(n) => hash(&n.node),
            ActorState::Client(c) => hash(c),
        })
        .collect();
    if parts.network {
        hash(&(nodes, &state.network, &state.timers_set))
    } else {
        hash(&nodes)
    }
}

fn main() {
    let rounds = std::env::args()
        .nth(1)
        .map_or(2, |r| r.parse().expect("ROUNDS"));
    let cfg = ModelConfig::consensus(3, 2, rounds);
    let model = model::build(&cfg, Correct).expect("valid configuration");
    let mut states = Vec::new();
    each_reachable_state(&model, |s| states.push(s.clone()));
    println!("{} unique states ({rounds} rounds)", states.len());
    let all = |name, network, ghost, prune_minority| Parts {
        name,
        network,
        ghost,
        prune_minority,
    };
    for parts in [
        all("the nodes' core state", false, false, false),
        all("core state + network and timers", true, false, false),
        all("+ ghost, minority acceptances dropped", true, true, true),
        all("everything (core, network, ghost)", true, true, false),
    ] {
        let distinct: HashSet<u64> = states
            .iter()
            .map(|s| project(s, &parts, cfg.q2()))
            .collect();
        println!("{:40} {}", parts.name, distinct.len());
    }
}
