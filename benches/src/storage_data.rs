//! The keys and acceptor states the storage benchmarks write: 16-byte keys (the key number,
//! big-endian, in the last 8 bytes) and a promise with an accepted 100-byte value.

use bytes::Bytes;
use synod_core::{AcceptorState, Ballot, NodeId, Proposal};

/// Key number `k`.
pub fn key(k: u64) -> Bytes {
    let mut key = [0u8; 16];
    key[8..].copy_from_slice(&k.to_be_bytes());
    Bytes::copy_from_slice(&key)
}

/// Promised and accepted at `round` (node 1), value 100 × `a`.
pub fn state(round: u64) -> AcceptorState<Bytes> {
    let ballot = Ballot::new(round, NodeId(1));
    AcceptorState {
        promised: ballot,
        accepted: Some(Proposal {
            ballot,
            value: Some(Bytes::from(vec![0x61u8; 100])),
        }),
    }
}
