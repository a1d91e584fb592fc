//! The attempt number on timers: the model ignores timer delays (a timer may fire at any time),
//! so it cannot see whether a retry's `SetTimer` carries the right attempt, which a runtime
//! uses to grow its backoff. Written to kill the mutant `Proposer::attempt -> None` that the
//! model-based mutation run missed (docs/model.md).

use synod_core::{Config, Node, NodeId, Operation, Output, RequestId, Timer};

#[test]
fn each_attempt_sets_its_timers_with_its_own_number() {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let config = Config::new(NodeId(1), members)
        .unwrap()
        .with_max_attempts(3)
        .unwrap();
    let mut a = Node::<u8>::new(config);
    let timer = |timer, attempt| Output::SetTimer { timer, attempt };
    let out = a.on_request(RequestId(1), Operation::Put(7));
    assert!(out.contains(&timer(Timer::Round, 1)), "{out:?}");
    let out = a.on_timeout(Timer::Round);
    assert!(out.contains(&timer(Timer::Backoff, 2)), "{out:?}");
    let out = a.on_timeout(Timer::Backoff);
    assert!(out.contains(&timer(Timer::Round, 2)), "{out:?}");
    let out = a.on_timeout(Timer::Round);
    assert!(out.contains(&timer(Timer::Backoff, 3)), "{out:?}");
    let out = a.on_timeout(Timer::Backoff);
    assert!(out.contains(&timer(Timer::Round, 3)), "{out:?}");
}
