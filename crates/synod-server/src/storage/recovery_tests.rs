//! Recovery with a log tail: the tail is compacted into the first record of a new epoch instead
//! of being applied, and a crash at each point of that — before the record is written, with it
//! torn, with it whole but the new epoch not yet recorded, after the switch — neither loses a
//! state nor repeats one.

use super::log::{compacted_at, encode, Log, BLOCK, HEADER, LOG_FILE};
use super::*;
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use synod_core::{Ballot, NodeSet};

type States = BTreeMap<Bytes, AcceptorState<Bytes>>;
type Chosen = BTreeMap<Bytes, Proposal<Bytes>>;

fn m3() -> Membership {
    Membership::majority([1, 2, 3].into_iter().map(NodeId).collect::<NodeSet>())
}

fn key(i: u64) -> Bytes {
    Bytes::from(format!("key-{i:02}"))
}

fn state(round: u64) -> AcceptorState<Bytes> {
    let ballot = Ballot::new(round, NodeId(1));
    AcceptorState {
        promised: ballot,
        accepted: Some(Proposal {
            ballot,
            value: Some(Bytes::from(format!("value of round {round}"))),
        }),
    }
}

fn open(dir: &Path) -> Storage {
    Storage::open(dir, "c", NodeId(1), m3(), false).unwrap()
}

/// Creates `dir` and logs 40 batches over 12 keys (every key changed several times, rounds
/// rising; a chosen value every 7th), then stops without an apply: the log's epoch 0 holds
/// them all. Returns each key's latest state and chosen value.
fn fill(dir: &Path) -> (States, Chosen) {
    let mut s = Storage::open(dir, "c", NodeId(1), m3(), true).unwrap();
    let (mut states, mut chosen) = (States::new(), Chosen::new());
    for round in 1..=40u64 {
        let acceptors: Vec<_> = (0..3)
            .map(|i| (key((round * 5 + i) % 12), state(round)))
            .collect();
        let committed: Vec<_> = (round % 7 == 0)
            .then(|| (key(round % 12), state(round).accepted.unwrap()))
            .into_iter()
            .collect();
        states.extend(acceptors.iter().cloned());
        chosen.extend(committed.iter().cloned());
        s.commit(&WriteBatch {
            acceptors,
            committed,
        })
        .unwrap();
    }
    assert_eq!(s.log_position(), (0, 0));
    (states, chosen)
}

/// The whole records of `epoch`, read from `dir`'s log from `start`.
fn records(dir: &Path, epoch: u64, start: u64) -> (Vec<WriteBatch>, u64) {
    let file = std::fs::File::open(dir.join(LOG_FILE)).unwrap();
    let tail = Log::new(Box::new(file), epoch, start)
        .scan(Path::new("log"))
        .unwrap();
    (tail.batches, tail.end)
}

/// `s` reads exactly `states` and `chosen`, every state once in the pending table.
fn check(s: &Storage, states: &States, chosen: &Chosen) {
    for (k, expected) in states {
        assert_eq!(s.acceptor(k).unwrap().as_ref(), Some(expected), "{k:?}");
    }
    for (k, expected) in chosen {
        assert_eq!(s.committed(k).unwrap().as_ref(), Some(expected), "{k:?}");
    }
    assert_eq!(s.pending_states(), states.len());
}

/// The one record a compaction of `states` and `chosen` writes: each key once, in key order.
fn compacted(states: &States, chosen: &Chosen) -> WriteBatch {
    WriteBatch {
        acceptors: states.clone().into_iter().collect(),
        committed: chosen.clone().into_iter().collect(),
    }
}

#[test]
fn a_tail_is_compacted_into_one_record_of_a_new_epoch_not_applied() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n1");
    let (states, chosen) = fill(&dir);
    let (old, tail_end) = records(&dir, 0, 0);
    assert_eq!(old.len(), 40);

    let s = open(&dir);
    check(&s, &states, &chosen);
    let start = tail_end.div_ceil(BLOCK) * BLOCK;
    assert_eq!(
        s.log_position(),
        (1, start),
        "past the old epoch's last block"
    );
    assert_eq!(records(&dir, 1, start).0, vec![compacted(&states, &chosen)]);
    for k in states.keys() {
        let stored: Option<AcceptorState<Bytes>> = s.read(ACCEPTORS, "acceptors", k).unwrap();
        assert_eq!(stored, None, "recovery applied nothing to the database");
    }
    drop(s);

    // The next restart compacts the compacted record again; it fits before it: offset 0.
    let mut s = open(&dir);
    check(&s, &states, &chosen);
    assert_eq!(s.log_position(), (2, 0));
    assert_eq!(records(&dir, 2, 0).0, vec![compacted(&states, &chosen)]);
    // The normal apply writes them to the database, once.
    assert_eq!(s.apply().unwrap(), states.len());
    assert_eq!(s.pending_states(), 0);
    for (k, expected) in &states {
        assert_eq!(s.acceptor(k).unwrap().as_ref(), Some(expected));
    }
    drop(s);
    let s = open(&dir);
    assert_eq!(s.pending_states(), 0);
    assert_eq!(
        s.log_position(),
        (4, 0),
        "an empty tail: the next epoch at 0"
    );
    for (k, expected) in &states {
        assert_eq!(s.acceptor(k).unwrap().as_ref(), Some(expected));
    }
}

#[test]
fn a_crash_before_the_epoch_switch_loses_and_repeats_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let record = encode(1, 0, &{
        let (states, chosen) = fill(&tmp.path().join("probe"));
        compacted(&states, &chosen)
    });
    let len = record.len();
    // What the crash left of the compacted record: nothing, a torn prefix, or all of it
    // (written and synced, the database still naming epoch 0).
    for cut in [0, 1, HEADER, len / 2, len - 1, len] {
        let dir = tmp.path().join(format!("cut-{cut}"));
        let (states, chosen) = fill(&dir);
        let (_, tail_end) = records(&dir, 0, 0);
        let at = compacted_at(0, tail_end, len as u64);
        let log = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.join(LOG_FILE))
            .unwrap();
        log.write_all_at(&record[..cut], at).unwrap();
        drop(log);

        let s = open(&dir);
        check(&s, &states, &chosen);
        assert_eq!(s.log_position(), (1, at), "cut at {cut}");
        assert_eq!(
            records(&dir, 1, at).0,
            vec![compacted(&states, &chosen)],
            "cut at {cut}: the record is written again, whole, once"
        );
        drop(s);
        let s = open(&dir);
        check(&s, &states, &chosen);
    }
}

#[test]
fn appends_after_a_compaction_survive_the_next_one_and_a_torn_one_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("n1");
    let (mut states, chosen) = fill(&dir);
    let mut s = open(&dir);
    let (_, start) = s.log_position();
    for round in 41..=50u64 {
        let batch = WriteBatch {
            acceptors: vec![
                (key(round % 12), state(round)),
                (key(100 + round), state(round)),
            ],
            committed: vec![],
        };
        s.commit(&batch).unwrap();
        if round < 50 {
            states.extend(batch.acceptors);
        }
    }
    assert_eq!(
        s.log_position(),
        (1, start),
        "the appends stay in its epoch"
    );
    drop(s);
    // The last append loses its last byte (a write cut short): dropped whole.
    let (written, tail_end) = records(&dir, 1, start);
    assert_eq!(written.len(), 11);
    let log = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join(LOG_FILE))
        .unwrap();
    let mut last = [0u8];
    log.read_exact_at(&mut last, tail_end - 1).unwrap();
    log.write_all_at(&[last[0] ^ 0xff], tail_end - 1).unwrap();
    drop(log);

    let s = open(&dir);
    check(&s, &states, &chosen);
    assert_eq!(s.acceptor(&key(150)).unwrap(), None, "the torn append");
    let (epoch, start) = s.log_position();
    assert_eq!(
        records(&dir, epoch, start).0,
        vec![compacted(&states, &chosen)]
    );
}
