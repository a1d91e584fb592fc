//! The acceptor log (`synod.log`): every batch of acceptor-state changes is appended here as one
//! checksummed record and made durable with one `fdatasync`, before it reaches the indexed
//! store.
//!
//! A record is a 24-byte header and a postcard-encoded [`WriteBatch`]:
//!
//! ```text
//! epoch: u64 LE | seq: u64 LE | len: u32 LE | crc32: u32 LE | payload: len bytes
//! ```
//!
//! The CRC-32 covers the first 20 header bytes and the payload. `epoch` is the log generation
//! (recorded in the database, with the offset where the epoch starts, each time the log's
//! contents are applied to it or compacted; every record of the current generation carries
//! it), and `seq` counts records from 0 within the epoch. The file is preallocated with zeros
//! (so that an append overwrites allocated blocks and `fdatasync` has no file-size metadata to
//! write) and reused: an epoch begun by an apply starts at offset 0, one begun by a recovery's
//! compaction ([`Log::write_compacted`]) starts with one record holding the previous epoch's
//! states, at an offset that overlaps none of that epoch's blocks ([`compacted_at`]).
//!
//! [`scan`] reads the current epoch's records from its start and stops at the first one that is
//! not whole: a header of another epoch (a stale record of an earlier generation, or the
//! preallocated zeros), a sequence number out of order, a length running past the file, or a
//! checksum mismatch. With one `fdatasync` per append and never a write behind an unsynced one
//! that the caller relied on, only records that were never reported durable can be found torn,
//! and they are dropped whole — a record is applied entirely or not at all. A record whose
//! checksum holds but whose payload does not decode was damaged in a way a torn write cannot
//! produce; that is reported as corruption, not dropped.

use super::error::StorageError;
use super::log_file::LogFile;
use super::WriteBatch;
use std::path::Path;

/// The log's file name inside the data directory.
pub const LOG_FILE: &str = "synod.log";
/// A record's header bytes.
pub(super) const HEADER: usize = 24;
/// A record at least this long is dropped from the page cache once durable.
const LARGE_RECORD: usize = 64 << 10;
/// Largest payload read back (a larger length is a torn or foreign header, not a record).
const MAX_PAYLOAD: u64 = 1 << 31;
/// A compacted record starts on a boundary of this many bytes (a page, a multiple of a disk's
/// sector), so that writing it never rewrites a block that holds a record still needed.
pub const BLOCK: u64 = 4096;

/// The write position in the current epoch of the log.
#[derive(Debug)]
pub struct Log {
    file: Box<dyn LogFile>,
    epoch: u64,
    /// Where the epoch's first record is.
    start: u64,
    seq: u64,
    end: u64,
}

/// What [`scan`] found.
#[derive(Debug)]
pub struct Tail {
    /// The whole records of the epoch, in order.
    pub batches: Vec<WriteBatch>,
    /// Bytes they take.
    pub bytes: u64,
    /// The offset just past the last of them.
    pub end: u64,
}

impl Log {
    /// A log on `file` whose epoch `epoch` starts at offset `start` (whatever the file holds
    /// elsewhere is of earlier epochs); [`Log::scan`] finds what it holds, and appends go after
    /// it once [`Log::resume`] says where that ends.
    pub fn new(file: Box<dyn LogFile>, epoch: u64, start: u64) -> Self {
        Log {
            file,
            epoch,
            start,
            seq: 0,
            end: start,
        }
    }

    /// Bytes appended in the current epoch.
    pub fn appended(&self) -> u64 {
        self.end - self.start
    }

    /// Where the current epoch starts.
    pub fn start(&self) -> u64 {
        self.start
    }

    /// The current epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Starts epoch `epoch` (the database now records it: the previous epoch's records are
    /// applied) at offset 0.
    pub fn restart_at(&mut self, epoch: u64) -> std::io::Result<()> {
        debug_assert!(epoch > self.epoch, "log invariant: epochs only grow");
        self.epoch = epoch;
        self.start = 0;
        self.seq = 0;
        self.end = 0;
        // Whatever the last epoch cached (a large record, a recovery's reads) is stale now.
        self.file.drop_cache()
    }

    /// Appends `batch` as one record; with `sync`, it is durable when this returns. Returns the
    /// record's size in bytes.
    pub fn append(&mut self, batch: &WriteBatch, sync: bool) -> std::io::Result<u64> {
        let record = encode(self.epoch, self.seq, batch);
        self.file.write(self.end, &record)?;
        if sync {
            self.file.sync_data()?;
            if record.len() >= LARGE_RECORD {
                // A large write may have been cached in large folios (`LogFile::drop_cache`);
                // the record is durable, so its pages are clean and can go.
                self.file.drop_cache()?;
            }
        }
        self.seq += 1;
        self.end += record.len() as u64;
        Ok(record.len() as u64)
    }

    /// Writes `batch` as the first record (seq 0) of epoch `epoch`, at [`compacted_at`] the
    /// current epoch's start and `tail_end` (where its whole records end), and makes it
    /// durable. Returns where the record starts and its size. The log itself stays in the
    /// current epoch: the caller records the new epoch and this start in the database, then
    /// calls [`Log::resume`]. Until then a restart still reads the current epoch, whose
    /// records this write does not touch.
    pub fn write_compacted(
        &self,
        epoch: u64,
        tail_end: u64,
        batch: &WriteBatch,
    ) -> std::io::Result<(u64, u64)> {
        debug_assert!(epoch > self.epoch, "log invariant: epochs only grow");
        let record = encode(epoch, 0, batch);
        let at = compacted_at(self.start, tail_end, record.len() as u64);
        self.file.write(at, &record)?;
        self.file.sync_data()?;
        // Large, durable, and cached in large folios: see `LogFile::drop_cache`.
        self.file.drop_cache()?;
        Ok((at, record.len() as u64))
    }

    /// Continues in epoch `epoch`, whose first record (`len` bytes at `start`) is written and
    /// recorded ([`Log::write_compacted`]): appends go after it.
    pub fn resume(&mut self, epoch: u64, start: u64, len: u64) {
        debug_assert!(epoch > self.epoch, "log invariant: epochs only grow");
        self.epoch = epoch;
        self.start = start;
        self.seq = 1;
        self.end = start + len;
    }

    /// Writes `len` zero bytes from offset 0 (over whatever the file held) and syncs them: the
    /// space later appends overwrite in place.
    pub fn preallocate(&self, len: u64) -> std::io::Result<()> {
        let chunk = vec![0u8; 1 << 20];
        let mut at = 0;
        while at < len {
            let n = (len - at).min(chunk.len() as u64);
            self.file.write(at, &chunk[..n as usize])?;
            at += n;
        }
        self.file.sync_data()?;
        self.file.drop_cache()
    }

    /// Reads the whole records of the current epoch (see the module docs).
    pub fn scan(&self, path: &Path) -> Result<Tail, StorageError> {
        scan(self.file.as_ref(), self.epoch, self.start, path)
    }
}

/// Where a compacted record of `len` bytes goes when the current epoch's records lie in
/// `start..end`: at offset 0 if it ends at or before `start` (which is 0 or a [`BLOCK`]
/// boundary, so the two share no block), else at the first [`BLOCK`] boundary at or past
/// `end`. Either way it overlaps no block of the current epoch, and the log alternates between
/// two regions instead of growing with every restart.
pub fn compacted_at(start: u64, end: u64, len: u64) -> u64 {
    if len <= start {
        0
    } else {
        end.div_ceil(BLOCK) * BLOCK
    }
}

/// One record's bytes.
pub(super) fn encode(epoch: u64, seq: u64, batch: &WriteBatch) -> Vec<u8> {
    let mut record = vec![0u8; HEADER];
    postcard::to_io(batch, &mut record).expect("a batch serializes");
    let len = u32::try_from(record.len() - HEADER).expect("a batch is under 4 GiB");
    record[0..8].copy_from_slice(&epoch.to_le_bytes());
    record[8..16].copy_from_slice(&seq.to_le_bytes());
    record[16..20].copy_from_slice(&len.to_le_bytes());
    let crc = checksum(&record[0..20], &record[HEADER..]);
    record[20..24].copy_from_slice(&crc.to_le_bytes());
    record
}

fn checksum(header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(header);
    hasher.update(payload);
    hasher.finalize()
}

/// Reads the whole records of `epoch` in `file` from offset `start`.
fn scan(file: &dyn LogFile, epoch: u64, start: u64, path: &Path) -> Result<Tail, StorageError> {
    let io = |source| StorageError::Io {
        path: path.to_owned(),
        source,
    };
    let file_len = file.file_len().map_err(io)?;
    let mut tail = Tail {
        batches: Vec::new(),
        bytes: 0,
        end: start,
    };
    let mut at = start;
    let mut header = [0u8; HEADER];
    loop {
        if at + HEADER as u64 > file_len {
            break;
        }
        file.read(at, &mut header).map_err(io)?;
        let word = |range: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[..range.len()].copy_from_slice(&header[range]);
            u64::from_le_bytes(b)
        };
        let (rec_epoch, seq, len, crc) = (word(0..8), word(8..16), word(16..20), word(20..24));
        let end = at + HEADER as u64 + len;
        if rec_epoch != epoch
            || seq != tail.batches.len() as u64
            || len > MAX_PAYLOAD
            || end > file_len
        {
            break;
        }
        let mut payload = vec![0u8; len as usize];
        file.read(at + HEADER as u64, &mut payload).map_err(io)?;
        if checksum(&header[0..20], &payload) as u64 != crc {
            break;
        }
        let batch = postcard::from_bytes(&payload).map_err(|e| StorageError::Corrupt {
            path: path.to_owned(),
            detail: format!(
                "log record {seq} of epoch {epoch} at offset {at} has a valid checksum but does not decode: {e}"
            ),
        })?;
        tail.batches.push(batch);
        at = end;
    }
    tail.bytes = at - start;
    tail.end = at;
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::super::log_file::MemoryLog;
    use super::*;
    use bytes::Bytes;
    use synod_core::{AcceptorState, Ballot, NodeId, Proposal};

    fn batch(round: u64) -> WriteBatch {
        let ballot = Ballot::new(round, NodeId(1));
        WriteBatch {
            acceptors: vec![(
                Bytes::from_static(b"k"),
                AcceptorState {
                    promised: ballot,
                    accepted: Some(Proposal {
                        ballot,
                        value: Some(Bytes::from(vec![7u8; 50])),
                    }),
                },
            )],
            committed: vec![],
        }
    }

    /// A log on a shared in-memory file, and a way to read and rewrite its bytes.
    #[derive(Debug, Clone, Default)]
    struct Shared(std::sync::Arc<MemoryLog>);
    impl LogFile for Shared {
        fn file_len(&self) -> std::io::Result<u64> {
            self.0.file_len()
        }
        fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
            self.0.read(offset, out)
        }
        fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
            self.0.write(offset, data)
        }
        fn sync_data(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn records_of_the_epoch_come_back_in_order_and_a_torn_tail_is_dropped_whole() {
        let file = Shared::default();
        let mut log = Log::new(Box::new(file.clone()), 5, 0);
        log.preallocate(4096).unwrap();
        let sizes: Vec<u64> = (1..=3)
            .map(|r| log.append(&batch(r), true).unwrap())
            .collect();
        let tail = log.scan(Path::new("log")).unwrap();
        assert_eq!(tail.batches, vec![batch(1), batch(2), batch(3)]);
        assert_eq!(tail.bytes, sizes.iter().sum::<u64>());

        // Tear the last record: every prefix of it, and a flipped byte, drops it whole.
        let last = sizes[0] + sizes[1];
        for cut in [1, HEADER as u64, sizes[2] - 1] {
            let torn = Shared::default();
            let mut bytes = vec![0u8; 4096];
            file.read(0, &mut bytes).unwrap();
            // What the torn part holds instead: anything but the record's bytes.
            for b in &mut bytes[(last + cut) as usize..(last + sizes[2]) as usize] {
                *b ^= 0x5a;
            }
            torn.write(0, &bytes).unwrap();
            let tail = scan(&torn, 5, 0, Path::new("log")).unwrap();
            assert_eq!(tail.batches, vec![batch(1), batch(2)], "cut at {cut}");
            assert_eq!(tail.bytes, last);
        }
        let mut byte = [0u8];
        file.read(last + HEADER as u64 + 3, &mut byte).unwrap();
        file.write(last + HEADER as u64 + 3, &[byte[0] ^ 0x40])
            .unwrap();
        assert_eq!(
            scan(&file, 5, 0, Path::new("log")).unwrap().batches.len(),
            2
        );

        // Another epoch's records are stale: none of them is read.
        assert!(scan(&file, 6, 0, Path::new("log"))
            .unwrap()
            .batches
            .is_empty());
        let mut next = Log::new(Box::new(file.clone()), 6, 0);
        next.append(&batch(9), true).unwrap();
        assert_eq!(next.scan(Path::new("log")).unwrap().batches, vec![batch(9)]);
    }

    #[test]
    fn a_record_whose_checksum_holds_but_does_not_decode_is_corruption() {
        let file = Shared::default();
        let payload = [0xffu8; 4];
        let mut record = vec![0u8; HEADER];
        record[16..20].copy_from_slice(&4u32.to_le_bytes());
        record.extend_from_slice(&payload);
        let crc = checksum(&record[0..20], &payload);
        record[20..24].copy_from_slice(&crc.to_le_bytes());
        file.write(0, &record).unwrap();
        let err = scan(&file, 0, 0, Path::new("synod.log")).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("does not decode"), "{err}");
    }
}
