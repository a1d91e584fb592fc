//! The pattern's worked example (docs/pattern.md, T1–T8) driven message by message through five
//! core nodes: Athens (a) … Ephesus (e). After every step the promised / accepted table must read
//! exactly as the pattern prints it; at the end Cyrene commits "elanor" and tells its caller that
//! "carol" lost.

mod common;

use common::Cluster;
use synod_core::{Ballot, Message, NodeId, Operation, Outcome, Output, RequestId, Timer};

const A: NodeId = NodeId(1);
const B: NodeId = NodeId(2);
const C: NodeId = NodeId(3);
const D: NodeId = NodeId(4);
const E: NodeId = NodeId(5);
const ALL: [NodeId; 5] = [A, B, C, D, E];

fn name(n: NodeId) -> char {
    (b'a' + n.0 - 1) as char
}

/// A ballot in the seed's notation: "1a", "2a", "3c"; "0" for nothing promised.
fn ballot(text: &str) -> Ballot {
    if text == "0" {
        return Ballot::ZERO;
    }
    let (round, node) = text.split_at(text.len() - 1);
    let node = node.as_bytes()[0] - b'a' + 1;
    Ballot::new(round.parse().unwrap(), NodeId(node))
}

/// Renders one node's promise the way the seed's table does.
fn promised(c: &Cluster<String>, n: NodeId) -> String {
    let b = c.durable[n.0 as usize - 1].promised;
    if b == Ballot::ZERO {
        "0".into()
    } else {
        format!("{}{}", b.round, name(b.node))
    }
}

/// Renders one node's accepted value ("—" for nothing), from its durable state.
fn accepted(c: &Cluster<String>, n: NodeId) -> String {
    match &c.durable[n.0 as usize - 1].accepted {
        None => "—".into(),
        Some(p) => p.value.clone().unwrap_or_default(),
    }
}

/// Asserts the seed's table row, e.g. `row(&c, "T1", "1a/1a/0/1e/1e", "—/—/—/—/—")`.
fn row(c: &Cluster<String>, step: &str, promises: &str, accepts: &str) {
    let got_p: Vec<String> = ALL.iter().map(|n| promised(c, *n)).collect();
    let got_a: Vec<String> = ALL.iter().map(|n| accepted(c, *n)).collect();
    assert_eq!(got_p.join("/"), promises, "{step}: promised a/b/c/d/e");
    assert_eq!(got_a.join("/"), accepts, "{step}: accepted a/b/c/d/e");
    // The nodes that are up agree with what they persisted.
    for n in ALL.iter().filter(|n| c.is_up(**n)) {
        assert_eq!(
            c.node(*n).acceptor().state(),
            &c.durable[n.0 as usize - 1],
            "{step}: node {} runs on exactly its persisted state",
            name(*n)
        );
    }
    c.check_single_decree(&["alice".into(), "elanor".into(), "carol".into()])
        .unwrap_or_else(|e| panic!("{step}: {e}"));
}

fn is_prepare(b: &'static str) -> impl Fn(&Message<String>) -> bool {
    move |m| matches!(m, Message::Prepare { ballot: x } if *x == ballot(b))
}
fn is_promise(b: &'static str) -> impl Fn(&Message<String>) -> bool {
    move |m| matches!(m, Message::Promise { ballot: x, .. } if *x == ballot(b))
}
fn is_accept(b: &'static str) -> impl Fn(&Message<String>) -> bool {
    move |m| matches!(m, Message::Accept { ballot: x, .. } if *x == ballot(b))
}
fn is_accepted(b: &'static str) -> impl Fn(&Message<String>) -> bool {
    move |m| matches!(m, Message::Accepted { ballot: x } if *x == ballot(b))
}

fn propose(v: &str) -> Operation<String> {
    Operation::ProposeOnce(v.to_string())
}

#[test]
fn athens_alice_ephesus_elanor_cyrene_carol() {
    let mut c = Cluster::<String>::majority(5);
    row(&c, "start", "0/0/0/0/0", "—/—/—/—/—");

    // T1: Athens prepares [1,a] reaching a and b; Ephesus prepares [1,e] reaching d and e.
    c.request(A, 1, propose("alice"));
    c.deliver_where(A, B, is_prepare("1a"));
    c.deliver_where(B, A, is_promise("1a"));
    c.request(E, 2, propose("elanor"));
    c.deliver_where(E, D, is_prepare("1e"));
    c.deliver_where(D, E, is_promise("1e"));
    row(&c, "T1", "1a/1a/0/1e/1e", "—/—/—/—/—");

    // T2: Athens's prepare reaches c, which promises.
    c.deliver_where(A, C, is_prepare("1a"));
    row(&c, "T2", "1a/1a/1a/1e/1e", "—/—/—/—/—");

    // T3: c's promise completes Athens's quorum (a, b, c); accept([1,a], alice) is accepted by
    // a (inline) and b.
    c.deliver_where(C, A, is_promise("1a"));
    assert!(
        c.last.contains(&Output::Broadcast {
            msg: Message::Accept {
                ballot: ballot("1a"),
                value: Some("alice".into()),
                next: None,
            }
        }),
        "T3: Athens proposes its own value: nothing was accepted yet"
    );
    c.deliver_where(A, B, is_accept("1a"));
    c.deliver_where(B, A, is_accepted("1a"));
    row(&c, "T3", "1a/1a/1a/1e/1e", "alice/alice/—/—/—");

    // T4: Ephesus's prepare [1,e] reaches c, which promises ([1,e] > [1,a]); Athens's accept
    // then reaches c and is rejected.
    c.deliver_where(E, C, is_prepare("1e"));
    c.deliver_where(A, C, is_accept("1a"));
    assert_eq!(
        c.last,
        vec![Output::Send {
            to: A,
            msg: Message::Reject {
                ballot: ballot("1a"),
                promised: ballot("1e")
            }
        }]
    );
    row(&c, "T4", "1a/1a/1e/1e/1e", "alice/alice/—/—/—");

    // T5: Ephesus has its quorum (c, d, e); accept([1,e], elanor) reaches d and e; Ephesus
    // crashes. Athens sees c's reject: its round fails and it waits to retry.
    c.deliver_where(C, E, is_promise("1e"));
    c.deliver_where(E, D, is_accept("1e"));
    c.crash(E);
    c.deliver_where(C, A, |m| matches!(m, Message::Reject { .. }));
    assert!(c.last.contains(&Output::SetTimer {
        timer: Timer::Backoff,
        attempt: 2
    }));
    assert!(c.replies.is_empty(), "T5: nobody has an answer yet");
    row(&c, "T5", "1a/1a/1e/1e/1e", "alice/alice/—/elanor/elanor");

    // T6: Athens retries with [2,a]; a, c and d promise. a reports alice@[1,a], d elanor@[1,e].
    c.timeout(A, Timer::Backoff);
    c.deliver_where(A, C, is_prepare("2a"));
    c.deliver_where(A, D, is_prepare("2a"));
    let from_d = c
        .in_flight
        .iter()
        .find(|m| m.from == D && m.to == A)
        .map(|m| m.msg.clone());
    assert!(
        matches!(&from_d, Some(Message::Promise { accepted: Some(p), .. })
            if p.ballot == ballot("1e") && p.value.as_deref() == Some("elanor")),
        "T6: d reports elanor@[1,e]: {from_d:?}"
    );
    row(&c, "T6", "2a/1a/2a/2a/1e", "alice/alice/—/elanor/elanor");

    // T7: Athens must propose elanor ([1,e] > [1,a]); its accept([2,a], elanor) reaches only a;
    // then Athens crashes.
    c.deliver_where(C, A, is_promise("2a"));
    c.deliver_where(D, A, is_promise("2a"));
    assert!(c.last.contains(&Output::Broadcast {
        msg: Message::Accept {
            ballot: ballot("2a"),
            value: Some("elanor".into()),
            next: None,
        }
    }));
    c.crash(A);
    c.in_flight.retain(|m| !is_accept("2a")(&m.msg));
    row(&c, "T7", "2a/1a/2a/2a/1e", "elanor/alice/—/elanor/elanor");
    assert_eq!(
        c.oracle.chosen().count(),
        0,
        "T7: elanor is held by three nodes, but at different ballots: not yet chosen"
    );

    // T8: Cyrene is asked for carol. It prepares [3,c] at b, c, d; b reports alice@[1,a], d
    // elanor@[1,e]; Cyrene proposes elanor at [3,c] and commits it.
    c.request(C, 3, propose("carol"));
    assert!(c.last.contains(&Output::Broadcast {
        msg: Message::Prepare {
            ballot: ballot("3c")
        }
    }));
    c.deliver_where(C, B, is_prepare("3c"));
    c.deliver_where(C, D, is_prepare("3c"));
    c.deliver_where(B, C, is_promise("3c"));
    c.deliver_where(D, C, is_promise("3c"));
    assert!(c.last.contains(&Output::Broadcast {
        msg: Message::Accept {
            ballot: ballot("3c"),
            value: Some("elanor".into()),
            next: None,
        }
    }));
    c.deliver_where(C, B, is_accept("3c"));
    c.deliver_where(C, D, is_accept("3c"));
    c.deliver_where(B, C, is_accepted("3c"));
    c.deliver_where(D, C, is_accepted("3c"));
    row(
        &c,
        "T8",
        "2a/3c/3c/3c/1e",
        "elanor/elanor/elanor/elanor/elanor",
    );
    assert_eq!(
        c.replies,
        vec![(
            C,
            RequestId(3),
            Ok(Outcome::Chosen {
                value: "elanor".into(),
                won: false
            })
        )],
        "Cyrene's caller learns that carol lost to elanor"
    );
    let chosen: Vec<_> = c.oracle.chosen().cloned().collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0].ballot, ballot("3c"));

    // Athens and Ephesus learn elanor when they come back.
    c.restart(A);
    c.restart(E);
    for n in [A, B, D, E] {
        c.deliver_where(C, n, |m| matches!(m, Message::Commit { .. }));
        assert_eq!(
            c.node(n).learned().and_then(|p| p.value.as_deref()),
            Some("elanor"),
            "{} learned elanor",
            name(n)
        );
    }
    c.check_single_decree(&["alice".into(), "elanor".into(), "carol".into()])
        .unwrap();
}
