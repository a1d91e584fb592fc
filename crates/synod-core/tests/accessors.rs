//! Accessors and node-set edge cases: `Proposer::request`, `Proposer::generation`,
//! `Node::learner`, `NodeSet::is_empty`, and `NodeSet::contains` at the id limit. The protocol's
//! own steps do not go through them (and ids at the limit never reach a node set in the model),
//! so the model cannot observe them; these tests kill the mutants of them that the model-based
//! mutation run missed (docs/model.md, *Mutation testing*).

mod common;

use common::prepared_ballot;
use synod_core::{Ballot, Config, Message, Node, NodeId, NodeSet, Operation, RequestId};

#[test]
fn the_proposer_reports_its_request_and_the_node_its_learner() {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let mut a = Node::<u8>::new(Config::new(NodeId(1), members).unwrap());
    assert_eq!(a.proposer().request(), None);
    let out = a.on_request(RequestId(9), Operation::Put(7));
    assert_eq!(
        a.proposer().request(),
        Some((RequestId(9), &Operation::Put(7)))
    );
    let ballot = prepared_ballot(&out).unwrap();
    a.on_message(
        NodeId(2),
        Message::Promise {
            ballot,
            accepted: None,
        },
    );
    a.on_message(NodeId(2), Message::Accepted { ballot });
    assert!(a.learned().is_some());
    assert_eq!(a.learner().learned(), a.learned());
    assert_eq!(a.proposer().request(), None, "the request is complete");
}

#[test]
fn ids_at_the_limit_are_never_members() {
    let all: NodeSet = (0..NodeId::LIMIT).map(NodeId).collect();
    assert_eq!(all.len(), NodeId::LIMIT as usize);
    assert!(all.contains(NodeId(NodeId::LIMIT - 1)));
    assert!(!all.contains(NodeId(NodeId::LIMIT)));
    assert!(!NodeSet::EMPTY.contains(NodeId(u8::MAX)));
    assert!(NodeSet::EMPTY.is_empty());
    assert!(!all.is_empty());
}

#[test]
fn the_generation_clock_reads_the_highest_round_seen() {
    let members = [NodeId(1), NodeId(2), NodeId(3)];
    let mut a = Node::<u8>::new(Config::new(NodeId(1), members).unwrap());
    assert_eq!(a.proposer().generation(), 0);
    let high = Ballot::new(5, NodeId(3));
    a.on_message(NodeId(3), Message::Prepare { ballot: high });
    assert_eq!(a.proposer().generation(), 5);
    let out = a.on_request(RequestId(1), Operation::Put(7));
    let ours = prepared_ballot(&out).unwrap();
    assert!(ours > high);
    assert_eq!(
        a.proposer().generation(),
        ours.round,
        "its own ballot is the newest seen"
    );
}
