//! The peer wire format: what travels between nodes, and how it is framed.
//!
//! A peer connection carries length-delimited frames (tokio-util's `LengthDelimitedCodec`,
//! 4-byte big-endian length, with a hard size limit on every frame, [`DEFAULT_MAX_FRAME`] unless
//! configured). The first frame is a [`Handshake`] naming the protocol, its version, the
//! cluster, the sending node, the [`Membership`] (member ids, q1, q2) it runs with and the member
//! [`Addresses`] it lists; the receiver answers it with one [`HandshakeReply`] (accepted, or
//! refused and why) and writes nothing else. Every later frame is a postcard-encoded `Vec<Item>`
//! — several items batched into one frame. An [`Item`] is one of:
//!
//! * [`Item::Protocol`]: an [`Envelope`], one protocol message for one key:
//!   `{from, key, Message<Bytes>}`, the core's message type verbatim;
//! * [`Item::Forward`]: a client request forwarded to its key's home, `{from, id, key, op}`;
//! * [`Item::Answer`]: the home's answer to it, `{from, id, result}`, matched by `id`.
//!
//! Decoding never panics: anything that is not a well-formed frame is a [`WireError`], which
//! the transport answers by closing that one connection.

use crate::membership::{Addresses, Membership};
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use synod_core::{Configuration, Message, NodeId, Operation, Outcome, RequestError, RequestId};
use thiserror::Error;
use tokio_util::codec::LengthDelimitedCodec;

/// The first bytes of every handshake.
pub const WIRE_MAGIC: [u8; 4] = *b"SYND";
/// The wire format version this build speaks. Version 2 added the membership to the handshake;
/// version 3 the core's one-round-trip messages (`Accept.next`, `Query`, `Report`) and frames of
/// [`Item`]s (forwarded requests and their answers besides protocol envelopes); version 4 the
/// member addresses to the handshake and the receiver's [`HandshakeReply`]; version 5 membership
/// change: the core's `Generation` and `Stale` messages, and the [`Install`], [`Installed`],
/// [`ListKeys`] and [`Keys`] items.
pub const WIRE_VERSION: u16 = 5;
/// Default limit on one frame (handshake or batch), in bytes.
pub const DEFAULT_MAX_FRAME: usize = 4 * 1024 * 1024;
/// The longest cluster id accepted.
pub const MAX_CLUSTER_ID: usize = 128;

/// One protocol message about one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The sending node (must match the connection's handshake).
    pub from: NodeId,
    /// The key (register) the message is about.
    pub key: Bytes,
    /// The message.
    pub msg: Message<Bytes>,
}

/// One item of a batch frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// A protocol message about one key.
    Protocol(Envelope),
    /// A client request forwarded to its key's home.
    Forward(Forward),
    /// The home's answer to a forwarded request.
    Answer(Answer),
    /// A membership change's next configuration, for the receiver to install.
    Install(Install),
    /// The receiver of an [`Install`] runs that generation (or a later one) now.
    Installed(Installed),
    /// A membership change's catch-up asks for the keys the receiver holds acceptor state for.
    ListKeys(ListKeys),
    /// The answer to a [`ListKeys`].
    Keys(Keys),
}

impl Item {
    /// The node that sent the item (must match the connection's handshake).
    pub fn from(&self) -> NodeId {
        match self {
            Item::Protocol(e) => e.from,
            Item::Forward(f) => f.from,
            Item::Answer(a) => a.from,
            Item::Install(i) => i.from,
            Item::Installed(i) => i.from,
            Item::ListKeys(l) => l.from,
            Item::Keys(k) => k.from,
        }
    }
}

/// A membership change's next configuration, sent by the node running the change to every
/// member of the old and the new configuration. The receiver installs it (durably) if it is
/// newer than its own, learns the member addresses it did not know, and answers
/// [`Installed`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Install {
    /// The node running the change.
    pub from: NodeId,
    /// The configuration (checked again by the receiver before it installs anything).
    pub configuration: Configuration,
    /// Peer addresses of the configuration's members.
    pub addresses: Vec<(NodeId, String)>,
}

/// The answer to an [`Install`]: the generation the sender runs now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installed {
    /// The node that installed.
    pub from: NodeId,
    /// Its generation now (at least the one it was sent).
    pub generation: u64,
}

/// Asks for up to `limit` keys, in order, after `after`, that the receiver holds acceptor
/// state for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListKeys {
    /// The node running the catch-up.
    pub from: NodeId,
    /// Matches the answer.
    pub id: RequestId,
    /// Keys after this one (from the first when `None`).
    pub after: Option<Bytes>,
    /// At most this many keys (the receiver caps it at [`MAX_KEYS_PER_PAGE`]).
    pub limit: u32,
}

/// The most keys a [`Keys`] answer carries.
pub const MAX_KEYS_PER_PAGE: u32 = 1024;

/// The answer to a [`ListKeys`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keys {
    /// The node that listed its keys.
    pub from: NodeId,
    /// The [`ListKeys`]'s id.
    pub id: RequestId,
    /// The generation the sender ran when it listed them.
    pub generation: u64,
    /// The keys, in order; fewer than asked means there are no more.
    pub keys: Vec<Bytes>,
}

/// A client request that a node received for a key it is not home for, sent to the home. The
/// home executes it as its own client request (it never forwards it again) and answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Forward {
    /// The forwarding node.
    pub from: NodeId,
    /// Matches the answer: an id the forwarding node never used before, across restarts too.
    pub id: RequestId,
    /// The key.
    pub key: Bytes,
    /// The operation.
    pub op: Operation<Bytes>,
    /// A membership change's catch-up of the key in this generation (`op` is then `Read`): the
    /// home runs it as a full-round read (`Input::CatchUp`), queued behind the key's client
    /// requests instead of racing them, if it runs that generation, and refuses it otherwise.
    #[serde(default)]
    pub catch_up: Option<u64>,
}

/// The home's answer to a [`Forward`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// The home.
    pub from: NodeId,
    /// The [`Forward`]'s id.
    pub id: RequestId,
    /// What the request did.
    pub result: Result<Outcome<Bytes>, Failure>,
}

/// Why a client request failed: what the HTTP API answers, and what an [`Answer`] carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Error)]
pub enum Failure {
    /// The core's answer: `Exhausted` (surely not applied), `Indeterminate` (applied once or
    /// not at all), or `Busy`.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// Too many requests wait on the key.
    #[error("too many requests are waiting on this key")]
    QueueFull,
    /// The request timeout passed first; a write may still take effect.
    #[error("no quorum answered within {after_ms} ms; a write may still take effect")]
    Timeout {
        /// The timeout, in ms.
        after_ms: u64,
    },
    /// The node is stopping (its storage failed).
    #[error("{0}")]
    Stopped(String),
    /// The request is malformed (a key of the wrong length).
    #[error("{0}")]
    BadInput(String),
    /// A value is over the size limit.
    #[error("values are limited to {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// This node was removed from the cluster by a membership change: it serves no client.
    #[error("node {node} was removed from the cluster (membership generation {generation}); send requests to a member: {members}")]
    Removed {
        /// The removed node.
        node: NodeId,
        /// Its configuration's generation.
        generation: u64,
        /// The members of that configuration, e.g. `{1, 2, 4}`.
        members: String,
    },
}

/// The first frame on every peer connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handshake {
    /// Always [`WIRE_MAGIC`].
    pub magic: [u8; 4],
    /// The sender's [`WIRE_VERSION`].
    pub version: u16,
    /// The cluster the sender belongs to.
    pub cluster_id: String,
    /// The sender.
    pub node_id: NodeId,
    /// The member ids and quorum sizes the sender runs with (the receiver requires its own).
    pub membership: Membership,
    /// The member addresses the sender lists (the receiver requires its own, unless either
    /// side does not compare addresses: `None`).
    pub addresses: Option<Addresses>,
}

/// The receiver's answer to a [`Handshake`]: the only frame a node writes on a connection it
/// accepted. A refusal says why, naming both nodes, and the connection is closed after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HandshakeReply {
    /// The handshake is accepted: frames of items follow from the sender.
    Accepted,
    /// The handshake is refused, and why (e.g. `node 2 runs with members {1, 2, 3} …, node 4
    /// with members {1, 2, 3, 4} …`).
    Refused(String),
}

/// The fields every version's handshake starts with: read first, so that a peer of another
/// version is told so rather than that its handshake is malformed.
#[derive(Deserialize)]
struct HandshakeHead {
    magic: [u8; 4],
    version: u16,
}

impl Handshake {
    /// The handshake of node `node_id` of `cluster_id` running with `membership`, in this
    /// build's version, stating no addresses.
    pub fn new(cluster_id: &str, node_id: NodeId, membership: Membership) -> Self {
        Handshake {
            magic: WIRE_MAGIC,
            version: WIRE_VERSION,
            cluster_id: cluster_id.to_owned(),
            node_id,
            membership,
            addresses: None,
        }
    }

    /// The same handshake stating the member addresses the sender lists.
    pub fn with_addresses(self, addresses: Addresses) -> Self {
        Handshake {
            addresses: Some(addresses),
            ..self
        }
    }
}

/// Why bytes from a peer were refused.
#[derive(Debug, Error)]
pub enum WireError {
    /// Not valid postcard for the expected type.
    #[error("malformed frame: {0}")]
    Malformed(#[from] postcard::Error),
    /// The frame decoded but left bytes over.
    #[error("malformed frame: {0} trailing bytes")]
    TrailingBytes(usize),
    /// The handshake does not start with [`WIRE_MAGIC`].
    #[error("not a synod peer (bad magic)")]
    BadMagic,
    /// The peer speaks another version.
    #[error("unsupported wire version {0} (this build speaks {WIRE_VERSION})")]
    UnsupportedVersion(u16),
    /// The cluster id is longer than [`MAX_CLUSTER_ID`].
    #[error("cluster id too long")]
    ClusterIdTooLong,
    /// A frame of protocol envelopes was expected, and it holds another item.
    #[error("a frame of protocol envelopes holds a forwarded request or answer")]
    NotProtocol,
    /// A frame would exceed the size limit.
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The frame's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
}

/// The length-delimited codec with the frame limit applied (used on both ends).
pub fn codec(max_frame: usize) -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .max_frame_length(max_frame)
        .new_codec()
}

/// Encodes a handshake frame's payload.
pub fn encode_handshake(handshake: &Handshake) -> Bytes {
    Bytes::from(postcard::to_allocvec(handshake).expect("a handshake always serializes"))
}

/// Decodes and checks a handshake frame's payload (magic, version, id length; the cluster id,
/// node id and membership are for the caller to judge).
pub fn decode_handshake(frame: &[u8]) -> Result<Handshake, WireError> {
    let (head, _) = postcard::take_from_bytes::<HandshakeHead>(frame)?;
    if head.magic != WIRE_MAGIC {
        return Err(WireError::BadMagic);
    }
    if head.version != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion(head.version));
    }
    let handshake: Handshake = decode_exact(frame)?;
    if handshake.cluster_id.len() > MAX_CLUSTER_ID {
        return Err(WireError::ClusterIdTooLong);
    }
    Ok(handshake)
}

/// Encodes a handshake reply frame's payload.
pub fn encode_reply(reply: &HandshakeReply) -> Bytes {
    Bytes::from(postcard::to_allocvec(reply).expect("a reply always serializes"))
}

/// Decodes a handshake reply frame's payload.
pub fn decode_reply(frame: &[u8]) -> Result<HandshakeReply, WireError> {
    decode_exact(frame)
}

/// An [`Item::Protocol`] by reference: the same encoding, without cloning the envelope.
#[derive(Serialize)]
enum ProtocolRef<'a> {
    Protocol(&'a Envelope),
}

/// Encodes one envelope as an [`Item::Protocol`] on its own (a batch is a count followed by
/// such encodings).
pub fn encode_envelope(envelope: &Envelope) -> Vec<u8> {
    postcard::to_allocvec(&ProtocolRef::Protocol(envelope)).expect("an envelope always serializes")
}

/// Encodes one item on its own (a batch is a count followed by such encodings).
pub fn encode_item(item: &Item) -> Vec<u8> {
    postcard::to_allocvec(item).expect("an item always serializes")
}

/// Builds a batch frame's payload out of items encoded with [`encode_item`] or
/// [`encode_envelope`]: postcard's encoding of `Vec<Item>` is the element count (varint)
/// followed by the elements, so batching needs no re-encoding and the frame's exact size is
/// known while it is filled.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    count: usize,
    body: BytesMut,
}

impl BatchBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Envelopes in the batch.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The size the frame's payload will have with `extra` more bytes of envelopes.
    pub fn size_with(&self, extra: usize) -> usize {
        // A varint count takes at most 10 bytes.
        self.body.len() + extra + 10
    }

    /// Adds one encoded envelope.
    pub fn push(&mut self, encoded: &[u8]) {
        self.count += 1;
        self.body.extend_from_slice(encoded);
    }

    /// The frame's payload; the builder is empty afterwards.
    pub fn finish(&mut self) -> Bytes {
        let mut frame =
            BytesMut::from(&postcard::to_allocvec(&self.count).expect("a count serializes")[..]);
        frame.extend_from_slice(&self.body);
        self.count = 0;
        self.body.clear();
        frame.freeze()
    }
}

/// Encodes a batch frame of protocol envelopes in one go.
pub fn encode_batch(envelopes: &[Envelope]) -> Bytes {
    let mut batch = BatchBuilder::new();
    for envelope in envelopes {
        batch.push(&encode_envelope(envelope));
    }
    batch.finish()
}

/// Decodes a batch frame's payload.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Item>, WireError> {
    decode_exact(frame)
}

/// Decodes a batch frame that must hold protocol envelopes only (what a replica alone
/// exchanges: the simulation, trace replays, benchmarks); any other item is an error.
pub fn decode_batch(frame: &[u8]) -> Result<Vec<Envelope>, WireError> {
    decode_frame(frame)?
        .into_iter()
        .map(|item| match item {
            Item::Protocol(envelope) => Ok(envelope),
            _ => Err(WireError::NotProtocol),
        })
        .collect()
}

fn decode_exact<T: for<'de> Deserialize<'de>>(frame: &[u8]) -> Result<T, WireError> {
    let (value, rest) = postcard::take_from_bytes(frame)?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{SinkExt, StreamExt};
    use synod_core::{Ballot, NodeSet, Proposal};
    use tokio_util::codec::{FramedRead, FramedWrite};

    fn envelopes() -> Vec<Envelope> {
        let b = Ballot::new(3, NodeId(2));
        vec![
            Envelope {
                from: NodeId(2),
                key: Bytes::from_static(b"name"),
                msg: Message::Prepare { ballot: b },
            },
            Envelope {
                from: NodeId(2),
                key: Bytes::from_static(b"k"),
                msg: Message::Promise {
                    ballot: b,
                    accepted: Some(Proposal {
                        ballot: Ballot::new(1, NodeId(5)),
                        value: Some(Bytes::from_static(b"elanor")),
                    }),
                },
            },
            Envelope {
                from: NodeId(2),
                key: Bytes::new(),
                msg: Message::Commit {
                    ballot: b,
                    value: None,
                },
            },
        ]
    }

    #[test]
    fn batches_round_trip_and_match_postcards_vec_encoding() {
        let all = envelopes();
        let frame = encode_batch(&all);
        let items: Vec<Item> = all.iter().cloned().map(Item::Protocol).collect();
        assert_eq!(&frame[..], &postcard::to_allocvec(&items).unwrap()[..]);
        assert_eq!(decode_batch(&frame).unwrap(), all);
        assert_eq!(decode_frame(&frame).unwrap(), items);
        assert_eq!(decode_batch(&encode_batch(&[])).unwrap(), vec![]);
    }

    #[test]
    fn forwarded_requests_and_answers_share_frames_with_envelopes() {
        let forward = Item::Forward(Forward {
            from: NodeId(2),
            id: RequestId(3 << 40 | 7),
            key: Bytes::from_static(b"greeting"),
            op: Operation::Cas {
                expected: None,
                new: Bytes::from_static(b"hello"),
            },
            catch_up: None,
        });
        let answers = [
            Ok(Outcome::Written { previous: None }),
            Err(Failure::Request(RequestError::Indeterminate)),
            Err(Failure::Timeout { after_ms: 5000 }),
            Err(Failure::TooLarge { limit: 10 }),
        ]
        .map(|result| {
            Item::Answer(Answer {
                from: NodeId(2),
                id: RequestId(9),
                result,
            })
        });
        let mut items = vec![Item::Protocol(envelopes()[0].clone()), forward];
        items.extend(answers);
        let mut batch = BatchBuilder::new();
        for item in &items {
            batch.push(&encode_item(item));
        }
        let frame = batch.finish();
        assert_eq!(decode_frame(&frame).unwrap(), items);
        assert!(items.iter().all(|item| item.from() == NodeId(2)));
        assert!(
            matches!(decode_batch(&frame), Err(WireError::NotProtocol)),
            "a replica-only reader refuses what is not a protocol envelope"
        );
        // An envelope encodes the same whether it is borrowed or owned by an item.
        let envelope = envelopes()[1].clone();
        assert_eq!(
            encode_envelope(&envelope),
            encode_item(&Item::Protocol(envelope))
        );
    }

    #[test]
    fn the_one_round_trip_messages_travel() {
        let b = Ballot::new(3, NodeId(2));
        let one_round_trip = vec![
            Envelope {
                from: NodeId(2),
                key: Bytes::from_static(b"k"),
                msg: Message::Accept {
                    ballot: b,
                    value: Some(Bytes::from_static(b"v")),
                    next: Some(Ballot::new(4, NodeId(2))),
                },
            },
            Envelope {
                from: NodeId(2),
                key: Bytes::from_static(b"k"),
                msg: Message::Query {
                    request: RequestId(1 << 40 | 1),
                },
            },
            Envelope {
                from: NodeId(2),
                key: Bytes::from_static(b"k"),
                msg: Message::Report {
                    request: RequestId(1 << 40 | 1),
                    accepted: Some(Proposal {
                        ballot: b,
                        value: None,
                    }),
                },
            },
        ];
        assert_eq!(
            decode_batch(&encode_batch(&one_round_trip)).unwrap(),
            one_round_trip
        );
    }

    #[test]
    fn malformed_frames_are_typed_errors() {
        let frame = encode_batch(&envelopes());
        assert!(matches!(
            decode_batch(&frame[..frame.len() - 1]),
            Err(WireError::Malformed(_))
        ));
        let mut longer = frame.to_vec();
        longer.push(0);
        assert!(matches!(
            decode_batch(&longer),
            Err(WireError::TrailingBytes(1))
        ));
        assert!(decode_batch(&[0xff; 16]).is_err());
        // A count claiming billions of elements fails without allocating them.
        assert!(decode_batch(&[0xff, 0xff, 0xff, 0xff, 0x0f]).is_err());
    }

    fn three() -> Membership {
        Membership::majority((1..=3).map(NodeId).collect::<NodeSet>())
    }

    #[test]
    fn handshakes_are_checked() {
        let ok = Handshake::new("prod", NodeId(3), three());
        assert_eq!(decode_handshake(&encode_handshake(&ok)).unwrap(), ok);
        let mut bad = ok.clone();
        bad.magic = *b"HTTP";
        assert!(matches!(
            decode_handshake(&encode_handshake(&bad)),
            Err(WireError::BadMagic)
        ));
        let mut bad = ok.clone();
        bad.version = 99;
        assert!(matches!(
            decode_handshake(&encode_handshake(&bad)),
            Err(WireError::UnsupportedVersion(99))
        ));
        let bad = Handshake::new(&"x".repeat(MAX_CLUSTER_ID + 1), NodeId(1), three());
        assert!(matches!(
            decode_handshake(&encode_handshake(&bad)),
            Err(WireError::ClusterIdTooLong)
        ));
    }

    #[test]
    fn a_version_1_handshake_is_refused_as_another_version() {
        // Version 1 had no membership: {magic, version, cluster id, node id}.
        #[derive(Serialize)]
        struct V1 {
            magic: [u8; 4],
            version: u16,
            cluster_id: String,
            node_id: NodeId,
        }
        let v1 = postcard::to_allocvec(&V1 {
            magic: WIRE_MAGIC,
            version: 1,
            cluster_id: "prod".into(),
            node_id: NodeId(2),
        })
        .unwrap();
        assert!(matches!(
            decode_handshake(&v1),
            Err(WireError::UnsupportedVersion(1))
        ));
        // Later encodings are the version-1 fields followed by the membership.
        let current = encode_handshake(&Handshake::new("prod", NodeId(2), three()));
        let mut v1_as_current = v1.clone();
        v1_as_current[4] = WIRE_VERSION as u8;
        assert_eq!(&current[..v1.len()], &v1_as_current[..]);
        // A version-2 peer (before the one-round-trip messages) is told so, too, and a
        // version-3 one (before the addresses and the reply).
        for old in [2, 3] {
            let mut earlier = current.to_vec();
            earlier[4] = old;
            assert!(matches!(
                decode_handshake(&earlier),
                Err(WireError::UnsupportedVersion(v)) if v == u16::from(old)
            ));
        }
    }

    #[test]
    fn addresses_and_replies_travel() {
        let addresses = Addresses(
            (1..=3)
                .map(|i| (NodeId(i), format!("127.0.0.1:700{i}")))
                .collect(),
        );
        let hello = Handshake::new("prod", NodeId(2), three()).with_addresses(addresses);
        assert_eq!(decode_handshake(&encode_handshake(&hello)).unwrap(), hello);
        for reply in [
            HandshakeReply::Accepted,
            HandshakeReply::Refused("node 1 runs with …".into()),
        ] {
            assert_eq!(decode_reply(&encode_reply(&reply)).unwrap(), reply);
        }
        assert!(decode_reply(&[7]).is_err());
    }

    #[tokio::test]
    async fn the_codec_refuses_frames_over_the_limit() {
        let (a, b) = tokio::io::duplex(1 << 16);
        let mut writer = FramedWrite::new(a, codec(1 << 20));
        let mut reader = FramedRead::new(b, codec(64));
        writer.send(Bytes::from(vec![7u8; 32])).await.unwrap();
        writer.send(Bytes::from(vec![7u8; 100])).await.unwrap();
        assert_eq!(reader.next().await.unwrap().unwrap().len(), 32);
        assert!(reader.next().await.unwrap().is_err(), "oversized frame");
    }
}
