//! The simulation's disk: a node's two files — the redb database and the acceptor log — in
//! memory, shared between the replica that writes them and the simulation that crashes it, with
//! a page cache that a power loss can lose.
//!
//! Each [`SimFile`] keeps what is **durable** apart from what was written since the last
//! `sync_data` (the page cache: every write and resize, in order). Reads see both, as a
//! process reads its own writes. `sync_data` makes everything written so far durable.
//!
//! * A **process crash** ([`SimDisk`] untouched) drops the replica; the page cache survives, as
//!   it does after `kill -9`, and a restart reads it.
//! * A **power loss** ([`SimDisk::power_loss`]) keeps only what is durable plus, for each unsynced
//!   write in turn, a random fate: dropped, kept, or torn — each 512-byte sector of it kept or
//!   lost on its own, and the last sector it keeps possibly cut short at any byte (the log's
//!   records are checked against exactly that). An unsynced resize is kept or dropped.
//!
//! * A **power cut during a commit** ([`SimDisk::cut_power_at_sync`]): a chosen sync fails
//!   before anything it covers is durable, so the log record or the database pages being
//!   written are exactly what the following power loss drops or tears.
//!
//! [`SimDisk::snapshot`] and [`SimDisk::restore`] let the harness break the fsync on purpose
//! (the `SendBeforeFsync` bug), and [`SimDisk::skip_log_sync`] makes the log's `sync_data`
//! a no-op (the `SkipLogFsync` bug: a node that trusts the page cache), which only a power loss
//! can expose.

use rand::Rng;
use std::sync::{Arc, Mutex, MutexGuard};
use synod_server::storage_files::{read_at, write_at};
use synod_server::{Backends, LogFile, StorageOptions};

/// Bytes a power loss keeps or loses together (a disk's atomic write unit).
pub const SECTOR: usize = 512;

/// One file with a page cache.
#[derive(Clone, Debug, Default)]
pub struct SimFile {
    state: Arc<Mutex<FileState>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FileState {
    /// What a reader sees: the durable bytes with every unsynced change applied.
    current: Vec<u8>,
    /// What survives a power loss for sure.
    durable: Vec<u8>,
    /// Changes since the last sync, in order.
    unsynced: Vec<Change>,
    /// `sync_data` does nothing (an injected bug).
    skip_sync: bool,
    /// A sync of this file met an armed power cut.
    power_cut: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Change {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

fn apply(bytes: &mut Vec<u8>, change: &Change) {
    match change {
        Change::Write { offset, data } => {
            write_at(bytes, *offset, data).expect("offsets were checked when written")
        }
        Change::SetLen(len) => bytes.resize(*len as usize, 0),
    }
}

/// What one power loss did to the unsynced writes of a disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerLoss {
    /// Unsynced writes (and resizes) lost whole.
    pub dropped: u64,
    /// Unsynced writes kept whole.
    pub kept: u64,
    /// Unsynced writes torn (some sectors kept, some not).
    pub torn: u64,
}

impl SimFile {
    fn lock(&self) -> MutexGuard<'_, FileState> {
        // A poisoned lock only means a panicking test thread; the bytes are still the bytes.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn len(&self) -> u64 {
        self.lock().current.len() as u64
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        read_at(&self.lock().current, offset, out)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        let mut s = self.lock();
        write_at(&mut s.current, offset, data)?;
        s.unsynced.push(Change::Write {
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }

    fn set_len(&self, len: u64) -> std::io::Result<()> {
        let len_usize = usize::try_from(len).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "length out of range")
        })?;
        let mut s = self.lock();
        s.current.resize(len_usize, 0);
        s.unsynced.push(Change::SetLen(len));
        Ok(())
    }

    fn sync(&self) {
        let mut s = self.lock();
        if s.skip_sync {
            return;
        }
        let changes = std::mem::take(&mut s.unsynced);
        for change in &changes {
            apply(&mut s.durable, change);
        }
        debug_assert!(
            s.durable == s.current,
            "sim disk: a sync makes the view durable"
        );
    }

    /// A sync, unless the armed power cut (`cut`) falls on it or came before it.
    fn sync_unless_cut(&self, cut: &Mutex<Option<u32>>) -> std::io::Result<()> {
        let mut cut = cut.lock().unwrap_or_else(|e| e.into_inner());
        match *cut {
            Some(0) => {
                self.lock().power_cut = true;
                Err(std::io::Error::other("simulated power cut during fsync"))
            }
            Some(n) => {
                *cut = Some(n - 1);
                self.sync();
                Ok(())
            }
            None => {
                self.sync();
                Ok(())
            }
        }
    }

    /// Loses power: the durable bytes plus a random fate for each unsynced change.
    fn power_loss(&self, rng: &mut impl Rng, loss: &mut PowerLoss) {
        let mut s = self.lock();
        let changes = std::mem::take(&mut s.unsynced);
        let mut after = s.durable.clone();
        for change in changes {
            match (rng.gen_range(0..3), &change) {
                (0, _) => loss.dropped += 1,
                (1, _) | (_, Change::SetLen(_)) => {
                    loss.kept += 1;
                    apply(&mut after, &change);
                }
                (_, Change::Write { offset, data }) => {
                    loss.torn += 1;
                    let mut kept = Vec::new();
                    for (i, sector) in data.chunks(SECTOR).enumerate() {
                        if rng.gen_bool(0.5) {
                            // The last sector that reached the platter may be cut short.
                            let cut = if rng.gen_bool(0.25) {
                                rng.gen_range(0..sector.len())
                            } else {
                                sector.len()
                            };
                            kept.push((*offset + (i * SECTOR) as u64, &sector[..cut]));
                        }
                    }
                    for (at, bytes) in kept {
                        write_at(&mut after, at, bytes).expect("offsets were checked");
                    }
                }
            }
        }
        s.durable = after.clone();
        s.current = after;
        s.power_cut = false;
    }
}

/// A node's disk: its database file and its log file.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    db: SimFile,
    log: SimFile,
    /// Syncs (of either file) left before the power goes out in the middle of one.
    cut: Arc<Mutex<Option<u32>>>,
}

/// A copy of a disk's files at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot(FileState, FileState);

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    /// Both files as they stand (unsynced writes included).
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.db.lock().clone(), self.log.lock().clone())
    }

    /// Puts the files of `snapshot` back (writes that never reached the platter).
    pub fn restore(&self, snapshot: &Snapshot) {
        *self.db.lock() = snapshot.0.clone();
        *self.log.lock() = snapshot.1.clone();
    }

    /// A power loss: each file keeps its durable bytes, and each unsynced write is dropped,
    /// kept or torn at random.
    pub fn power_loss(&self, rng: &mut impl Rng) -> PowerLoss {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let mut loss = PowerLoss::default();
        self.db.power_loss(rng, &mut loss);
        self.log.power_loss(rng, &mut loss);
        loss
    }

    /// Arms a power cut: the `n`-th next sync of either file (0 = the very next) fails without
    /// making anything durable, and so does every sync after it, until [`SimDisk::power_loss`].
    /// The storage write that was under way reports an I/O error, as a dying disk would.
    pub fn cut_power_at_sync(&self, n: u32) {
        *self.cut.lock().unwrap_or_else(|e| e.into_inner()) = Some(n);
    }

    /// Disarms [`SimDisk::cut_power_at_sync`]; returns whether the cut happened.
    pub fn disarm(&self) -> bool {
        let mut cut = self.cut.lock().unwrap_or_else(|e| e.into_inner());
        let happened = self.cut_happened();
        *cut = None;
        happened
    }

    fn cut_happened(&self) -> bool {
        self.db.lock().power_cut || self.log.lock().power_cut
    }

    /// The injected bug of a node that never fsyncs its log: its `sync_data` returns at once.
    pub fn skip_log_sync(&self, on: bool) {
        self.log.lock().skip_sync = on;
    }

    /// The two files for `Storage::open_with_backend`, with `options` (the simulation uses a
    /// small log, so that runs apply it to the database and start it over often).
    pub fn backends(&self, options: StorageOptions) -> Backends<SimBackend> {
        Backends {
            db: SimBackend(self.db.clone(), self.cut.clone()),
            log: Box::new(SimLog(self.log.clone(), self.cut.clone())),
            options,
        }
    }
}

impl PartialEq<Snapshot> for SimDisk {
    fn eq(&self, other: &Snapshot) -> bool {
        *self.db.lock() == other.0 && *self.log.lock() == other.1
    }
}

/// The database file as a `redb::StorageBackend`.
#[derive(Debug)]
pub struct SimBackend(SimFile, Arc<Mutex<Option<u32>>>);

impl redb::StorageBackend for SimBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.0.read(offset, out)
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.0.sync_unless_cut(&self.1)
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }
}

/// The log file as the storage's [`LogFile`].
#[derive(Debug)]
pub struct SimLog(SimFile, Arc<Mutex<Option<u32>>>);

impl LogFile for SimLog {
    fn file_len(&self) -> std::io::Result<u64> {
        Ok(self.0.len())
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> std::io::Result<()> {
        self.0.read(offset, out)
    }

    fn write(&self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.0.write(offset, data)
    }

    fn sync_data(&self) -> std::io::Result<()> {
        self.0.sync_unless_cut(&self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn a_power_loss_keeps_what_was_synced_and_only_pieces_of_the_rest() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut saw = PowerLoss::default();
        for _ in 0..200 {
            let file = SimFile::default();
            file.write(0, &[1u8; 2048]).unwrap();
            file.sync();
            file.write(1024, &[2u8; 2048]).unwrap();
            let mut seen = vec![0u8; 3072];
            file.read(0, &mut seen).unwrap();
            assert_eq!(&seen[1024..], &[2u8; 2048][..], "reads see the page cache");
            file.power_loss(&mut rng, &mut saw);
            let after = file.lock().current.clone();
            assert_eq!(&after[..1024], &[1u8; 1024][..], "synced bytes survive");
            for (i, &b) in after.iter().enumerate().skip(1024) {
                assert!(b == 2 || b == u8::from(i < 2048), "byte {i} is {b}");
            }
        }
        assert!(saw.dropped > 0 && saw.kept > 0 && saw.torn > 0, "{saw:?}");
    }

    #[test]
    fn skipping_the_sync_leaves_writes_to_chance() {
        let disk = SimDisk::new();
        disk.skip_log_sync(true);
        disk.log.write(0, b"record").unwrap();
        disk.log.sync();
        assert_eq!(disk.log.lock().durable, b"", "nothing became durable");
        disk.skip_log_sync(false);
        disk.log.sync();
        assert_eq!(disk.log.lock().durable, b"record");
    }
}
