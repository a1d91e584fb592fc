//! The one-round-trip write and read (docs/protocol.md, *Shortcuts*), schedule by schedule on
//! three nodes with majority quorums: when each shortcut is taken, what it costs, and how it
//! falls back.

mod common;

use common::Cluster;
use synod_core::{
    Ballot, FastPaths, Message, NodeId, Operation, Outcome, Output, Proposal, ReplyResult,
    RequestError, RequestId, Timer,
};

const N1: NodeId = NodeId(1);
const N2: NodeId = NodeId(2);
const N3: NodeId = NodeId(3);

fn fast() -> Cluster<u8> {
    Cluster::<u8>::majority(3).with_fast_paths(FastPaths::ALL)
}

fn reply(c: &Cluster<u8>, request: u64) -> Option<&ReplyResult<u8>> {
    c.replies
        .iter()
        .find(|(_, r, _)| *r == RequestId(request))
        .map(|(_, _, result)| result)
}

fn is_prepare(m: &Message<u8>) -> bool {
    matches!(m, Message::Prepare { .. })
}
fn is_promise(m: &Message<u8>) -> bool {
    matches!(m, Message::Promise { .. })
}
fn is_accept(m: &Message<u8>) -> bool {
    matches!(m, Message::Accept { .. })
}
fn is_accepted(m: &Message<u8>) -> bool {
    matches!(m, Message::Accepted { .. })
}
fn is_reject(m: &Message<u8>) -> bool {
    matches!(m, Message::Reject { .. })
}
fn is_report(m: &Message<u8>) -> bool {
    matches!(m, Message::Report { .. })
}

fn broadcasts(out: &[Output<u8>]) -> Vec<&Message<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast { msg } => Some(msg),
            _ => None,
        })
        .collect()
}

/// Node 1 writes `1` with a full round that nodes 1 and 2 accept (node 3 hears nothing of it).
/// Node 1's acceptor and node 2's now promise node 1's next ballot [2,1].
fn first_write_through_node_1(c: &mut Cluster<u8>) {
    c.request(N1, 1, Operation::Put(1));
    assert!(broadcasts(&c.last).iter().any(|m| is_prepare(m)));
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    let accept = broadcasts(&c.last)[0].clone();
    assert_eq!(
        accept,
        Message::Accept {
            ballot: Ballot::new(1, N1),
            value: Some(1),
            next: Some(Ballot::new(2, N1)),
        },
        "every accept of a fast writer carries its next ballot"
    );
    c.deliver_where(N1, N2, is_accept);
    c.deliver_where(N2, N1, is_accepted);
    assert_eq!(reply(c, 1), Some(&Ok(Outcome::Written { previous: None })));
    assert_eq!(
        c.durable[1].promised,
        Ballot::new(2, N1),
        "node 2 promised next"
    );
    assert_eq!(
        c.durable[0].promised,
        Ballot::new(2, N1),
        "and so did node 1"
    );
    c.in_flight.retain(|m| m.to != N3);
}

#[test]
fn a_second_write_skips_phase_one_and_costs_six_messages() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    c.in_flight.clear();
    c.request(N1, 2, Operation::Put(2));
    assert_eq!(
        broadcasts(&c.last),
        vec![&Message::Accept {
            ballot: Ballot::new(2, N1),
            value: Some(2),
            next: Some(Ballot::new(3, N1)),
        }],
        "no Prepare: the accept goes out at the reserved ballot"
    );
    let mut sent = c.in_flight.len();
    for from_to in [(N1, N2), (N1, N3)] {
        c.deliver_where(from_to.0, from_to.1, is_accept);
    }
    c.deliver_where(N2, N1, is_accepted);
    c.deliver_where(N3, N1, is_accepted);
    assert_eq!(
        reply(&c, 2),
        Some(&Ok(Outcome::Written { previous: Some(1) }))
    );
    sent += 2 /* accepted */ + 2 /* commit */;
    assert_eq!(
        sent, 6,
        "two accepts, two accepted, two commits: one round trip"
    );
    assert!(c.oracle.is_chosen(&Proposal {
        ballot: Ballot::new(2, N1),
        value: Some(2)
    }));
}

#[test]
fn a_stale_reservation_falls_back_at_once_in_the_same_attempt() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    // Node 3 takes the key over: it has seen [2,1] promised (a reject), so it prepares [3,3],
    // promised by nodes 2 and 3, and writes 9. Node 1 hears nothing of it.
    c.in_flight.clear();
    c.request(N3, 30, Operation::Put(9));
    c.deliver_where(N3, N2, is_prepare);
    c.deliver_where(N2, N3, is_reject);
    c.timeout(N3, Timer::Backoff);
    c.deliver_where(N3, N2, is_prepare);
    c.deliver_where(N2, N3, is_promise);
    c.deliver_where(N3, N2, is_accept);
    c.deliver_where(N2, N3, is_accepted);
    assert_eq!(
        reply(&c, 30),
        Some(&Ok(Outcome::Written { previous: Some(1) }))
    );
    c.in_flight.retain(|m| m.to != N1);
    // Node 1 still believes in its reservation and sends Accept [2,1] directly; its own
    // acceptor accepts it, node 2 refuses it.
    c.request(N1, 2, Operation::Put(2));
    assert!(broadcasts(&c.last).iter().all(|m| is_accept(m)));
    c.deliver_where(N1, N2, is_accept);
    c.deliver_where(N2, N1, is_reject);
    assert!(
        c.last.contains(&Output::SetTimer {
            timer: Timer::Round,
            attempt: 1
        }),
        "the fallback round runs at once, in the same attempt: {:?}",
        c.last
    );
    let prepare = broadcasts(&c.last)
        .into_iter()
        .find(|m| is_prepare(m))
        .cloned()
        .expect("the fallback round prepares at once, without a backoff");
    assert!(prepare.highest_ballot() > Ballot::new(3, N3));
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    // Node 1's own acceptor holds [2,1] (value 2), node 2 reports node 3's [3,3] above it:
    // whether [2,1] will ever take effect is unknowable to node 1 (another proposer could yet
    // build on it), so the put answers Indeterminate, as a classic put that lost its phase 2
    // to another proposer does. Routing a key's requests to its home avoids this race.
    assert_eq!(reply(&c, 2), Some(&Err(RequestError::Indeterminate)));
}

#[test]
fn a_duplicated_accept_refused_with_our_own_next_ballot_does_not_fail_the_round() {
    let mut c = fast();
    c.request(N1, 1, Operation::Put(1));
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    // Node 2 gets the accept twice: the copy finds [2,1] promised and is refused with it.
    let i = c
        .in_flight
        .iter()
        .position(|m| m.to == N2 && is_accept(&m.msg))
        .unwrap();
    c.deliver(i, true);
    c.deliver_where(N1, N2, is_accept);
    c.deliver_where(N2, N1, is_reject);
    assert!(
        c.last.is_empty(),
        "the echo of our own reservation is ignored"
    );
    c.deliver_where(N2, N1, is_accepted);
    assert!(reply(&c, 1).is_some_and(|r| r.is_ok()));
}

#[test]
fn a_restarted_proposer_never_reuses_its_reserved_ballot() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    c.crash(N1);
    c.restart(N1);
    c.in_flight.clear();
    c.request(N1, 2, Operation::Put(7));
    let prepare = broadcasts(&c.last)
        .into_iter()
        .find(|m| is_prepare(m))
        .cloned()
        .expect("no reservation survives a restart: a full round");
    assert!(
        prepare.highest_ballot() > Ballot::new(2, N1),
        "the durable promise of [2,1] puts the new ballot above it: {prepare:?}"
    );
}

#[test]
fn a_fast_read_persists_nothing_and_answers_after_one_round_trip() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    let durable_before = c.durable.clone();
    c.in_flight.clear();
    c.request(N2, 5, Operation::Read);
    assert_eq!(
        broadcasts(&c.last),
        vec![&Message::Query {
            request: RequestId(5)
        }]
    );
    c.deliver_where(N2, N1, |m| matches!(m, Message::Query { .. }));
    assert!(!c.last.iter().any(|o| matches!(o, Output::Persist(_))));
    c.deliver_where(N1, N2, is_report);
    assert_eq!(
        reply(&c, 5),
        Some(&Ok(Outcome::Read { value: Some(1) })),
        "nodes 2 and 1 both accepted [1,1]: a read quorum"
    );
    assert_eq!(c.durable, durable_before, "nothing was persisted anywhere");
    assert!(!c.timers.contains(&(N2, Timer::Round)));
}

#[test]
fn a_read_with_differing_reports_falls_back_to_a_full_round() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    c.in_flight.clear();
    // Node 3 accepted nothing; node 1 reports [1,1]: not one proposal.
    c.request(N3, 6, Operation::Read);
    c.deliver_where(N3, N1, |m| matches!(m, Message::Query { .. }));
    c.deliver_where(N1, N3, is_report);
    assert!(
        broadcasts(&c.last).iter().any(|m| is_prepare(m)),
        "a full round follows at once: {:?}",
        c.last
    );
    assert_eq!(reply(&c, 6), None);
    c.deliver_where(N3, N1, is_prepare);
    c.deliver_where(N1, N3, is_promise);
    c.deliver_where(N3, N1, is_accept);
    c.deliver_where(N1, N3, is_accepted);
    assert_eq!(reply(&c, 6), Some(&Ok(Outcome::Read { value: Some(1) })));
}

#[test]
fn a_report_for_another_read_is_not_counted() {
    let mut c = fast();
    first_write_through_node_1(&mut c);
    c.in_flight.clear();
    c.request(N2, 5, Operation::Read);
    // A report from node 1 for some other (earlier) read of node 2's: ignored.
    let out = c.nodes[1].as_mut().unwrap().on_message(
        N1,
        Message::Report {
            request: RequestId(4),
            accepted: Some(Proposal {
                ballot: Ballot::new(1, N1),
                value: Some(1),
            }),
        },
    );
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(reply(&c, 5), None);
}

#[test]
fn classic_rounds_send_no_next_ballot_and_no_query() {
    let mut c = Cluster::<u8>::majority(3);
    c.request(N1, 1, Operation::Read);
    assert!(broadcasts(&c.last).iter().all(|m| is_prepare(m)));
    c.deliver_where(N1, N2, is_prepare);
    c.deliver_where(N2, N1, is_promise);
    assert!(broadcasts(&c.last)
        .iter()
        .all(|m| matches!(m, Message::Accept { next: None, .. })));
}
