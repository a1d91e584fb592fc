//! The node's side of a membership change (docs/protocol.md, "Membership change"): messages
//! carry the generation, an acceptor refuses an older generation's request with its
//! configuration, an install ends the round in progress, and votes count only from the sets.

use synod_core::{
    Config, Configuration, Input, Message, Node, NodeId, NodeSet, Operation, Output, RequestId,
};

fn set(ids: &[u8]) -> NodeSet {
    ids.iter().map(|&i| NodeId(i)).collect()
}

fn node(id: u8) -> Node<char> {
    Node::new(Config::new(NodeId(id), [NodeId(1), NodeId(2), NodeId(3)]).unwrap())
}

fn grown() -> Configuration {
    Configuration::new(1, set(&[1, 2, 3]), 2, set(&[1, 2, 3, 4]), 3).unwrap()
}

fn install(n: &mut Node<char>, c: Configuration) -> Vec<Output<char>> {
    let mut out = Vec::new();
    n.step(Input::Install(c), &mut out);
    out
}

#[test]
fn an_older_generations_request_is_refused_with_the_newer_configuration() {
    let mut b = node(2);
    install(&mut b, grown());
    let prepare = Message::Prepare {
        ballot: synod_core::Ballot::new(1, NodeId(1)),
    };
    let out = b.on_message(NodeId(1), prepare.clone());
    assert_eq!(
        out,
        vec![Output::Send {
            to: NodeId(1),
            msg: Message::Stale {
                configuration: grown()
            }
        }]
    );
    assert_eq!(b.acceptor_state().promised, synod_core::Ballot::ZERO);
    // The same request in generation 1 is promised, and the answer carries the generation.
    let out = b.on_message(NodeId(1), prepare.in_generation(1));
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Send { msg: Message::Generation { generation: 1, message }, .. }
            if matches!(**message, Message::Promise { .. })
    )));
}

#[test]
fn a_newer_generations_message_is_ignored_until_installed() {
    let mut b = node(2);
    let prepare = Message::Prepare {
        ballot: synod_core::Ballot::new(1, NodeId(1)),
    };
    assert!(b.on_message(NodeId(1), prepare.in_generation(1)).is_empty());
}

#[test]
fn an_install_ends_the_round_and_the_retry_counts_by_the_new_sets() {
    let mut a = node(1);
    let out = a.on_request(RequestId(7), Operation::Put('x'));
    assert!(out.iter().any(|o| matches!(o, Output::Broadcast { .. })));
    let out = install(&mut a, grown());
    assert!(
        out.iter()
            .any(|o| matches!(o, Output::Reply { .. } | Output::SetTimer { .. })),
        "the round ended as its timer would end it: {out:?}"
    );
    assert_eq!(a.generation(), 1);
    // Node 4 is in the accept set only: its promise does not count towards phase 1.
    let out = a.on_timeout(synod_core::Timer::Backoff);
    let ballot = out.iter().find_map(|o| match o {
        Output::Broadcast { msg } => match msg.clone().generation_of() {
            Some((1, Message::Prepare { ballot })) => Some(ballot),
            _ => None,
        },
        _ => None,
    });
    let ballot = ballot.expect("the retry prepares in generation 1");
    {
        let promise = Message::Promise {
            ballot,
            accepted: None,
        }
        .in_generation(1);
        let out = a.on_message(NodeId(4), promise);
        assert!(
            !out.iter().any(|o| matches!(o, Output::Broadcast { .. })),
            "a promise from outside the prepare set completed phase 1: {out:?}"
        );
        let out = a.on_message(
            NodeId(2),
            Message::Promise {
                ballot,
                accepted: None,
            }
            .in_generation(1),
        );
        assert!(out.iter().any(|o| matches!(o, Output::Broadcast { .. })));
    }
}

#[test]
fn an_older_install_is_ignored() {
    let mut a = node(1);
    install(&mut a, grown());
    let older = Configuration::stable(1, set(&[1, 2, 3])).unwrap();
    assert!(install(&mut a, older).is_empty());
    assert_eq!(*a.config().configuration(), grown());
}

/// The messages a node broadcasts in `out`.
fn broadcasts(out: &[Output<char>]) -> Vec<Message<char>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Broadcast { msg } => Some(msg.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_catch_up_runs_a_full_round_where_a_read_would_take_a_shortcut() {
    let config = Config::new(NodeId(1), [NodeId(1), NodeId(2), NodeId(3)])
        .unwrap()
        .with_fast_paths(synod_core::FastPaths::ALL);
    let mut a: Node<char> = Node::new(config);
    // A write, answered in a full round whose Accepted replies also promise the next ballot:
    // the proposer then holds a reservation for a one-round-trip write.
    let out = a.on_request(RequestId(1), Operation::Put('x'));
    let Some(Message::Prepare { ballot }) = broadcasts(&out).pop() else {
        panic!("a first write prepares: {out:?}")
    };
    // With its own promise, node 2's makes a quorum of the three.
    let out = a.on_message(
        NodeId(2),
        Message::Promise {
            ballot,
            accepted: None,
        },
    );
    let Some(Message::Accept {
        next: Some(next), ..
    }) = broadcasts(&out).pop()
    else {
        panic!("the accept carries the next ballot: {out:?}")
    };
    let out = a.on_message(NodeId(2), Message::Accepted { ballot });
    assert!(
        out.iter().any(|o| matches!(o, Output::Reply { .. })),
        "{out:?}"
    );
    // A client's read would be one round trip: a Query.
    let mut reader = a.clone();
    let out = reader.on_request(RequestId(2), Operation::Read);
    assert!(
        matches!(broadcasts(&out)[..], [Message::Query { .. }]),
        "{out:?}"
    );
    // The catch-up prepares a ballot above the reserved one instead, and answers like a read
    // once a quorum promised and accepted the current value again.
    let mut out = Vec::new();
    a.step(
        Input::CatchUp {
            request: RequestId(3),
        },
        &mut out,
    );
    let Some(Message::Prepare { ballot: catch_up }) = broadcasts(&out).pop() else {
        panic!("a catch-up prepares: {out:?}")
    };
    assert!(
        catch_up > next,
        "{catch_up:?} is above the reserved {next:?}"
    );
    let out = a.on_message(
        NodeId(2),
        Message::Promise {
            ballot: catch_up,
            accepted: Some(synod_core::Proposal {
                ballot,
                value: Some('x'),
            }),
        },
    );
    // Phase 2 at the catch-up's own ballot (its `next` only reserves a ballot for a later
    // write, as every accept does with one-round-trip writes on).
    assert!(
        matches!(
            broadcasts(&out)[..],
            [Message::Accept { ballot: b, value: Some('x'), .. }] if b == catch_up
        ),
        "the current value is accepted again at the catch-up's ballot: {out:?}"
    );
    let out = a.on_message(NodeId(2), Message::Accepted { ballot: catch_up });
    assert!(
        out.contains(&Output::Reply {
            request: RequestId(3),
            result: Ok(synod_core::Outcome::Read { value: Some('x') }),
        }),
        "{out:?}"
    );
}
