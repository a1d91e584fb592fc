//! A retried `ProposeOnce` never takes effect twice.
//!
//! The path the model checker found (`--mode register --ops "once:a,read;delete" --rounds 2`):
//! node 1's `ProposeOnce('a')` is chosen at [1,1] but its `Accepted` replies are lost, so its round
//! times out; node 2's `Delete` is chosen at [2,2] and reports the previous value `'a'`; node 1
//! retries. Re-applying "set if empty" there would choose `'a'` a second time and answer
//! `won: true`, and a later read would return a value that was deleted after its only write.
//! The retry must instead see that its own earlier proposal may have taken effect.

mod common;

use common::Cluster;
use synod_check::linearizability::{check, Event, Status};
use synod_core::{Ballot, Message, NodeId, Operation, Outcome, RequestError, RequestId, Timer};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

fn is_prepare(m: &Message<char>) -> bool {
    matches!(m, Message::Prepare { .. })
}
fn is_promise(m: &Message<char>) -> bool {
    matches!(m, Message::Promise { .. })
}
fn is_accept(m: &Message<char>) -> bool {
    matches!(m, Message::Accept { .. })
}
fn is_accepted(m: &Message<char>) -> bool {
    matches!(m, Message::Accepted { .. })
}

fn reply(c: &Cluster<char>, request: u64) -> Option<&synod_core::ReplyResult<char>> {
    c.replies
        .iter()
        .find(|(_, r, _)| *r == RequestId(request))
        .map(|(_, _, result)| result)
}

/// Runs the schedule up to node 1's retry reaching its accept quorum; `between` runs after
/// the delete is answered and before node 1 retries (to let a test write the register again).
fn once_chosen_then_deleted_then_retried(
    between: impl FnOnce(&mut Cluster<char>),
) -> Cluster<char> {
    let mut c = Cluster::<char>::new(3, 2, 2, 2);
    // Node 1: ProposeOnce('a') at [1,1], promised by 1 and 2, accepted by 1 and 2: chosen.
    c.request(N1, 1, Operation::ProposeOnce('a'));
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    c.deliver_where(N1, N2, is_accept);
    assert!(c.oracle.is_chosen(&synod_core::Proposal {
        ballot: Ballot::new(1, N1),
        value: Some('a'),
    }));
    // Every reply to node 1 is lost, and so is its first round's traffic to node 3.
    c.in_flight.retain(|m| m.to != N1 && m.to != N3);
    c.timeout(N1, Timer::Round);
    assert!(
        reply(&c, 1).is_none(),
        "node 1 does not know 'a' was chosen"
    );

    // Node 2: Delete at [2,2] with node 3 (node 2 reports 'a'@[1,1]); it answers previous 'a'.
    c.request(N2, 2, Operation::Delete);
    c.deliver_where(N2, N1, is_prepare); // node 1's generation clock moves past [2,2]
    c.deliver_where(N2, N3, is_prepare);
    c.deliver_where(N3, N2, is_promise);
    c.deliver_where(N2, N3, is_accept);
    c.deliver_where(N3, N2, is_accepted);
    assert_eq!(
        reply(&c, 2),
        Some(&Ok(Outcome::Written {
            previous: Some('a')
        }))
    );
    c.in_flight.clear();
    between(&mut c);

    // Node 1 retries with node 2, which reports someone else's proposal above 'a'@[1,1].
    c.timeout(N1, Timer::Backoff);
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    if c.in_flight.iter().any(|m| m.to == N2 && is_accept(&m.msg)) {
        c.deliver_where(N1, N2, is_accept);
        c.deliver_where(N2, N1, is_accepted);
    }
    c
}

/// Node 3 writes `value` with node 2 (node 1 sees the Prepare, so its clock moves past it).
fn put_through_node_3(c: &mut Cluster<char>, value: char) {
    c.request(N3, 7, Operation::Put(value));
    c.deliver_where(N3, N1, is_prepare);
    c.deliver_where(N3, N2, is_prepare);
    c.deliver_where(N2, N3, is_promise);
    c.deliver_where(N3, N2, is_accept);
    c.deliver_where(N2, N3, is_accepted);
    c.in_flight.clear();
}

/// The value of the register after every step: a read through node 3.
fn read(c: &mut Cluster<char>, request: u64) -> Option<char> {
    c.in_flight.clear();
    c.request(N3, request, Operation::Read);
    c.deliver_where(N3, N1, is_prepare);
    c.deliver_where(N1, N3, is_promise);
    c.deliver_where(N3, N1, is_accept);
    c.deliver_where(N1, N3, is_accepted);
    match reply(c, request) {
        Some(Ok(Outcome::Read { value })) => *value,
        other => panic!("read answered {other:?}"),
    }
}

#[test]
fn a_retried_propose_once_after_a_delete_is_indeterminate_and_sets_nothing() {
    let mut c = once_chosen_then_deleted_then_retried(|_| {});
    assert_eq!(
        reply(&c, 1),
        Some(&Err(RequestError::Indeterminate)),
        "'a' took effect once (then was deleted): the retry may not claim it again"
    );
    assert_eq!(read(&mut c, 3), None, "the deleted 'a' must not come back");

    // The same history, judged by the linearizability checker.
    let history = vec![
        Event {
            op: Operation::ProposeOnce('a'),
            call: 0,
            ret: 10,
            status: Status::Unknown,
        },
        Event {
            op: Operation::Delete,
            call: 1,
            ret: 2,
            status: Status::Ok(Outcome::Written {
                previous: Some('a'),
            }),
        },
        Event {
            op: Operation::Read,
            call: 11,
            ret: 12,
            status: Status::Ok(Outcome::Read { value: None }),
        },
    ];
    assert!(check(&history).is_ok());
}

#[test]
fn a_retried_propose_once_that_finds_its_own_value_wins() {
    // Between the delete and the retry, node 3 writes 'a' again: the retry finds 'a', which
    // answers `won: true` whether or not its own first proposal took effect.
    let mut c = once_chosen_then_deleted_then_retried(|c| put_through_node_3(c, 'a'));
    assert_eq!(
        reply(&c, 1),
        Some(&Ok(Outcome::Chosen {
            value: 'a',
            won: true
        }))
    );
    assert_eq!(read(&mut c, 3), Some('a'));
}

#[test]
fn a_retried_propose_once_that_finds_another_value_is_indeterminate() {
    // Between the delete and the retry, node 3 writes 'b': if node 1's 'a' took effect, the
    // answer is "won"; if it did not, "lost to 'b'". Nobody can tell, so: indeterminate, and the
    // retry re-proposes 'b' unchanged.
    let mut c = once_chosen_then_deleted_then_retried(|c| put_through_node_3(c, 'b'));
    assert_eq!(reply(&c, 1), Some(&Err(RequestError::Indeterminate)));
    assert_eq!(read(&mut c, 3), Some('b'));
}
