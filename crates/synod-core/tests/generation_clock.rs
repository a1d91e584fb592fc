//! The generation clock's lifetime: it is read only when a round starts, so a proposer says when
//! no round of its request is left to start (`Proposer::starts_no_more_rounds`), and only then
//! does `Node::forget_clock` (a model checker's normalization) reset it. Resetting it earlier
//! would let a retry reuse a round other proposers already passed.

mod common;

use common::node_1_of_3;
use synod_core::{Ballot, Message, NodeId, Operation, RequestId};

#[test]
fn the_clock_is_live_until_the_last_round_starts() {
    let mut a = node_1_of_3::<u8>(2);
    assert!(
        a.proposer().starts_no_more_rounds(),
        "idle: no round to start"
    );
    a.on_request(RequestId(1), Operation::Put(7));
    assert!(!a.proposer().starts_no_more_rounds(), "a retry is left");
    a.on_message(
        NodeId(3),
        Message::Prepare {
            ballot: Ballot::new(9, NodeId(3)),
        },
    );
    a.forget_clock();
    assert_eq!(a.proposer().generation(), 9, "kept while a retry is left");
    a.on_timeout(synod_core::Timer::Round);
    assert!(
        !a.proposer().starts_no_more_rounds(),
        "backing off before the last attempt"
    );
    a.forget_clock();
    assert_eq!(a.proposer().generation(), 9, "kept while backing off");
    a.on_timeout(synod_core::Timer::Backoff);
    assert_eq!(
        a.proposer().generation(),
        10,
        "the retry went above round 9"
    );
    assert!(
        a.proposer().starts_no_more_rounds(),
        "the last attempt runs"
    );
    a.forget_clock();
    assert_eq!(a.proposer().generation(), 0, "dead state: forgotten");
}

#[test]
fn an_idle_node_forgets_its_clock() {
    let mut a = node_1_of_3::<u8>(1);
    a.on_message(
        NodeId(2),
        Message::Prepare {
            ballot: Ballot::new(4, NodeId(2)),
        },
    );
    assert_eq!(a.proposer().generation(), 4);
    a.forget_clock();
    assert_eq!(a.proposer().generation(), 0);
}

#[test]
fn forgetting_the_clock_keeps_the_reservation_a_running_request_reads() {
    // A fast writer in its last attempt: its clock is dead, but while its round runs it still
    // reads its reservation, to ignore a Reject that only echoes its own next ballot (a
    // duplicated Accept reaching an acceptor that already accepted it).
    let config = synod_core::Config::new(NodeId(1), [NodeId(1), NodeId(2), NodeId(3)])
        .unwrap()
        .with_max_attempts(1)
        .unwrap()
        .with_fast_paths(synod_core::FastPaths::ALL);
    let mut a = synod_core::Node::<u8>::new(config);
    a.on_request(RequestId(1), Operation::Put(7));
    let first = Ballot::new(1, NodeId(1));
    let out = a.on_message(
        NodeId(2),
        Message::Promise {
            ballot: first,
            accepted: None,
        },
    );
    assert!(
        out.iter().any(|o| matches!(
            o,
            synod_core::Output::Broadcast {
                msg: Message::Accept { next: Some(_), .. }
            }
        )),
        "{out:?}"
    );
    assert!(
        a.proposer().starts_no_more_rounds(),
        "the last attempt runs"
    );
    a.forget_clock();
    let echo = a.on_message(
        NodeId(2),
        Message::Reject {
            ballot: first,
            promised: Ballot::new(2, NodeId(1)),
        },
    );
    assert_eq!(echo, vec![], "our own next ballot echoed back is ignored");
    assert!(a.has_request(), "the round still runs");
}
