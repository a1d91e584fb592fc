//! How a request that runs out of attempts is answered: `Exhausted` (surely not applied) unless a
//! *write* failed after reaching phase 2, which makes it `Indeterminate`. The model cannot tell
//! the two apart (its linearizability check treats an `Indeterminate` write as "may or may not
//! have happened", which is always allowed), so the mutant `&& → ||` in `Proposer::fail_round`
//! survived the model-based mutation run (docs/model.md, *Mutation testing*); these tests kill it.

mod common;

use common::{node_1_of_3 as node, prepared_ballot};
use synod_core::{Message, NodeId, Operation, Output, ReplyResult, RequestError, RequestId, Timer};

fn reply(out: &[Output<u8>]) -> Option<&ReplyResult<u8>> {
    out.iter().find_map(|o| match o {
        Output::Reply { result, .. } => Some(result),
        _ => None,
    })
}

/// Runs `op` on a one-attempt node: a promise from node 2 completes phase 1 (the node promises
/// itself), so the Accept goes out; then the round times out before any `Accepted`.
fn fail_in_phase_two(op: Operation<u8>) -> ReplyResult<u8> {
    let mut a = node(1);
    let out = a.on_request(RequestId(1), op);
    let ballot = prepared_ballot(&out).expect("the round starts with a Prepare");
    let out = a.on_message(
        NodeId(2),
        Message::Promise {
            ballot,
            accepted: None,
        },
    );
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Broadcast {
                msg: Message::Accept { .. }
            }
        )),
        "phase 2 started: {out:?}"
    );
    let out = a.on_timeout(Timer::Round);
    reply(&out).expect("the last attempt answers").clone()
}

#[test]
fn a_write_that_never_reached_phase_two_is_exhausted() {
    let mut a = node(2);
    a.on_request(RequestId(1), Operation::Put(7));
    assert_eq!(reply(&a.on_timeout(Timer::Round)), None, "one attempt left");
    a.on_timeout(Timer::Backoff);
    let out = a.on_timeout(Timer::Round);
    assert_eq!(
        reply(&out),
        Some(&Err(RequestError::Exhausted { attempts: 2 })),
        "no Accept ever left: the write surely did not happen"
    );
}

#[test]
fn a_read_that_failed_in_phase_two_is_exhausted_not_indeterminate() {
    assert_eq!(
        fail_in_phase_two(Operation::Read),
        Err(RequestError::Exhausted { attempts: 1 }),
        "a read changes nothing, whatever became of its proposal"
    );
}

#[test]
fn a_write_that_failed_in_phase_two_is_indeterminate() {
    assert_eq!(
        fail_in_phase_two(Operation::Put(7)),
        Err(RequestError::Indeterminate),
        "its Accept may still be chosen"
    );
}
