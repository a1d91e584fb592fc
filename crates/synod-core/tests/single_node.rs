//! A one-node cluster completes a request alone and broadcasts nothing. The model checks 3 to 7
//! nodes, so it cannot see what a node alone sends; this test kills the mutant
//! `members().len() > 1` → `>= 1` in `Node::broadcast` that the model-based mutation run missed
//! (docs/model.md, *Mutation testing*).

use synod_core::{Config, Node, NodeId, Operation, Outcome, Output, RequestId};

#[test]
fn a_single_node_completes_alone_and_broadcasts_nothing() {
    let mut a = Node::<u8>::new(Config::new(NodeId(1), [NodeId(1)]).unwrap());
    let out = a.on_request(RequestId(1), Operation::Put(7));
    assert!(
        !out.iter().any(|o| matches!(o, Output::Broadcast { .. })),
        "nobody to broadcast to: {out:?}"
    );
    assert!(
        out.contains(&Output::Reply {
            request: RequestId(1),
            result: Ok(Outcome::Written { previous: None })
        }),
        "{out:?}"
    );
}
