//! `Relabel` renames nodes consistently: renaming commutes with stepping (a renamed node given
//! renamed inputs produces the renamed outputs), and a swap applied twice is the identity. The
//! model's symmetry reduction relies on it; the mutation run leaves `relabel` out and relies on
//! this test instead (docs/model.md, *Mutation testing*).

mod common;

use common::prepared_ballot;
use synod_core::{Config, Input, Message, Node, NodeId, Operation, Output, Relabel, RequestId};

/// Swaps nodes 2 and 3 (both acceptors in the scenario), fixes the rest.
fn swap(n: NodeId) -> NodeId {
    match n.0 {
        2 => NodeId(3),
        3 => NodeId(2),
        _ => n,
    }
}

fn relabel_output(o: &Output<u8>) -> Output<u8> {
    match o {
        Output::Persist(s) => Output::Persist(s.relabel(&swap)),
        Output::Send { to, msg } => Output::Send {
            to: swap(*to),
            msg: msg.relabel(&swap),
        },
        Output::Broadcast { msg } => Output::Broadcast {
            msg: msg.relabel(&swap),
        },
        Output::Learned(p) => Output::Learned(p.relabel(&swap)),
        other => other.clone(),
    }
}

#[test]
fn relabelling_commutes_with_every_step_of_a_round() {
    let members = (1..=5).map(NodeId);
    let mut node = Node::<u8>::new(Config::new(NodeId(1), members).unwrap());
    let mut renamed = node.relabel(&swap);
    let b = prepared_ballot(&node.on_request(RequestId(1), Operation::Put(7))).unwrap();
    renamed.on_request(RequestId(1), Operation::Put(7));
    assert_eq!(renamed, node.relabel(&swap));
    let inputs = [
        (
            NodeId(2),
            Message::Promise {
                ballot: b,
                accepted: None,
            },
        ),
        (
            NodeId(4),
            Message::Promise {
                ballot: b,
                accepted: None,
            },
        ),
        (NodeId(3), Message::Accepted { ballot: b }),
        (NodeId(2), Message::Accepted { ballot: b }),
        (
            NodeId(3),
            Message::Reject {
                ballot: b,
                promised: b,
            },
        ),
    ];
    for (from, msg) in inputs {
        let mut out = Vec::new();
        node.step(
            Input::Message {
                from,
                msg: msg.clone(),
            },
            &mut out,
        );
        let mut renamed_out = Vec::new();
        renamed.step(
            Input::Message {
                from: swap(from),
                msg: msg.relabel(&swap),
            },
            &mut renamed_out,
        );
        assert_eq!(
            renamed_out,
            out.iter().map(relabel_output).collect::<Vec<_>>()
        );
        assert_eq!(renamed, node.relabel(&swap), "after {msg:?} from {from}");
        if from == NodeId(2) && matches!(msg, Message::Promise { .. }) {
            assert_ne!(node.relabel(&swap), node, "the promise tally names node 2");
        }
    }
    assert!(node.learned().is_some(), "the round completed: {node:?}");
    assert_eq!(
        node.relabel(&swap).relabel(&swap),
        node,
        "a swap is an involution"
    );
}
