//! The proposer's and node's rules one by one, with their boundary cases: distinct promisers,
//! quorums reached twice, rejects above and equal to our ballot, timeouts, the attempt bound,
//! busy proposers, uncertain writes, persist-before-send, and ballots after a restart.

use synod_core::{
    AcceptorState, Ballot, Config, Message, Node, NodeId, Operation, Outcome, Output, Phase,
    Proposal, RequestError, RequestId, Timer,
};

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);

fn config(id: NodeId, attempts: u32) -> Config {
    Config::new(id, [A, B, C])
        .unwrap()
        .with_max_attempts(attempts)
        .unwrap()
}

fn node(attempts: u32) -> Node<u8> {
    Node::new(config(A, attempts))
}

fn b(round: u64, n: NodeId) -> Ballot {
    Ballot::new(round, n)
}

fn promise(ballot: Ballot) -> Message<u8> {
    Message::Promise {
        ballot,
        accepted: None,
    }
}

fn broadcasts(out: &[Output<u8>]) -> Vec<&Message<u8>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast { msg } => Some(msg),
            _ => None,
        })
        .collect()
}

fn replies(out: &[Output<u8>]) -> Vec<(RequestId, Result<Outcome<u8>, RequestError>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Reply { request, result } => Some((*request, result.clone())),
            _ => None,
        })
        .collect()
}

/// Node A with a request in phase 2 at [1,a] (its own accept done inline, B's promise in).
fn accepting(op: Operation<u8>) -> Node<u8> {
    let mut a = node(3);
    a.on_request(RequestId(1), op);
    let out = a.on_message(B, promise(b(1, A)));
    assert_eq!(broadcasts(&out).len(), 1, "phase 2 started");
    a
}

#[test]
fn a_request_persists_its_own_promise_before_the_prepare_leaves() {
    let mut a = node(3);
    let out = a.on_request(RequestId(1), Operation::Put(5));
    assert_eq!(
        out,
        vec![
            Output::SetTimer {
                timer: Timer::Round,
                attempt: 1
            },
            Output::Persist(AcceptorState {
                promised: b(1, A),
                accepted: None
            }),
            Output::Broadcast {
                msg: Message::Prepare { ballot: b(1, A) }
            },
        ]
    );
}

#[test]
fn duplicate_promises_from_one_node_do_not_make_a_quorum() {
    let mut a = Node::<u8>::new(Config::new(A, [A, B, C, NodeId(4), NodeId(5)]).unwrap());
    a.on_request(RequestId(1), Operation::Put(5));
    assert!(broadcasts(&a.on_message(B, promise(b(1, A)))).is_empty());
    assert!(
        broadcasts(&a.on_message(B, promise(b(1, A)))).is_empty(),
        "B twice plus A is still two distinct promisers of five"
    );
    let out = a.on_message(C, promise(b(1, A)));
    assert_eq!(broadcasts(&out).len(), 1, "C makes three: accept goes out");
}

#[test]
fn a_quorum_reached_twice_acts_once() {
    let mut a = accepting(Operation::Put(5));
    // A late promise after phase 1 finished changes nothing.
    assert!(a.on_message(C, promise(b(1, A))).is_empty());
    // B's Accepted completes phase 2 (A accepted inline): reply once, commit once.
    let out = a.on_message(B, Message::Accepted { ballot: b(1, A) });
    assert_eq!(
        replies(&out),
        vec![(RequestId(1), Ok(Outcome::Written { previous: None }))]
    );
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Commit {
            ballot: b(1, A),
            value: Some(5)
        }]
    );
    assert!(out.contains(&Output::Learned(Proposal {
        ballot: b(1, A),
        value: Some(5)
    })));
    assert!(
        a.on_message(C, Message::Accepted { ballot: b(1, A) })
            .is_empty(),
        "the second quorum-completing vote is ignored"
    );
    assert!(a
        .on_message(B, Message::Accepted { ballot: b(1, A) })
        .is_empty());
}

#[test]
fn a_reject_with_a_higher_ballot_fails_the_round_and_the_retry_goes_above_it() {
    let mut a = node(3);
    a.on_request(RequestId(1), Operation::Put(5));
    let out = a.on_message(
        B,
        Message::Reject {
            ballot: b(1, A),
            promised: b(7, C),
        },
    );
    assert_eq!(
        out,
        vec![
            Output::CancelTimer(Timer::Round),
            Output::SetTimer {
                timer: Timer::Backoff,
                attempt: 2
            }
        ]
    );
    assert_eq!(a.proposer().phase(), &Phase::Backoff);
    let out = a.on_timeout(Timer::Backoff);
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Prepare { ballot: b(8, A) }],
        "next generation is above the rejecting promise [7,c]"
    );
}

#[test]
fn a_reject_that_echoes_our_own_ballot_is_ignored() {
    // A duplicated Prepare is refused by an acceptor that already promised it: not a failure.
    let mut a = node(3);
    a.on_request(RequestId(1), Operation::Put(5));
    let out = a.on_message(
        B,
        Message::Reject {
            ballot: b(1, A),
            promised: b(1, A),
        },
    );
    assert!(out.is_empty());
    assert!(matches!(a.proposer().phase(), Phase::Preparing { .. }));
    // A reject for an older round is ignored too.
    assert!(a
        .on_message(
            B,
            Message::Reject {
                ballot: b(0, A),
                promised: b(1, C)
            }
        )
        .is_empty());
}

#[test]
fn attempts_are_bounded() {
    let mut a = node(2);
    a.on_request(RequestId(9), Operation::Read);
    a.on_timeout(Timer::Round);
    a.on_timeout(Timer::Backoff);
    let out = a.on_timeout(Timer::Round);
    assert_eq!(
        replies(&out),
        vec![(RequestId(9), Err(RequestError::Exhausted { attempts: 2 }))]
    );
    assert_eq!(a.proposer().phase(), &Phase::Idle);
    assert!(
        a.on_timeout(Timer::Backoff).is_empty(),
        "stale timers do nothing"
    );
    assert!(a.on_timeout(Timer::Round).is_empty());
}

#[test]
fn a_busy_proposer_refuses_a_second_request() {
    let mut a = node(3);
    a.on_request(RequestId(1), Operation::Put(5));
    let out = a.on_request(RequestId(2), Operation::Put(6));
    assert_eq!(
        out,
        vec![Output::Reply {
            request: RequestId(2),
            result: Err(RequestError::Busy)
        }]
    );
}

#[test]
fn the_value_is_the_operation_applied_to_the_highest_accepted() {
    let mut a = node(3);
    a.on_request(
        RequestId(1),
        Operation::Cas {
            expected: Some(4),
            new: 9,
        },
    );
    let out = a.on_message(
        B,
        Message::Promise {
            ballot: b(1, A),
            accepted: Some(Proposal {
                ballot: b(0, C),
                value: Some(4),
            }),
        },
    );
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: b(1, A),
            value: Some(9),
            next: None,
        }]
    );
}

#[test]
fn an_uncertain_write_is_not_applied_twice() {
    // Attempt 1 sends accept(put 5) and times out: its value may have been chosen.
    let mut a = accepting(Operation::Put(5));
    a.on_timeout(Timer::Round);
    a.on_timeout(Timer::Backoff);
    let ballot2 = b(2, A);
    // A's own promise (inline) reported its accepted put@[1,a]: the highest the quorum saw.
    // Re-proposed unchanged, with the outcome of attempt 1.
    let out = a.on_message(B, promise(ballot2));
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: ballot2,
            value: Some(5),
            next: None,
        }]
    );
    let out = a.on_message(B, Message::Accepted { ballot: ballot2 });
    assert_eq!(
        replies(&out),
        vec![(RequestId(1), Ok(Outcome::Written { previous: None }))]
    );
}

#[test]
fn an_uncertain_write_overtaken_by_a_higher_ballot_is_indeterminate() {
    let mut a = accepting(Operation::Put(5));
    a.on_timeout(Timer::Round);
    // Meanwhile C's ballot [3,c] was accepted at B; A's retry sees it in B's promise.
    let out = a.on_message(C, Message::Prepare { ballot: b(3, C) });
    assert!(matches!(out.last(), Some(Output::Send { to: C, .. })));
    let out = a.on_timeout(Timer::Backoff);
    let Some(Message::Prepare { ballot }) = broadcasts(&out).first().copied().cloned() else {
        panic!("retry prepares");
    };
    let out = a.on_message(
        B,
        Message::Promise {
            ballot,
            accepted: Some(Proposal {
                ballot: b(3, C),
                value: Some(7),
            }),
        },
    );
    assert_eq!(
        replies(&out),
        vec![(RequestId(1), Err(RequestError::Indeterminate))]
    );
}

#[test]
fn messages_from_strangers_and_self_are_ignored() {
    let mut a = node(3);
    assert!(a
        .on_message(
            NodeId(9),
            Message::Prepare {
                ballot: b(5, NodeId(9))
            }
        )
        .is_empty());
    assert!(a
        .on_message(A, Message::Prepare { ballot: b(5, A) })
        .is_empty());
    assert_eq!(a.acceptor().state().promised, Ballot::ZERO);
}

#[test]
fn a_restarted_node_never_reuses_a_ballot() {
    let mut a = node(3);
    a.on_request(RequestId(1), Operation::Put(5));
    let durable = a.acceptor().state().clone();
    let mut again = Node::restart(config(A, 3), durable);
    let out = again.on_request(RequestId(2), Operation::Put(6));
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Prepare { ballot: b(2, A) }],
        "[1,a] was promised before the crash, so the new round is [2,a]"
    );
}

#[test]
fn commits_teach_the_learner_and_stale_ones_do_not() {
    let mut c = Node::<u8>::new(config(C, 3));
    let out = c.on_message(
        A,
        Message::Commit {
            ballot: b(2, A),
            value: Some(1),
        },
    );
    assert_eq!(
        out,
        vec![Output::Learned(Proposal {
            ballot: b(2, A),
            value: Some(1)
        })]
    );
    assert!(c
        .on_message(
            A,
            Message::Commit {
                ballot: b(1, A),
                value: Some(0)
            }
        )
        .is_empty());
    assert_eq!(c.learned().unwrap().value, Some(1));
}

#[test]
fn an_older_uncertain_attempt_recovered_by_a_later_quorum_keeps_its_outcome() {
    // Found by the server's deterministic simulation (seed 978): attempts 1 and 2 of one CAS
    // both reached phase 2 with the same value and failed (A's own acceptor had promised C's
    // higher prepares in between). Attempt 3's quorum reports only attempt 1's proposal, below
    // attempt 2's. Attempt 1's value may be chosen, so the CAS must re-propose it with its
    // original outcome — not apply itself afresh on top of its own value (a "mismatch" that
    // hides its own write).
    let cas = Operation::Cas {
        expected: None,
        new: 5,
    };
    let mut a = node(3);
    a.on_request(RequestId(1), cas);
    a.on_message(C, Message::Prepare { ballot: b(2, C) });
    let out = a.on_message(B, promise(b(1, A)));
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: b(1, A),
            value: Some(5),
            next: None,
        }]
    );
    // B accepted [1,a]; A's own acceptor refused it, having promised [2,c]. The round times out.
    a.on_timeout(Timer::Round);
    let out = a.on_timeout(Timer::Backoff);
    let Some(Message::Prepare { ballot: second }) = broadcasts(&out).first().copied().cloned()
    else {
        panic!("attempt 2 prepares");
    };
    a.on_message(
        C,
        Message::Prepare {
            ballot: Ballot::new(second.round + 1, C),
        },
    );
    let attempt1 = Proposal {
        ballot: b(1, A),
        value: Some(5),
    };
    let out = a.on_message(
        B,
        Message::Promise {
            ballot: second,
            accepted: Some(attempt1.clone()),
        },
    );
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: second,
            value: Some(5),
            next: None,
        }],
        "attempt 1's value is re-proposed"
    );
    a.on_timeout(Timer::Round);
    let out = a.on_timeout(Timer::Backoff);
    let Some(Message::Prepare { ballot: third }) = broadcasts(&out).first().copied().cloned()
    else {
        panic!("attempt 3 prepares");
    };
    // B never got attempt 2's accept: the quorum's highest is attempt 1's proposal.
    let out = a.on_message(
        B,
        Message::Promise {
            ballot: third,
            accepted: Some(attempt1),
        },
    );
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: third,
            value: Some(5),
            next: None,
        }]
    );
    let out = a.on_message(B, Message::Accepted { ballot: third });
    assert_eq!(
        replies(&out),
        vec![(RequestId(1), Ok(Outcome::Written { previous: None }))],
        "the CAS reports its own write, not a mismatch against it"
    );
}

#[test]
fn an_uncertain_proposal_ruled_out_by_a_quorum_is_forgotten() {
    // Attempt 1 (p1 at [1,a]) and attempt 2 (p2 at [3,a]) both fail in phase 2 because A's own
    // acceptor had promised C's higher prepares. Attempt 2's quorum reported nothing, which rules
    // p1 out forever. Attempt 3's quorum reports C's proposal at [2,c]: above p1 (forgotten) but
    // below p2 (ruled out by this very quorum), so the CAS applies afresh instead of giving up.
    let cas = Operation::Cas {
        expected: Some(7),
        new: 8,
    };
    let mut a = node(3);
    a.on_request(RequestId(1), cas);
    a.on_message(C, Message::Prepare { ballot: b(2, C) });
    let out = a.on_message(B, promise(b(1, A)));
    assert!(
        out.contains(&Output::SetTimer {
            timer: Timer::Backoff,
            attempt: 2
        }),
        "A's own acceptor refused p1: attempt 1 failed in phase 2"
    );
    let out = a.on_timeout(Timer::Backoff);
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Prepare { ballot: b(3, A) }]
    );
    a.on_message(C, Message::Prepare { ballot: b(4, C) });
    let out = a.on_message(B, promise(b(3, A)));
    assert!(
        out.contains(&Output::SetTimer {
            timer: Timer::Backoff,
            attempt: 3
        }),
        "attempt 2 failed in phase 2 too"
    );
    let out = a.on_timeout(Timer::Backoff);
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Prepare { ballot: b(5, A) }]
    );
    let out = a.on_message(
        C,
        Message::Promise {
            ballot: b(5, A),
            accepted: Some(Proposal {
                ballot: b(2, C),
                value: Some(7),
            }),
        },
    );
    assert_eq!(
        broadcasts(&out),
        vec![&Message::Accept {
            ballot: b(5, A),
            value: Some(8),
            next: None,
        }],
        "the CAS applies to C's value"
    );
    let out = a.on_message(C, Message::Accepted { ballot: b(5, A) });
    assert_eq!(
        replies(&out),
        vec![(RequestId(1), Ok(Outcome::Written { previous: Some(7) }))]
    );
}
