//! Which part of the membership model's state multiplies its state space? Explores a
//! membership configuration exhaustively (depth-first, single-threaded, with the checked model's
//! reductions and quorum transitions), projects every reachable state onto parts of it and
//! counts the distinct projections.
//!
//! `cargo run --release -p synod-model --example membership_census -- [grow|replace-crashed] [CLIENTS]`

use std::collections::{BTreeMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use synod_model::membership::quorum::MembershipQuorumModel;
use synod_model::membership::state::MembershipState;
use synod_model::membership::{MembershipConfig, MembershipModel, Scenario};
use synod_model::walk::each_reachable_state;

fn hash<T: Hash>(value: &T) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = match args.get(1).map(String::as_str) {
        Some("replace-crashed") => Scenario::ReplaceCrashed,
        _ => Scenario::Grow,
    };
    let mut cfg = MembershipConfig::new(scenario);
    cfg.clients = args
        .get(2)
        .map_or(2, |c| c.parse().expect("a client count"));
    let model = MembershipQuorumModel::new(MembershipModel::reduced(cfg.clone()));
    type Projection = fn(&MembershipState) -> u64;
    let projections: [(&str, Projection); 6] = [
        ("everything", |s| hash(s)),
        ("without the network", |s| {
            hash(&(&s.nodes, &s.clients, &s.admin, &s.accepts, &s.history))
        }),
        ("without the network and timers", |s| {
            let nodes: Vec<_> = s.nodes.iter().map(|n| (&n.node, n.crashed)).collect();
            hash(&(nodes, &s.clients, &s.admin, &s.accepts, &s.history))
        }),
        ("nodes, clients, admin", |s| {
            let nodes: Vec<_> = s.nodes.iter().map(|n| (&n.node, n.crashed)).collect();
            hash(&(nodes, &s.clients, &s.admin))
        }),
        ("nodes only", |s| {
            let nodes: Vec<_> = s.nodes.iter().map(|n| (&n.node, n.crashed)).collect();
            hash(&nodes)
        }),
        ("acceptors and generations only", |s| {
            let nodes: Vec<_> = s
                .nodes
                .iter()
                .map(|n| {
                    n.node
                        .as_ref()
                        .map(|n| (n.acceptor_state().clone(), n.generation()))
                })
                .collect();
            hash(&nodes)
        }),
    ];
    let mut seen: Vec<HashSet<u64>> = projections.iter().map(|_| HashSet::new()).collect();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut by_generation: BTreeMap<u64, usize> = BTreeMap::new();
    let states = each_reachable_state(&model, |s| {
        for ((_, p), set) in projections.iter().zip(&mut seen) {
            set.insert(p(s));
        }
        *by_generation.entry(s.admin.generation).or_default() += 1;
        for e in &s.network {
            let (g, m) = e.msg.clone().generation_of().expect("a wrapped message");
            let name = format!("{:?}", m);
            let kind = name.split([' ', '{', '(']).next().unwrap_or("").to_string();
            *kinds.entry(format!("{kind} (gen {g})")).or_default() += 1;
        }
    });
    println!("{}: {states} states", cfg.describe());
    for ((name, _), set) in projections.iter().zip(&seen) {
        println!("  {name:<40} {}", set.len());
    }
    println!("states by the admin's generation: {by_generation:?}");
    println!("envelopes in flight, summed over states (per state):");
    for (kind, n) in kinds {
        println!("  {kind:<24} {:.2}", n as f64 / states as f64);
    }
}
