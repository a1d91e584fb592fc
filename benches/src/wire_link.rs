//! A [`Link`] that sends every message through the server's peer wire codec.
//!
//! Each message is wrapped in the server's `Envelope {from, key, msg}`, encoded exactly as the
//! transport does (`encode_envelope` into a `BatchBuilder`, one envelope per frame here — the
//! worst case, with no batching to amortise the frame), and decoded back with `decode_batch`
//! at the receiver. Register `k`'s key is its number as 8 big-endian bytes.

use crate::memory_cluster::Link;
use bytes::Bytes;
use synod_core::{Message, NodeId};
use synod_server::wire::{self, BatchBuilder, Envelope};

/// Encodes and decodes every message it carries; counts the bytes.
#[derive(Debug, Default)]
pub struct WireLink {
    keys: Vec<Bytes>,
    batch: BatchBuilder,
    /// Frame payload bytes carried so far.
    pub bytes: u64,
    /// Frames that failed to decode (always 0 unless the codec is broken).
    pub errors: u64,
}

impl WireLink {
    /// A link with no traffic yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, key: usize) -> Bytes {
        while self.keys.len() <= key {
            let next = self.keys.len() as u64;
            self.keys.push(Bytes::copy_from_slice(&next.to_be_bytes()));
        }
        self.keys[key].clone()
    }
}

impl Link<Bytes> for WireLink {
    fn carry(
        &mut self,
        key: usize,
        from: NodeId,
        _to: NodeId,
        msg: Message<Bytes>,
    ) -> Message<Bytes> {
        let key = self.key(key);
        let envelope = Envelope { from, key, msg };
        self.batch.push(&wire::encode_envelope(&envelope));
        let frame = self.batch.finish();
        self.bytes += frame.len() as u64;
        match wire::decode_batch(&frame).map(|mut all| all.pop()) {
            Ok(Some(decoded)) => decoded.msg,
            _ => {
                // Deliver the original so the harness goes on; the error is counted.
                self.errors += 1;
                envelope.msg
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryCluster;
    use synod_core::{Operation, Outcome, RequestId};

    #[test]
    fn decisions_through_the_codec_reach_every_member() {
        let mut cluster = MemoryCluster::with_link(3, WireLink::new()).unwrap();
        let key = cluster.add_register();
        let value = Bytes::from_static(b"elanor");
        cluster.request(key, NodeId(2), RequestId(1), Operation::Put(value.clone()));
        assert_eq!(cluster.run(), 10);
        assert_eq!(
            cluster.take_replies(),
            vec![(key, RequestId(1), Ok(Outcome::Written { previous: None }))]
        );
        for id in 1..=3 {
            let node = cluster.node(key, NodeId(id)).unwrap();
            assert_eq!(node.learned().unwrap().value.as_ref(), Some(&value));
        }
        assert_eq!(cluster.link().errors, 0);
        assert!(
            cluster.link().bytes > 10 * 8,
            "every frame carries at least its key"
        );
    }
}
