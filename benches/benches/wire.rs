//! The peer wire codec: encode / decode of one envelope per message type, a 64-envelope batch,
//! and core decisions with every message through the codec.
//!
//! Envelopes carry a 16-byte key and, where the message has one, a 100-byte value (a Promise
//! reporting an earlier accepted value; an Accept; a Commit). Encoding is the transport's path:
//! `encode_envelope` into a `BatchBuilder`, then `finish`; decoding is `decode_batch`.
//! The decision benchmarks run the same rounds as `core.rs` with `Bytes` values (8-byte
//! values), once with the identity link and once through `WireLink` (one envelope per frame).

// `criterion_group!` generates undocumented functions.
#![allow(missing_docs)]

use bytes::Bytes;
use criterion::{
    black_box, criterion_group, criterion_main, Bencher, BenchmarkId, Criterion, Throughput,
};
use synod_benches::{Link, MemoryCluster, WireLink};
use synod_core::{Ballot, Message, NodeId, Operation, Proposal, RequestId};
use synod_server::wire::{self, BatchBuilder, Envelope};

fn samples() -> Vec<Envelope> {
    let ballot = Ballot::new(41, NodeId(2));
    let value = Some(Bytes::from(vec![0x61u8; 100]));
    let key = Bytes::from(vec![0x6bu8; 16]);
    let messages = vec![
        Message::Prepare { ballot },
        Message::Promise {
            ballot,
            accepted: Some(Proposal {
                ballot: Ballot::new(40, NodeId(1)),
                value: value.clone(),
            }),
        },
        Message::Accept {
            ballot,
            value: value.clone(),
            next: None,
        },
        Message::Accepted { ballot },
        Message::Reject {
            ballot,
            promised: Ballot::new(42, NodeId(3)),
        },
        Message::Commit { ballot, value },
    ];
    messages
        .into_iter()
        .map(|msg| Envelope {
            from: NodeId(2),
            key: key.clone(),
            msg,
        })
        .collect()
}

fn codec(c: &mut Criterion) {
    let mut encode = c.benchmark_group("wire_encode");
    encode.throughput(Throughput::Elements(1));
    let mut batch = BatchBuilder::new();
    for envelope in samples() {
        encode.bench_function(envelope.msg.kind(), |b| {
            b.iter(|| {
                batch.push(&wire::encode_envelope(black_box(&envelope)));
                batch.finish()
            })
        });
    }
    encode.finish();

    let mut decode = c.benchmark_group("wire_decode");
    decode.throughput(Throughput::Elements(1));
    for envelope in samples() {
        let frame = wire::encode_batch(std::slice::from_ref(&envelope));
        decode.bench_function(envelope.msg.kind(), |b| {
            b.iter(|| wire::decode_batch(black_box(&frame)).expect("decodes"))
        });
    }
    decode.finish();

    // A frame of 64 envelopes (the six kinds in turn), as a busy link would batch them.
    let all: Vec<Envelope> = samples().into_iter().cycle().take(64).collect();
    let frame = wire::encode_batch(&all);
    let mut batched = c.benchmark_group("wire_batch_64");
    batched.throughput(Throughput::Elements(64));
    batched.bench_function("encode", |b| b.iter(|| wire::encode_batch(black_box(&all))));
    batched.bench_function("decode", |b| {
        b.iter(|| wire::decode_batch(black_box(&frame)).expect("decodes"))
    });
    batched.finish();
}

/// Decisions on one register with `Bytes` values over `cluster`'s link.
fn decide_repeatedly<L: Link<Bytes>>(b: &mut Bencher, cluster: &mut MemoryCluster<Bytes, L>) {
    let key = cluster.add_register();
    let mut i = 0u64;
    b.iter(|| {
        let value = Bytes::copy_from_slice(&i.to_be_bytes());
        cluster.decide(key, NodeId(1), RequestId(i), Operation::Put(value));
        i += 1;
    });
    assert_eq!(cluster.counters().replies, i);
}

fn decisions_through_codec(c: &mut Criterion) {
    let mut group = c.benchmark_group("core_decision_bytes");
    group.throughput(Throughput::Elements(1));
    for nodes in [3u8, 5] {
        group.bench_function(BenchmarkId::new("direct", format!("{nodes}_nodes")), |b| {
            decide_repeatedly(b, &mut MemoryCluster::new(nodes).expect("valid cluster"))
        });
        group.bench_function(BenchmarkId::new("wire", format!("{nodes}_nodes")), |b| {
            let mut cluster =
                MemoryCluster::with_link(nodes, WireLink::new()).expect("valid cluster");
            decide_repeatedly(b, &mut cluster);
            assert_eq!(cluster.link().errors, 0);
        });
    }
    group.finish();
}

criterion_group!(benches, codec, decisions_through_codec);
criterion_main!(benches);
