//! Bad bytes from a peer, in CI: random byte strings and mutations of valid frames (bit flips,
//! truncations, insertions, splices, length-field tampering) are fed to the peer frame decoders
//! and, through them, to a replica. Decoding must return an error or a well-formed value —
//! never panic — and bytes that are refused must leave the replica's disk byte-for-byte
//! unchanged. (The `cargo fuzz` targets in `crates/synod-server/fuzz` do the same without a
//! bound; see docs/testing.md.)

use bytes::Bytes;
use proptest::prelude::*;
use std::path::Path;
use std::sync::Arc;
use synod_core::{Ballot, ClusterSpec, Message, NodeId, Proposal, RequestId};
use synod_harness::sim::disk::SimDisk;
use synod_server::wire::{self, Envelope, Handshake};
use synod_server::{Event, Membership, Replica, ReplicaConfig, Storage};

fn replica(disk: &SimDisk) -> Replica {
    let nodes: Vec<NodeId> = (1..=3).map(NodeId).collect();
    let config = ReplicaConfig {
        cluster_id: "c".into(),
        node_id: NodeId(1),
        cluster: ClusterSpec::new(nodes).unwrap(),
        queue_limit: 16,
        cache_limit: 1024,
    };
    let storage = Storage::open_with_backend(
        disk.backends(synod_harness::sim::SIM_STORAGE),
        Path::new("fuzz"),
        "c",
        NodeId(1),
        Membership::of(&config.cluster),
        true,
    )
    .unwrap();
    Replica::with_storage(storage, config, Arc::default()).unwrap()
}

/// A valid batch frame from node 2 with every message kind.
fn valid_frame() -> Vec<u8> {
    let b = Ballot::new(7, NodeId(2));
    let env = |key: &'static str, msg| Envelope {
        from: NodeId(2),
        key: Bytes::from_static(key.as_bytes()),
        msg,
    };
    let p = Proposal {
        ballot: Ballot::new(3, NodeId(3)),
        value: Some(Bytes::from_static(b"elanor")),
    };
    wire::encode_batch(&[
        env("a", Message::Prepare { ballot: b }),
        env(
            "b",
            Message::Promise {
                ballot: b,
                accepted: Some(p.clone()),
            },
        ),
        env(
            "c",
            Message::Accept {
                ballot: b,
                value: Some(Bytes::from_static(b"v")),
                next: None,
            },
        ),
        env("d", Message::Accepted { ballot: b }),
        env(
            "e",
            Message::Reject {
                ballot: b,
                promised: p.ballot,
            },
        ),
        env(
            "f",
            Message::Commit {
                ballot: b,
                value: None,
            },
        ),
        env(
            "g",
            Message::Accept {
                ballot: b,
                value: None,
                next: Some(Ballot::new(8, NodeId(2))),
            },
        ),
        env(
            "h",
            Message::Query {
                request: RequestId(1 << 40 | 3),
            },
        ),
        env(
            "i",
            Message::Report {
                request: RequestId(1 << 40 | 3),
                accepted: Some(p.clone()),
            },
        ),
    ])
    .to_vec()
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Overwrite(usize, Vec<u8>),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, m)| Mutation::Flip(i, m)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Insert(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(i, n)| Mutation::Duplicate(i, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, mask) => {
                if !bytes.is_empty() {
                    bytes[i % len] ^= mask;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, b) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, b.iter().copied());
            }
            Mutation::Overwrite(i, b) => {
                for (k, v) in b.iter().enumerate() {
                    if let Some(x) = bytes.get_mut((i + k) % len) {
                        *x = *v;
                    }
                }
            }
            Mutation::Duplicate(i, n) => {
                let start = i % len;
                let end = (start + n % 16).min(bytes.len());
                let copy = bytes[start.min(bytes.len())..end].to_vec();
                bytes.extend(copy);
            }
        }
    }
    bytes
}

/// Feeds `bytes` as a batch frame from node 2, the way the transport does: decode, check the
/// sender, and only then hand the envelopes to the replica. Returns whether they were accepted.
fn feed(replica: &mut Replica, bytes: &[u8]) -> bool {
    let Ok(envelopes) = wire::decode_batch(bytes) else {
        return false;
    };
    if envelopes.iter().any(|e| e.from != NodeId(2)) {
        return false;
    }
    replica
        .handle_batch(envelopes.into_iter().map(Event::Peer))
        .expect("a well-formed frame never breaks storage");
    true
}

fn check(bytes: &[u8]) {
    // The handshake decoder and the decoder of frames with forwarded requests are total, too.
    let _ = wire::decode_handshake(bytes);
    let _ = wire::decode_frame(bytes);
    let disk = SimDisk::new();
    let mut r = replica(&disk);
    let before = disk.snapshot();
    if !feed(&mut r, bytes) {
        assert!(disk == before, "refused bytes changed the replica's disk");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn random_bytes_never_panic_and_change_nothing(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        check(&bytes);
    }

    #[test]
    fn mutated_frames_never_panic_and_refused_ones_change_nothing(
        mutations in prop::collection::vec(mutation(), 1..4)
    ) {
        check(&mutate(valid_frame(), &mutations));
    }

    #[test]
    fn mutated_handshakes_never_panic(mutations in prop::collection::vec(mutation(), 1..4)) {
        let members = (1..=3).map(NodeId).collect();
        let hello = Handshake::new("cluster", NodeId(2), Membership::majority(members));
        let hello = wire::encode_handshake(&hello).to_vec();
        let _ = wire::decode_handshake(&mutate(hello, &mutations));
    }
}

#[test]
fn the_unmutated_frame_is_accepted_and_does_change_the_disk() {
    // Control: the same path with a valid frame does reach the acceptor, so "unchanged" above
    // means something.
    let disk = SimDisk::new();
    let mut r = replica(&disk);
    let before = disk.snapshot();
    assert!(feed(&mut r, &valid_frame()));
    assert!(disk != before, "the prepare and accept were persisted");
}
