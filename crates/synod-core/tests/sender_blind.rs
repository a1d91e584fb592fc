//! `Message::sender_matters`: a model checker keeps one copy of a message whose handling does
//! not depend on its sender (docs/model.md, *State-space reductions*), so the claim must hold in
//! every node state. Random histories drive a node into arbitrary states; then the same
//! sender-blind message from two different members must leave identical nodes and outputs.

use proptest::prelude::*;
use synod_core::{
    Ballot, Config, FastPaths, Input, Message, Node, NodeId, Operation, Proposal, RequestId, Timer,
};

fn ballot() -> impl Strategy<Value = Ballot> {
    (0u64..4, 1u8..=3).prop_map(|(round, node)| Ballot::new(round, NodeId(node)))
}

/// A ballot of another proposer (node 2 or 3) with its one value: a ballot carries a single
/// value in every real run (the learner asserts it), so histories respect that.
fn proposal() -> impl Strategy<Value = Proposal<u8>> {
    (0u64..4, 2u8..=3).prop_map(|(round, node)| Proposal {
        ballot: Ballot::new(round, NodeId(node)),
        value: (round % 3 != 0).then_some(node),
    })
}

fn message() -> impl Strategy<Value = Message<u8>> {
    prop_oneof![
        ballot().prop_map(|ballot| Message::Prepare { ballot }),
        (ballot(), proptest::option::of(proposal()))
            .prop_map(|(ballot, accepted)| Message::Promise { ballot, accepted }),
        (proposal(), any::<bool>()).prop_map(|(p, fast)| Message::Accept {
            ballot: p.ballot,
            value: p.value,
            next: fast.then(|| Ballot::new(p.ballot.round + 1, p.ballot.node)),
        }),
        ballot().prop_map(|ballot| Message::Accepted { ballot }),
        (0u64..3).prop_map(|r| Message::Query {
            request: RequestId(r)
        }),
        (0u64..3, proptest::option::of(proposal())).prop_map(|(r, accepted)| Message::Report {
            request: RequestId(r),
            accepted
        }),
        sender_blind_message(),
    ]
}

/// The kinds a node handles the same from any sender.
fn sender_blind_message() -> impl Strategy<Value = Message<u8>> {
    prop_oneof![
        (ballot(), ballot()).prop_map(|(ballot, promised)| Message::Reject { ballot, promised }),
        proposal().prop_map(|p| Message::Commit {
            ballot: p.ballot,
            value: p.value
        }),
    ]
}

fn input() -> impl Strategy<Value = Input<u8>> {
    prop_oneof![
        4 => (2u8..=3, message()).prop_map(|(from, msg)| Input::Message { from: NodeId(from), msg }),
        1 => (0u8..3).prop_map(|v| Input::Request { request: RequestId(u64::from(v)), op: Operation::Put(v) }),
        1 => (0u8..3).prop_map(|v| Input::Request { request: RequestId(u64::from(v)), op: Operation::Read }),
        1 => prop_oneof![Just(Timer::Round), Just(Timer::Backoff)].prop_map(Input::Timeout),
    ]
}

fn step(node: &mut Node<u8>, input: Input<u8>) -> Vec<synod_core::Output<u8>> {
    let mut out = Vec::new();
    node.step(input, &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_sender_blind_message_has_the_same_effect_from_any_member(
        history in proptest::collection::vec(input(), 0..16),
        msg in sender_blind_message(),
        fast in any::<bool>(),
    ) {
        let members = [NodeId(1), NodeId(2), NodeId(3)];
        let fast = if fast { FastPaths::ALL } else { FastPaths::NONE };
        let config = Config::new(NodeId(1), members)
            .unwrap()
            .with_max_attempts(2)
            .unwrap()
            .with_fast_paths(fast);
        let mut node = Node::new(config);
        for input in history {
            step(&mut node, input);
        }
        prop_assert!(!msg.sender_matters());
        let (mut from_2, mut from_3) = (node.clone(), node);
        let out_2 = step(&mut from_2, Input::Message { from: NodeId(2), msg: msg.clone() });
        let out_3 = step(&mut from_3, Input::Message { from: NodeId(3), msg });
        prop_assert_eq!(out_2, out_3);
        prop_assert_eq!(from_2, from_3);
    }
}

#[test]
fn counted_and_answered_messages_depend_on_their_sender() {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let b = Ballot::new(1, NodeId(2));
    let answered: Message<u8> = Message::Prepare { ballot: b };
    let mut node = Node::new(Config::new(NodeId(1), members).unwrap());
    let out = node.on_message(NodeId(2), answered.clone());
    assert!(answered.sender_matters());
    assert!(
        format!("{out:?}").contains("to: NodeId(2)"),
        "the promise goes back to its sender: {out:?}"
    );
    for msg in [
        Message::<u8>::Promise {
            ballot: b,
            accepted: None,
        },
        Message::Accept {
            ballot: b,
            value: None,
            next: None,
        },
        Message::Accepted { ballot: b },
        Message::Query {
            request: RequestId(1),
        },
        Message::Report {
            request: RequestId(1),
            accepted: None,
        },
    ] {
        assert!(msg.sender_matters(), "{msg:?}");
    }
}
