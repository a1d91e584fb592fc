//! Counterexamples are found in the checked model, whose `Reject` and `Commit` envelopes name one
//! canonical sender, and printed from a replay in the faithful model, where every envelope names
//! its real sender (`check::faithful_path`). Random walks through a configuration where
//! rejections abound must replay step for step, the same actions except for such senders.

use stateright::actor::{ActorModelAction, Id};
use stateright::{Model, Path};
use synod_core::Message;
use synod_model::check::faithful_path;
use synod_model::message::ModelMsg;
use synod_model::model::{blind_sender, build};
use synod_model::{Correct, ModelConfig, NetworkKind};

/// A deterministic pseudo-random walk of at most `depth` steps.
fn walk<M: Model>(model: &M, seed: u64, depth: usize) -> Path<M::State, M::Action>
where
    M::State: Clone + PartialEq,
    M::Action: Clone + PartialEq,
{
    let init = model.init_states().remove(0);
    let mut state = init.clone();
    let mut actions = Vec::new();
    let mut rng = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    for _ in 0..depth {
        let steps = model.next_steps(&state);
        if steps.is_empty() {
            break;
        }
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let (action, next) = steps[(rng >> 33) as usize % steps.len()].clone();
        actions.push(action);
        state = next;
    }
    Path::from_actions(model, init, &actions).expect("a walk of the model is a path of it")
}

/// The sender, receiver and message a delivery or a drop acts on.
fn envelope<T, R>(action: &ActorModelAction<ModelMsg, T, R>) -> Option<(Id, Id, &ModelMsg)> {
    match action {
        ActorModelAction::Deliver { src, dst, msg } => Some((*src, *dst, msg)),
        ActorModelAction::Drop(e) => Some((e.src, e.dst, &e.msg)),
        _ => None,
    }
}

fn check_replays(network: NetworkKind, lossy: bool) {
    let cfg = ModelConfig {
        network,
        lossy,
        ..ModelConfig::consensus(3, 2, 2)
    };
    let model = build(&cfg, Correct).unwrap();
    let mut renamed = 0;
    for seed in 0..200 {
        let path = walk(&model, seed, 40);
        let checked = path.clone().into_actions();
        let replayed = faithful_path(&model, &path).into_actions();
        assert_eq!(
            checked.len(),
            replayed.len(),
            "seed {seed}: the replay is complete"
        );
        let init = model.faithful().init_states().remove(0);
        assert!(
            Path::from_actions(&model.faithful(), init, &replayed).is_some(),
            "seed {seed}: the replay is a path of the faithful model"
        );
        for (c, r) in checked.iter().zip(&replayed) {
            if c == r {
                continue;
            }
            let (Some((src, dst, msg)), Some((real_src, real_dst, real_msg))) =
                (envelope(c), envelope(r))
            else {
                panic!("seed {seed}: only deliveries and drops may differ: {c:?} vs {r:?}");
            };
            assert_eq!((dst, msg), (real_dst, real_msg), "seed {seed}");
            assert_eq!(src, blind_sender(dst), "seed {seed}");
            assert_ne!(real_src, real_dst, "seed {seed}");
            assert!(
                matches!(msg, ModelMsg::Peer(m) if !m.sender_matters()),
                "seed {seed}: {msg:?}"
            );
            assert!(matches!(
                msg,
                ModelMsg::Peer(Message::Reject { .. } | Message::Commit { .. })
            ));
            renamed += 1;
        }
    }
    assert!(renamed > 0, "some walk delivered a renamed envelope");
}

#[test]
fn walks_replay_in_the_faithful_model_on_a_duplicating_network() {
    check_replays(NetworkKind::UnorderedDuplicating, false);
}

#[test]
fn walks_replay_in_the_faithful_model_on_a_lossy_non_duplicating_network() {
    check_replays(NetworkKind::UnorderedNonDuplicating, true);
}
