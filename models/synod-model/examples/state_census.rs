//! Scratch: which part of the state multiplies the space?
use stateright::actor::Network;
use stateright::Model;
use std::collections::{HashSet, VecDeque};
use std::hash::{DefaultHasher, Hash, Hasher};
use synod_model::actor::ActorState;
use synod_model::{model, Correct, ModelConfig};

fn h<T: Hash>(t: &T) -> u64 {
    let mut s = DefaultHasher::new();
    t.hash(&mut s);
    s.finish()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds: u32 = args.get(1).map_or(2, |s| s.parse().unwrap());
    let limit: usize = args.get(2).map_or(300_000, |s| s.parse().unwrap());
    let cfg = ModelConfig::consensus(3, 2, rounds);
    let m = model::build(&cfg, Correct).unwrap();
    let mut seen = HashSet::new();
    let mut queue = VecDeque::new();
    for s in m.init_states() {
        if seen.insert(h(&s)) {
            queue.push_back(s);
        }
    }
    let mut all = Vec::new();
    let mut actions = Vec::new();
    while let Some(s) = queue.pop_front() {
        if seen.len() >= limit {
            break;
        }
        actions.clear();
        m.actions(&s, &mut actions);
        for a in actions.drain(..) {
            if let Some(n) = m.next_state(&s, a) {
                if seen.insert(h(&n)) {
                    queue.push_back(n);
                }
            }
        }
        all.push(s);
    }
    println!("explored {} (seen {})", all.len(), seen.len());
    let count = |name: &str, f: &dyn Fn(&synod_model::properties::SystemState<Correct>) -> u64| {
        let set: HashSet<u64> = all.iter().map(f).collect();
        println!("{name:40} {}", set.len());
    };
    let nodes = |s: &synod_model::properties::SystemState<Correct>| -> Vec<u64> {
        s.actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => h(&n.node),
                ActorState::Client(c) => h(c),
            })
            .collect()
    };
    count("nodes (core only)", &|s| h(&nodes(s)));
    count("nodes + ghost", &|s| h(&s.actor_states));
    count("nodes + timers", &|s| h(&(nodes(s), &s.timers_set)));
    count("nodes + ghost + timers", &|s| {
        h(&(&s.actor_states, &s.timers_set))
    });
    count("network only", &|s| h(&s.network));
    count("nodes + network", &|s| h(&(nodes(s), &s.network)));
    count("everything but ghost", &|s| {
        h(&(nodes(s), &s.network, &s.timers_set))
    });
    count("everything but timers", &|s| {
        h(&(&s.actor_states, &s.network))
    });
    count("acceptors only", &|s| {
        h(&s.actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => h(n.node.acceptor()),
                _ => 0,
            })
            .collect::<Vec<_>>())
    });
    count("proposers only", &|s| {
        h(&s.actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => h(n.node.proposer()),
                _ => 0,
            })
            .collect::<Vec<_>>())
    });
    count("learners only", &|s| {
        h(&s.actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => h(&n.node.learner()),
                _ => 0,
            })
            .collect::<Vec<_>>())
    });
    let abstracted =
        |s: &synod_model::properties::SystemState<Correct>, seen: bool, learner: bool| -> u64 {
            let v: Vec<u64> = s
                .actor_states
                .iter()
                .map(|a| match &**a {
                    ActorState::Node(n) => {
                        let p = n.node.proposer();
                        let idle = p.request().is_none();
                        let seen_v = if seen && idle {
                            synod_core::Ballot::ZERO
                        } else {
                            p.seen()
                        };
                        let l = n.node.learner();
                        let lv = if learner { h(&l.learned()) } else { h(l) };
                        h(&(
                            n.node.acceptor(),
                            p.phase(),
                            p.attempt(),
                            p.request(),
                            seen_v,
                            lv,
                            &n.ghost,
                        ))
                    }
                    ActorState::Client(c) => h(c),
                })
                .collect();
            h(&(v, &s.network, &s.timers_set))
        };
    let ghostless = |s: &synod_model::properties::SystemState<Correct>, which: u8| -> u64 {
        let v: Vec<u64> = s
            .actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => {
                    let g = &n.ghost;
                    let part = match which {
                        0 => h(&(g.reached_accept, g.restarts, &g.reply)),
                        1 => h(&(&g.accepts, g.restarts, &g.reply)),
                        2 => h(&(&g.accepts, g.reached_accept, g.restarts)),
                        _ => h(&(g.restarts,)),
                    };
                    h(&(&n.node, part))
                }
                ActorState::Client(c) => h(c),
            })
            .collect();
        h(&(v, &s.network, &s.timers_set))
    };
    let pruned = |s: &synod_model::properties::SystemState<Correct>| -> u64 {
        let hist = synod_model::properties::history(s);
        let v: Vec<u64> = s
            .actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => {
                    let g = &n.ghost;
                    let cur = n.node.acceptor().state().accepted.clone();
                    let kept: Vec<_> = g
                        .accepts
                        .iter()
                        .filter(|r| {
                            hist.count(r.ballot, r.value) >= 2
                                || cur.as_ref().is_some_and(|c| c.ballot == r.ballot)
                        })
                        .collect();
                    h(&(&n.node, kept, g.reached_accept, g.restarts, &g.reply))
                }
                ActorState::Client(c) => h(c),
            })
            .collect();
        h(&(v, &s.network, &s.timers_set))
    };
    count("all, minority past records dropped", &pruned);
    let unlearned = |s: &synod_model::properties::SystemState<Correct>| -> u64 {
        let retired: Vec<bool> = s
            .actor_states
            .iter()
            .map(|a| match &**a {
                ActorState::Node(n) => {
                    n.node.proposer().request().is_none()
                        && format!("{:?}", n.node.learner()).contains("pending: None")
                }
                _ => false,
            })
            .collect();
        let v: Vec<u64> = s
            .actor_states
            .iter()
            .zip(&retired)
            .map(|(a, r)| match &**a {
                ActorState::Node(n) if *r => h(&(n.node.acceptor(), n.node.proposer(), &n.ghost)),
                ActorState::Node(n) => h(&(&n.node, &n.ghost)),
                ActorState::Client(c) => h(c),
            })
            .collect();
        let net: Vec<_> = match &s.network {
            Network::UnorderedDuplicating(set, _) => set
                .iter()
                .filter(|e| {
                    !(retired[usize::from(e.dst)] && format!("{:?}", e.msg).contains("Commit"))
                })
                .cloned()
                .collect(),
            _ => vec![],
        };
        h(&(v, net, &s.timers_set))
    };
    count("all, retired learners + their commits dropped", &unlearned);
    count("all but ghost.accepts", &|s| ghostless(s, 0));
    count("all but ghost.reached_accept", &|s| ghostless(s, 1));
    count("all but ghost.reply", &|s| ghostless(s, 2));
    count("all but accepts/reached/reply", &|s| ghostless(s, 3));
    count("all, idle seen abstracted", &|s| abstracted(s, true, false));
    count("all, learner pending dropped", &|s| {
        abstracted(s, false, true)
    });
    count("all, both", &|s| abstracted(s, true, true));
    let mut sizes = std::collections::BTreeMap::new();
    for s in &all {
        if let Network::UnorderedDuplicating(set, _) = &s.network {
            *sizes.entry(set.len()).or_insert(0usize) += 1;
        }
    }
    println!("network sizes: {sizes:?}");
    let mut kinds = std::collections::BTreeMap::new();
    for s in &all {
        if let Network::UnorderedDuplicating(set, _) = &s.network {
            for e in set.iter() {
                let k = format!("{:?}", e.msg);
                let k = k
                    .split(|c: char| !c.is_alphanumeric())
                    .nth(1)
                    .unwrap_or("?")
                    .to_owned();
                *kinds.entry(k).or_insert(0usize) += 1;
            }
        }
    }
    println!("message kinds: {kinds:?}");
}
