//! Attempt numbers on timers: every attempt of a request sets its `Round` and `Backoff` timers
//! with its own 1-based number, which a runtime uses to grow its backoff. The model ignores timer
//! delays (a timer may fire at any time), so it cannot see a wrong number; this test kills the
//! mutant `Proposer::attempt -> None` that the model-based mutation run missed (docs/model.md,
//! *Mutation testing*).

mod common;

use common::node_1_of_3;
use synod_core::{Operation, Output, RequestId, Timer};

#[test]
fn each_attempt_sets_its_timers_with_its_own_number() {
    let mut a = node_1_of_3::<u8>(3);
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
