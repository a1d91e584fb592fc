//! The replica's part of a membership change (docs/protocol.md, "Membership change"): an
//! installed configuration is durable and survives restarts, later rounds run in it (messages
//! in its generation, broadcasts to its members), a lagging node adopts it from a `Stale`
//! reply, a new node joins with it, and a forged or older configuration changes nothing.

use bytes::Bytes;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use synod_core::{
    ClusterSpec, Configuration, Message, NodeId, NodeSet, Operation, Outcome, RequestId,
};
use synod_server::{Effects, Event, Replica, ReplicaConfig, TimerCommand};

fn set(ids: &[u8]) -> NodeSet {
    ids.iter().map(|&i| NodeId(i)).collect()
}

fn config(id: u8) -> ReplicaConfig {
    ReplicaConfig {
        cluster_id: "grow".into(),
        node_id: NodeId(id),
        cluster: ClusterSpec::new([1, 2, 3].map(NodeId)).unwrap(),
        queue_limit: 4,
        cache_limit: 100,
    }
}

/// Generation 1 of growing {1,2,3} by 4: the accept set grows first.
fn grown() -> Configuration {
    Configuration::new(1, set(&[1, 2, 3]), 2, set(&[1, 2, 3, 4]), 3).unwrap()
}

/// Generation 2: {1,2,3,4} with majorities.
fn four() -> Configuration {
    Configuration::stable(2, set(&[1, 2, 3, 4])).unwrap()
}

struct Cluster {
    tmp: tempfile::TempDir,
    replicas: BTreeMap<NodeId, Replica>,
}

impl Cluster {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let replicas = (1..=3)
            .map(|i| {
                let r = Replica::open(&dir(&tmp, i), config(i), true, Arc::default()).unwrap();
                (NodeId(i), r)
            })
            .collect();
        Cluster { tmp, replicas }
    }

    fn replica(&mut self, id: u8) -> &mut Replica {
        self.replicas.get_mut(&NodeId(id)).unwrap()
    }

    fn join(&mut self, id: u8, configuration: Configuration) {
        let r = Replica::join(
            &dir(&self.tmp, id),
            config(id),
            configuration,
            Arc::default(),
        )
        .unwrap();
        self.replicas.insert(NodeId(id), r);
    }

    /// Handles `events` at `node` and delivers every message until the network is quiet
    /// (messages to nodes that are not running are lost); returns every batch's effects.
    fn run(&mut self, node: u8, events: Vec<Event>) -> Vec<(NodeId, Effects)> {
        let mut seen = Vec::new();
        let mut inbox: VecDeque<(NodeId, Vec<Event>)> = VecDeque::new();
        inbox.push_back((NodeId(node), events));
        while let Some((to, events)) = inbox.pop_front() {
            let Some(replica) = self.replicas.get_mut(&to) else {
                continue;
            };
            let effects = replica.handle_batch(events).unwrap();
            for out in &effects.sends {
                inbox.push_back((out.to, vec![Event::Peer(out.envelope.clone())]));
            }
            seen.push((to, effects));
        }
        seen
    }
}

fn dir(tmp: &tempfile::TempDir, id: u8) -> std::path::PathBuf {
    tmp.path().join(format!("node-{id}"))
}

fn key() -> Bytes {
    Bytes::from_static(b"k")
}

fn put(request: u64, v: &'static str) -> Event {
    Event::Request {
        request: RequestId(request),
        key: key(),
        op: Operation::Put(Bytes::from_static(v.as_bytes())),
    }
}

fn read(request: u64) -> Event {
    Event::Request {
        request: RequestId(request),
        key: key(),
        op: Operation::Read,
    }
}

/// The one reply among `batches`, which must have succeeded.
fn answer(batches: &[(NodeId, Effects)]) -> Outcome<Bytes> {
    let replies: Vec<_> = batches.iter().flat_map(|(_, e)| &e.replies).collect();
    assert_eq!(replies.len(), 1, "one reply: {batches:?}");
    replies[0].result.clone().expect("the request succeeded")
}

fn read_value(v: &'static str) -> Outcome<Bytes> {
    Outcome::Read {
        value: Some(Bytes::from_static(v.as_bytes())),
    }
}

fn is_stale(msg: &Message<Bytes>) -> bool {
    matches!(
        msg.clone().generation_of(),
        Some((_, Message::Stale { .. }))
    )
}

fn generation_of(msg: &Message<Bytes>) -> u64 {
    msg.clone().generation_of().expect("well-formed").0
}

#[test]
fn an_installed_configuration_is_durable_and_later_rounds_run_in_it() {
    let mut c = Cluster::new();
    assert_eq!(c.replica(1).configuration().generation(), 0);
    // The value chosen in generation 0 is read back after the change.
    assert_eq!(
        answer(&c.run(1, vec![put(1, "before")])),
        Outcome::Written { previous: None }
    );

    c.join(4, grown());
    for id in 1..=3 {
        c.run(id, vec![Event::Install(grown())]);
    }
    for id in 1..=4 {
        c.run(id, vec![Event::Install(four())]);
    }
    for id in 1..=4 {
        assert_eq!(c.replica(id).configuration(), &four(), "node {id}");
    }
    let batches = c.run(4, vec![read(2)]);
    assert_eq!(answer(&batches), read_value("before"));
    // Everything node 4 sent went to the other three members, in generation 2.
    let sent: Vec<_> = batches
        .iter()
        .filter(|(n, _)| *n == NodeId(4))
        .flat_map(|(_, e)| &e.sends)
        .collect();
    assert!(!sent.is_empty());
    for s in &sent {
        assert_eq!(generation_of(&s.envelope.msg), 2, "{s:?}");
        assert!(four().members().contains(s.to) && s.to != NodeId(4));
    }
    assert!([1, 2, 3]
        .iter()
        .all(|&n| sent.iter().any(|s| s.to == NodeId(n))));

    // A restart (or a new process on the directory) comes back in generation 2.
    c.replica(2).restart().unwrap();
    assert_eq!(c.replica(2).configuration(), &four());
    drop(c.replicas.remove(&NodeId(4)));
    let reopened = Replica::open(&dir(&c.tmp, 4), config(4), false, Arc::default()).unwrap();
    assert_eq!(reopened.configuration(), &four());
}

#[test]
fn a_lagging_node_adopts_the_configuration_from_a_stale_reply() {
    let mut c = Cluster::new();
    c.join(4, grown());
    c.run(1, vec![Event::Install(grown())]);
    c.run(3, vec![Event::Install(grown())]);
    // Node 2 missed the install: its prepare (generation 0) is refused with a `Stale` by 1 and
    // 3, it installs generation 1 durably, and its write completes in generation 1.
    let batches = c.run(2, vec![put(1, "late")]);
    assert!(batches.iter().any(|(n, e)| *n != NodeId(2)
        && e.sends
            .iter()
            .any(|s| s.to == NodeId(2) && is_stale(&s.envelope.msg))));
    assert_eq!(c.replica(2).configuration(), &grown());
    // The install ended node 2's round as its timer would; the retry runs in generation 1 when
    // the timer it set instead fires.
    let timer = batches
        .iter()
        .filter(|(n, _)| *n == NodeId(2))
        .flat_map(|(_, e)| &e.timers)
        .filter_map(|t| match t {
            TimerCommand::Set { timer, .. } => Some(*timer),
            TimerCommand::Cancel { .. } => None,
        })
        .last()
        .expect("a timer for the retry");
    let batches = c.run(2, vec![Event::Timeout { key: key(), timer }]);
    assert_eq!(answer(&batches), Outcome::Written { previous: None });
    assert!(batches
        .iter()
        .flat_map(|(_, e)| &e.sends)
        .all(|s| generation_of(&s.envelope.msg) == 1));
    c.replica(2).restart().unwrap();
    assert_eq!(c.replica(2).configuration(), &grown());
}

#[test]
fn a_forged_or_older_configuration_changes_nothing() {
    let mut c = Cluster::new();
    c.run(1, vec![Event::Install(four())]);
    c.run(1, vec![put(1, "x")]);
    let before = c.replica(1).node_state(&key()).unwrap();
    // A `Stale` whose quorums could miss (2 + 2 of members {1,2,3,4}, bit set 30), as a peer
    // could send it: deserialized field by field, it is checked before anything installs it.
    let forged: Configuration =
        serde_json::from_str(r#"{"generation":9,"prepare":30,"q1":2,"accept":30,"q2":2}"#).unwrap();
    assert!(
        forged.checked().is_err(),
        "the forgery is invalid: {forged:?}"
    );
    let stale = Event::Peer(synod_server::wire::Envelope {
        from: NodeId(3),
        key: key(),
        msg: Message::Stale {
            configuration: forged,
        },
    });
    let effects = c.replica(1).handle_batch([stale]).unwrap();
    assert_eq!(
        effects,
        Effects {
            batch: effects.batch,
            ..Effects::default()
        }
    );
    let effects = c.replica(1).handle_batch([Event::Install(forged)]).unwrap();
    assert!(effects.sends.is_empty() && effects.timers.is_empty());
    // An older generation (a late or replayed install) is ignored.
    let effects = c
        .replica(1)
        .handle_batch([Event::Install(grown())])
        .unwrap();
    assert!(effects.sends.is_empty() && effects.timers.is_empty());
    assert_eq!(c.replica(1).configuration(), &four());
    assert_eq!(c.replica(1).node_state(&key()).unwrap(), before);
    c.replica(1).restart().unwrap();
    assert_eq!(
        c.replica(1).configuration(),
        &four(),
        "nothing else was recorded"
    );
}

#[test]
fn a_node_cannot_join_a_configuration_it_is_not_in() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Replica::join(&dir(&tmp, 5), config(5), four(), Arc::default()).unwrap_err();
    assert!(err.to_string().contains("not a member"), "{err}");
    assert!(!dir(&tmp, 5).exists(), "nothing was created");
}
