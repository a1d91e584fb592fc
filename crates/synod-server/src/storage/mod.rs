//! Durable state of one node: an append-only acceptor log in front of a redb database, both in
//! the node's data directory.
//!
//! **Layout.** `synod.redb` holds three tables: `acceptors` (key → postcard
//! `AcceptorState<Bytes>`: what Paxos needs to survive a crash), `committed` (key → postcard
//! `Proposal<Bytes>`: the highest-ballot value this node learned was chosen, kept for
//! operators), and `meta` (the cluster id, node id and format version the directory belongs to,
//! the [`Membership`] — member ids and quorum sizes — it was created for, how many times the
//! node was started, and the log epoch with the offset where it starts). `synod.log` ([`log`])
//! holds the acceptor-state changes not yet applied to the database, as checksummed records of
//! the current epoch.
//!
//! **Write path.** [`Storage::commit`] appends a whole batch — many keys — to the log as **one**
//! record and makes it durable with **one** `fdatasync` (group commit); the batch's states also
//! go into an in-memory table of pending changes, which reads consult before the database. When
//! it returns, the batch is on disk; the caller releases the batch's messages only then. Once the
//! log holds [`StorageOptions::apply_log_bytes`], every pending change is applied to the
//! database in one transaction, which also records the next log epoch (one fsync for many
//! thousands of changes), and the log starts over at offset 0 in that epoch. The cost of a
//! commit is a small append: it does not depend on the size of the tree.
//!
//! **Recovery.** Opening reads the log's records of the epoch the database records, from the
//! offset it records, stopping at the first that is not whole (a torn tail is dropped whole; see
//! [`log`]), into the pending table. It does not apply them to the database — at ten million
//! keys that costs a B-tree leaf per state, tens of seconds — but **compacts** them
//! (`Storage::compact`): the latest state of each key goes into one record, the first of the
//! next epoch, written sequentially where it overlaps none of the current epoch's blocks
//! ([`log::compacted_at`]) and made durable with one `fdatasync`; then one small database
//! transaction records the next epoch and that record's offset. The states stay pending and
//! reach the database with the next apply, while the node serves. A tail with no states starts
//! the next epoch at offset 0 with an (empty) apply. So every start begins a fresh epoch: no
//! record written after a torn one can ever be read.
//!
//! **What a crash at each point leaves.** Before the append's `fdatasync` returns: the record
//! is whole, torn or absent, and nothing was sent that depends on it; a torn one fails its
//! checksum and is dropped with everything after it. After it returns: the record is durable
//! and is replayed. During an apply: the database transaction either committed (the states and
//! the new epoch together: the log's records are now stale and ignored) or not (the old epoch
//! and its log are still current and replayed again; replay is idempotent because a record
//! holds the latest states of its keys and records are replayed in order). During a
//! compaction: until the epoch switch commits, the database names the old epoch, whose records
//! the compacted record does not overlap, so the next start reads them again and writes the
//! same record (keys in order: the same bytes) at the same offset — whether this one was
//! absent, torn or whole; once it commits, the compacted record is durable (synced before the
//! switch) and is the new epoch's first record. The switch is one redb transaction: it commits
//! or not.
//!
//! Opening is strict, because an acceptor that forgets a promise can break agreement:
//! * without `init`, the database must already exist (a missing directory or a directory without
//!   a database is an error, never a silent re-initialisation), and so must its log;
//! * with `init`, the directory must be missing or empty, and a fresh database and log are
//!   created; the directory is fsynced afterwards (and so is every directory `init` created, in
//!   its parent), so that a power loss cannot make the new files vanish after the node started
//!   using them;
//! * an existing database is integrity-checked, and its meta record must name the same cluster
//!   id and node id, in a known format version, and the same membership (member ids, q1, q2):
//!   a node restarted with another `--peers` id set or other quorum sizes is refused, because
//!   quorums counted over different configurations need not intersect.
//!
//! Older format versions are upgraded on their first start by this build: version 1 (before the
//! membership was recorded) adopts the membership it is started with, with a warning in the log;
//! versions 1 and 2 (before the acceptor log) get an empty log; then the meta record is rewritten
//! as version 4, durably (a version-3 directory keeps its log and only gets the new number,
//! before its recovery can start an epoch past offset 0).

mod dirs;
mod error;
mod installed;
pub mod log;
pub mod log_file;
mod meta;
#[cfg(test)]
mod recovery_tests;

use crate::membership::Membership;
use bytes::Bytes;
use dirs::{nearest_existing_ancestor, sync_new_entries};
pub use error::StorageError;
use log::{Log, LOG_FILE};
pub use log_file::{LogFile, MemoryLog};
use meta::{judge, read_meta, write_meta, Judgement, ACCEPTORS, COMMITTED, INCARNATION_KEY, META};
pub use meta::{Meta, DB_FILE, STORAGE_FORMAT_VERSION};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use synod_core::{AcceptorState, NodeId, Proposal};

/// The `meta` table's log epoch (absent = 0): the log's records of this epoch are not yet
/// applied to the database.
const LOG_EPOCH_KEY: &str = "log_epoch";
/// The `meta` table's offset of the log epoch's first record (absent = 0).
const LOG_START_KEY: &str = "log_start";

/// What one batch makes durable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteBatch {
    /// The latest acceptor state of each key whose acceptor changed.
    pub acceptors: Vec<(Bytes, AcceptorState<Bytes>)>,
    /// Newly learned chosen values.
    pub committed: Vec<(Bytes, Proposal<Bytes>)>,
}

impl WriteBatch {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.acceptors.is_empty() && self.committed.is_empty()
    }
}

/// How the log and the database are sized.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StorageOptions {
    /// Apply the pending changes to the database once the log holds this many bytes (it bounds
    /// the memory of the pending table and the replay at a restart).
    pub apply_log_bytes: u64,
    /// Bytes of zeros the log file is created with (appends overwrite them in place).
    pub log_preallocate: u64,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            apply_log_bytes: 32 << 20,
            log_preallocate: 33 << 20,
        }
    }
}

/// What [`Storage::commit`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Committed {
    /// Whether the batch was made durable (it changed an acceptor state).
    pub durable: bool,
    /// Bytes appended to the log.
    pub log_bytes: u64,
    /// Pending changes applied to the database after the append (0 = no apply).
    pub applied: usize,
}

/// Acceptor states and chosen values logged but not yet applied to the database.
#[derive(Debug, Default)]
struct Pending {
    acceptors: HashMap<Bytes, AcceptorState<Bytes>>,
    committed: HashMap<Bytes, Proposal<Bytes>>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.acceptors.is_empty() && self.committed.is_empty()
    }

    /// Every pending change as one batch, keys in order (so the same pending table always
    /// encodes to the same bytes).
    fn compacted(&self) -> WriteBatch {
        WriteBatch {
            acceptors: in_key_order(&self.acceptors),
            committed: in_key_order(&self.committed),
        }
    }

    fn add(&mut self, batch: &WriteBatch) {
        for (key, state) in &batch.acceptors {
            self.acceptors.insert(key.clone(), state.clone());
        }
        for (key, proposal) in &batch.committed {
            match self.committed.get(key) {
                Some(old) if old.ballot >= proposal.ballot => {}
                _ => {
                    self.committed.insert(key.clone(), proposal.clone());
                }
            }
        }
    }
}

/// A copy of `map`'s entries, sorted by key.
fn in_key_order<V: Clone>(map: &HashMap<Bytes, V>) -> Vec<(Bytes, V)> {
    let mut entries: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    entries
}

/// The two files (or their stand-ins) a [`Storage`] runs on, for [`Storage::open_with_backend`].
#[derive(Debug)]
pub struct Backends<B> {
    /// The database's storage.
    pub db: B,
    /// The acceptor log's.
    pub log: Box<dyn LogFile>,
    /// Sizes.
    pub options: StorageOptions,
}

/// An open data directory.
#[derive(Debug)]
pub struct Storage {
    db: Database,
    log: Log,
    log_path: PathBuf,
    pending: Pending,
    options: StorageOptions,
    dir: PathBuf,
    meta: Meta,
}

impl Storage {
    /// Opens (or with `init`, creates) the data directory `dir` of node `node_id` of `cluster_id`
    /// running with `membership`; see the module docs for the rules.
    pub fn open(
        dir: &Path,
        cluster_id: &str,
        node_id: NodeId,
        membership: Membership,
        init: bool,
    ) -> Result<Self, StorageError> {
        let io = |source| StorageError::Io {
            path: dir.to_owned(),
            source,
        };
        let file = dir.join(DB_FILE);
        let log_path = dir.join(LOG_FILE);
        let options = StorageOptions::default();
        let wanted = Meta::current(cluster_id, node_id, membership);
        // What `dir` is, told apart from "cannot look" (a permission problem is not "missing").
        let exists = match std::fs::metadata(dir) {
            Ok(meta) if !meta.is_dir() => return Err(StorageError::NotADirectory(dir.to_owned())),
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io(e)),
        };
        if init {
            if exists && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
                return Err(StorageError::NotEmpty(dir.to_owned()));
            }
            let existing = nearest_existing_ancestor(dir);
            std::fs::create_dir_all(dir).map_err(io)?;
            let db = Database::create(&file).map_err(|e| corrupt(&file, e))?;
            let log = create_log_file(&log_path)?;
            let storage = Opening {
                db,
                log_file: log,
                dir: dir.to_owned(),
                log_path,
                wanted,
                options,
            }
            .initialise()?;
            sync_new_entries(dir, &existing)?;
            return Ok(storage);
        }
        if !exists {
            return Err(StorageError::MissingDir(dir.to_owned()));
        }
        match std::fs::metadata(&file) {
            Ok(meta) if meta.is_file() => {}
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(StorageError::Io {
                    path: file.clone(),
                    source: e,
                })
            }
            _ => return Err(StorageError::NotInitialised(dir.to_owned())),
        }
        // A read-write open writes to the file even if nothing is committed. So when the
        // database allows a read-only open (it was closed cleanly), its meta record is judged on
        // one first, and a refused start leaves the file byte-for-byte unchanged. (A database that
        // needs crash recovery is only judged after redb recovered it, which changes no content.)
        // Anything else the read-only open runs into is left to the read-write open to report.
        if let Ok(read_only) = Database::builder().open_read_only(&file) {
            if let Ok(record) = read_meta(&read_only, &file) {
                judge(&record, dir, &wanted)?;
            }
        }
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .open(&file)
            .map_err(|e| corrupt(&file, e))?;
        let record = read_meta(&db, &file)?;
        let log: Box<dyn LogFile> = match judge(&record, dir, &wanted)? {
            Judgement::Matches | Judgement::Renumber => match std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&log_path)
            {
                Ok(log) => Box::new(log),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Err(StorageError::Corrupt {
                        path: log_path,
                        detail: "the acceptor log is missing (states it held may be lost)".into(),
                    })
                }
                Err(source) => {
                    return Err(StorageError::Io {
                        path: log_path,
                        source,
                    })
                }
            },
            // Before version 3 there was no log: a file by that name is a leftover of an
            // upgrade that did not finish, and holds nothing the database relies on.
            Judgement::Adopt | Judgement::Upgrade => {
                let _ = std::fs::remove_file(&log_path);
                let log = create_log_file(&log_path)?;
                sync_new_entries(dir, dir)?;
                log
            }
        };
        Opening {
            db,
            log_file: log,
            dir: dir.to_owned(),
            log_path,
            wanted,
            options,
        }
        .verify()
    }

    /// Opens (or with `init`, creates) storage on any redb storage backend and log file — the
    /// deterministic simulation's power-loss disk, whose bytes survive a simulated crash. `label`
    /// names it in errors and in [`Storage::dir`]. The same meta checks and the same recovery
    /// as [`Storage::open`] apply; an uninitialised backend opened without `init` is reported as
    /// corrupt (no meta).
    pub fn open_with_backend(
        backends: Backends<impl redb::StorageBackend>,
        label: &Path,
        cluster_id: &str,
        node_id: NodeId,
        membership: Membership,
        init: bool,
    ) -> Result<Self, StorageError> {
        let wanted = Meta::current(cluster_id, node_id, membership);
        let db = Database::builder()
            .set_check_integrity_on_open(!init)
            .create_with_backend(backends.db)
            .map_err(|e| corrupt(label, e))?;
        let log_path = label.join(LOG_FILE);
        let opening = Opening {
            db,
            log_file: backends.log,
            dir: label.to_owned(),
            log_path,
            wanted,
            options: backends.options,
        };
        if init {
            opening.initialise()
        } else {
            opening.verify()
        }
    }

    /// Reads the log's whole records of the recorded epoch into the pending table and starts
    /// the next epoch with them compacted into its first record (see the module docs: even an
    /// empty tail moves to a new epoch, so that a record left behind a torn one can never be
    /// read as part of the log).
    fn recover(&mut self) -> Result<(), StorageError> {
        let tail = self.log.scan(&self.log_path)?;
        for batch in &tail.batches {
            self.pending.add(batch);
        }
        if self.pending.is_empty() {
            // The apply starts the next epoch at offset 0 (an empty transaction but the epoch).
            self.apply()?;
            return Ok(());
        }
        tracing::info!(
            records = tail.batches.len(),
            bytes = tail.bytes,
            states = self.pending.acceptors.len(),
            epoch = self.log.epoch(),
            "compacting the acceptor log's tail into the next epoch"
        );
        self.compact(tail.end)
    }

    /// Starts the next epoch with every pending change in its first record: the record is
    /// written and made durable ([`Log::write_compacted`], past `tail_end` or before the
    /// current epoch's start), then one database transaction records the new epoch and where
    /// it starts. The changes stay pending (the next [`Storage::apply`] writes them to the
    /// database). A crash anywhere in between leaves the current epoch intact and current.
    fn compact(&mut self, tail_end: u64) -> Result<(), StorageError> {
        let next = self.log.epoch() + 1;
        let (start, len) = self
            .log
            .write_compacted(next, tail_end, &self.pending.compacted())
            .map_err(|source| StorageError::Io {
                path: self.log_path.clone(),
                source,
            })?;
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut meta = txn.open_table(META).map_err(db_err)?;
            record_epoch(&mut meta, next, start)?;
        }
        txn.commit().map_err(db_err)?;
        self.log.resume(next, start, len);
        Ok(())
    }

    /// Applies every pending change to the database in one durable transaction that also
    /// records the next log epoch, and starts the log over in it. Returns how many acceptor
    /// states were applied. Called by [`Storage::commit`] when the log is full and at every
    /// open; a caller may also call it to bound the next restart's replay (a clean shutdown).
    pub fn apply(&mut self) -> Result<usize, StorageError> {
        let next = self.log.epoch() + 1;
        let txn = self.db.begin_write().map_err(db_err)?;
        let applied = self.pending.acceptors.len();
        {
            let mut acceptors = txn.open_table(ACCEPTORS).map_err(db_err)?;
            let mut states: Vec<_> = self.pending.acceptors.iter().collect();
            // In key order: neighbouring inserts touch the same leaves.
            states.sort_unstable_by(|a, b| a.0.cmp(b.0));
            for (key, state) in states {
                let bytes = postcard::to_allocvec(state).expect("acceptor state serializes");
                acceptors
                    .insert(key.as_ref(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            let mut committed = txn.open_table(COMMITTED).map_err(db_err)?;
            for (key, proposal) in &self.pending.committed {
                let newer = match committed.get(key.as_ref()).map_err(db_err)? {
                    Some(old) => postcard::from_bytes::<Proposal<Bytes>>(old.value())
                        .map_or(true, |old| old.ballot < proposal.ballot),
                    None => true,
                };
                if newer {
                    let bytes = postcard::to_allocvec(proposal).expect("proposal serializes");
                    committed
                        .insert(key.as_ref(), bytes.as_slice())
                        .map_err(db_err)?;
                }
            }
            let mut meta = txn.open_table(META).map_err(db_err)?;
            record_epoch(&mut meta, next, 0)?;
        }
        txn.commit().map_err(db_err)?;
        self.log
            .restart_at(next)
            .map_err(|source| StorageError::Io {
                path: self.log_path.clone(),
                source,
            })?;
        self.pending = Pending::default();
        Ok(applied)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whose data this is.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Acceptor states logged but not yet applied to the database.
    pub fn pending_states(&self) -> usize {
        self.pending.acceptors.len()
    }

    /// The log's current epoch and the offset where it starts (what the database records).
    pub fn log_position(&self) -> (u64, u64) {
        (self.log.epoch(), self.log.start())
    }

    /// Counts one more start of this node: the incarnation counter in the `meta` table (absent
    /// = 0) is incremented and made durable (one fsync) before the new value is returned, so no
    /// two processes on this directory ever get the same number (see `request_ids`).
    pub fn next_incarnation(&self) -> Result<u64, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let next = {
            let mut table = txn.open_table(META).map_err(db_err)?;
            let current = read_counter(&table, INCARNATION_KEY)?;
            // Saturating: a count this high is refused by whoever uses it, never wrapped to 0.
            let next = current.saturating_add(1);
            let bytes = postcard::to_allocvec(&next).expect("a number serializes");
            table
                .insert(INCARNATION_KEY, bytes.as_slice())
                .map_err(db_err)?;
            next
        };
        txn.commit().map_err(db_err)?;
        Ok(next)
    }

    /// The persisted acceptor state of `key`, if it was ever persisted.
    pub fn acceptor(&self, key: &[u8]) -> Result<Option<AcceptorState<Bytes>>, StorageError> {
        if let Some(state) = self.pending.acceptors.get(key) {
            return Ok(Some(state.clone()));
        }
        self.read(ACCEPTORS, "acceptors", key)
    }

    /// Up to `limit` keys with an acceptor state (persisted or pending), in key order, after
    /// `after` (from the first key when `None`): the registers a membership change's catch-up
    /// must re-write.
    pub fn acceptor_keys(
        &self,
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Bytes>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(ACCEPTORS).map_err(db_err)?;
        let range = match after {
            Some(after) => {
                table.range::<&[u8]>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
            }
            None => table.range::<&[u8]>(..),
        }
        .map_err(db_err)?;
        let mut keys = std::collections::BTreeSet::new();
        for entry in range.take(limit) {
            let (key, _) = entry.map_err(db_err)?;
            keys.insert(Bytes::copy_from_slice(key.value()));
        }
        keys.extend(
            self.pending
                .acceptors
                .keys()
                .filter(|k| after.is_none_or(|a| k.as_ref() > a))
                .cloned(),
        );
        Ok(keys.into_iter().take(limit).collect())
    }

    /// The highest-ballot chosen value this node recorded for `key`.
    pub fn committed(&self, key: &[u8]) -> Result<Option<Proposal<Bytes>>, StorageError> {
        let stored: Option<Proposal<Bytes>> = self.read(COMMITTED, "committed", key)?;
        Ok(match (self.pending.committed.get(key), stored) {
            (Some(p), Some(s)) if s.ballot >= p.ballot => Some(s),
            (Some(p), _) => Some(p.clone()),
            (None, s) => s,
        })
    }

    fn read<T: for<'de> Deserialize<'de>>(
        &self,
        def: TableDefinition<&[u8], &[u8]>,
        table: &'static str,
        key: &[u8],
    ) -> Result<Option<T>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let t = txn.open_table(def).map_err(db_err)?;
        let Some(record) = t.get(key).map_err(db_err)? else {
            return Ok(None);
        };
        postcard::from_bytes(record.value())
            .map(Some)
            .map_err(|source| StorageError::Record { table, source })
    }

    /// Appends `batch` to the log as one record. A batch with acceptor states is made durable
    /// (one `fdatasync`) before this returns ([`Committed::durable`]). A batch of committed
    /// values only is appended without one (they are a record for operators, not protocol
    /// state; the next durable append carries them to disk). A committed value only replaces a
    /// recorded one of a lower ballot. When the log is full, the pending changes are applied to
    /// the database first ([`Storage::apply`]).
    pub fn commit(&mut self, batch: &WriteBatch) -> Result<Committed, StorageError> {
        #[cfg(feature = "fault-injection")]
        if crate::fault::forget_persist() {
            return Ok(Committed {
                durable: true,
                ..Committed::default()
            });
        }
        let durable = !batch.acceptors.is_empty();
        if cfg!(debug_assertions) {
            for (key, state) in &batch.acceptors {
                let bytes = postcard::to_allocvec(state).expect("acceptor state serializes");
                let stored = self.acceptor(key).ok().flatten();
                check_acceptor_write(state, &bytes, stored.as_ref());
            }
        }
        let log_bytes = self
            .log
            .append(batch, durable)
            .map_err(|source| StorageError::Io {
                path: self.log_path.clone(),
                source,
            })?;
        self.pending.add(batch);
        let applied = if self.log.appended() >= self.options.apply_log_bytes {
            self.apply()?
        } else {
            0
        };
        Ok(Committed {
            durable,
            log_bytes,
            applied,
        })
    }
}

/// What an open has found or made before the meta record is judged and the log recovered.
struct Opening {
    db: Database,
    log_file: Box<dyn LogFile>,
    dir: PathBuf,
    log_path: PathBuf,
    wanted: Meta,
    options: StorageOptions,
}

impl Opening {
    /// Writes the meta record and creates the tables of a new database, and preallocates its
    /// log (epoch 0).
    fn initialise(self) -> Result<Storage, StorageError> {
        let storage = self.into_storage(0, 0, true)?;
        let txn = storage.db.begin_write().map_err(db_err)?;
        {
            txn.open_table(ACCEPTORS).map_err(db_err)?;
            txn.open_table(COMMITTED).map_err(db_err)?;
        }
        write_meta(txn, &storage.meta)?;
        Ok(storage)
    }

    /// Checks that an existing database belongs to `wanted`'s cluster and node and was created
    /// for its membership (upgrading it if it predates recorded memberships or the log), then
    /// recovers the log's tail into it.
    fn verify(self) -> Result<Storage, StorageError> {
        let record = read_meta(&self.db, &self.log_path)?;
        let judgement = judge(&record, &self.dir, &self.wanted)?;
        if judgement == Judgement::Adopt {
            tracing::warn!(
                data = %self.dir.display(),
                "the data directory (storage format version 1) has no recorded membership: \
                 adopting the one this node was started with ({}) and recording it; \
                 later starts must match it",
                self.wanted.membership
            );
        }
        let (epoch, start) = read_epoch(&self.db)?;
        // Before version 3 the log (just created, empty) is sized before the meta record says
        // it exists.
        let new_log = matches!(judgement, Judgement::Adopt | Judgement::Upgrade);
        let mut storage = self.into_storage(epoch, start, new_log)?;
        // Recorded before recovery can start an epoch past offset 0, which version 3 misreads.
        if judgement != Judgement::Matches {
            write_meta(storage.db.begin_write().map_err(db_err)?, &storage.meta)?;
        }
        storage.recover()?;
        Ok(storage)
    }

    /// The storage, its log at `epoch` starting at offset `start` (preallocated first if
    /// `preallocate`).
    fn into_storage(
        self,
        epoch: u64,
        start: u64,
        preallocate: bool,
    ) -> Result<Storage, StorageError> {
        let log = Log::new(self.log_file, epoch, start);
        if preallocate {
            log.preallocate(self.options.log_preallocate)
                .map_err(|source| StorageError::Io {
                    path: self.log_path.clone(),
                    source,
                })?;
        }
        Ok(Storage {
            db: self.db,
            log,
            log_path: self.log_path,
            pending: Pending::default(),
            options: self.options,
            dir: self.dir,
            meta: self.wanted,
        })
    }
}

/// A new, empty log file at `path`, durable (its directory entry is the caller's to sync).
fn create_log_file(path: &Path) -> Result<Box<dyn LogFile>, StorageError> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|source| StorageError::Io {
            path: path.to_owned(),
            source,
        })?;
    Ok(Box::new(file))
}

/// The log epoch the database records, and the offset where it starts.
fn read_epoch(db: &Database) -> Result<(u64, u64), StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(META).map_err(db_err)?;
    Ok((
        read_counter(&table, LOG_EPOCH_KEY)?,
        read_counter(&table, LOG_START_KEY)?,
    ))
}

/// Records in the `meta` table that the log's epoch `epoch` starts at offset `start`.
fn record_epoch(
    meta: &mut redb::Table<'_, &'static str, &'static [u8]>,
    epoch: u64,
    start: u64,
) -> Result<(), StorageError> {
    for (key, value) in [(LOG_EPOCH_KEY, epoch), (LOG_START_KEY, start)] {
        let bytes = postcard::to_allocvec(&value).expect("a number serializes");
        meta.insert(key, bytes.as_slice()).map_err(db_err)?;
    }
    Ok(())
}

/// A `u64` in the `meta` table (absent = 0).
fn read_counter(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    key: &str,
) -> Result<u64, StorageError> {
    match table.get(key).map_err(db_err)? {
        Some(record) => {
            postcard::from_bytes::<u64>(record.value()).map_err(|source| StorageError::Record {
                table: "meta",
                source,
            })
        }
        None => Ok(0),
    }
}

/// Checks an acceptor state on its way to disk (debug builds): it is consistent (the accepted
/// ballot is at most the promise), it does not lower the promise of the state it replaces
/// (`stored`, if one could be read), and its encoding `bytes` decodes to the very same state.
fn check_acceptor_write(
    state: &AcceptorState<Bytes>,
    bytes: &[u8],
    stored: Option<&AcceptorState<Bytes>>,
) {
    debug_assert!(
        state
            .accepted
            .as_ref()
            .is_none_or(|p| p.ballot <= state.promised),
        "storage invariant: a stored acceptor state accepts nothing above its promise"
    );
    debug_assert!(
        stored.is_none_or(|stored| stored.promised <= state.promised),
        "storage invariant: the durable promise never decreases"
    );
    debug_assert!(
        postcard::from_bytes::<AcceptorState<Bytes>>(bytes)
            .ok()
            .as_ref()
            == Some(state),
        "storage invariant: a stored acceptor state decodes to what was encoded"
    );
}

fn db_err<E: Into<redb::Error>>(e: E) -> StorageError {
    StorageError::Db(e.into())
}

fn corrupt<E: Into<redb::Error>>(file: &Path, e: E) -> StorageError {
    match e.into() {
        redb::Error::DatabaseAlreadyOpen => StorageError::InUse(file.to_owned()),
        redb::Error::Io(source) if source.kind() != std::io::ErrorKind::InvalidData => {
            StorageError::Io {
                path: file.to_owned(),
                source,
            }
        }
        redb::Error::Io(source) => StorageError::Corrupt {
            path: file.to_owned(),
            detail: source.to_string(),
        },
        other => StorageError::Corrupt {
            path: file.to_owned(),
            detail: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{Ballot, NodeSet};

    fn members(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    /// Three members, majorities.
    fn m3() -> Membership {
        Membership::majority(members(&[1, 2, 3]))
    }

    fn state(round: u64, value: Option<&'static [u8]>) -> AcceptorState<Bytes> {
        let ballot = Ballot::new(round, NodeId(1));
        AcceptorState {
            promised: ballot,
            accepted: Some(Proposal {
                ballot,
                value: value.map(Bytes::from_static),
            }),
        }
    }

    #[test]
    fn every_start_gets_a_new_incarnation_that_survives_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let s = Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap();
        assert_eq!(s.next_incarnation().unwrap(), 1);
        assert_eq!(s.next_incarnation().unwrap(), 2);
        drop(s);
        let s = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap();
        assert_eq!(s.next_incarnation().unwrap(), 3, "counted on disk");
    }

    #[test]
    fn a_restart_recovers_exactly_what_was_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let mut s = Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap();
        assert_eq!(s.acceptor(b"k").unwrap(), None);
        let batch = WriteBatch {
            acceptors: vec![
                (Bytes::from_static(b"k"), state(2, Some(b"v"))),
                (Bytes::from_static(b"gone"), state(3, None)),
            ],
            committed: vec![(
                Bytes::from_static(b"k"),
                state(2, Some(b"v")).accepted.unwrap(),
            )],
        };
        s.commit(&batch).unwrap();
        // A stale committed value does not overwrite a newer one.
        s.commit(&WriteBatch {
            acceptors: vec![],
            committed: vec![(
                Bytes::from_static(b"k"),
                state(1, Some(b"old")).accepted.unwrap(),
            )],
        })
        .unwrap();
        drop(s);
        let s = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap();
        assert_eq!(s.acceptor(b"k").unwrap(), Some(state(2, Some(b"v"))));
        assert_eq!(s.acceptor(b"gone").unwrap(), Some(state(3, None)));
        assert_eq!(
            s.committed(b"k").unwrap(),
            Some(state(2, Some(b"v")).accepted.unwrap())
        );
        assert_eq!(s.meta().node_id, NodeId(1));
    }

    #[test]
    fn a_torn_last_record_is_dropped_whole_and_synced_ones_survive_applies() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let mut s = Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap();
        let one = |key: &'static [u8], round| WriteBatch {
            acceptors: vec![(Bytes::from_static(key), state(round, Some(b"v")))],
            committed: vec![],
        };
        let first = s.commit(&one(b"a", 2)).unwrap().log_bytes;
        let second = s.commit(&one(b"b", 3)).unwrap().log_bytes;
        assert_eq!(s.pending_states(), 2);
        drop(s);
        // The second record loses its last byte (a write cut short): it is dropped whole.
        let log = dir.join(LOG_FILE);
        let mut bytes = std::fs::read(&log).unwrap();
        let second_end = first + second;
        bytes[second_end as usize - 1] ^= 0xff;
        std::fs::write(&log, &bytes).unwrap();
        let mut s = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap();
        assert_eq!(s.acceptor(b"a").unwrap(), Some(state(2, Some(b"v"))));
        assert_eq!(
            s.acceptor(b"b").unwrap(),
            None,
            "the torn record is not applied"
        );
        assert_eq!(
            s.pending_states(),
            1,
            "recovery keeps the whole record pending (compacted into the next epoch)"
        );
        // A new record after the recovery, then an explicit apply: both survive a reopen.
        s.commit(&one(b"c", 4)).unwrap();
        assert_eq!(s.apply().unwrap(), 2);
        s.commit(&one(b"d", 5)).unwrap();
        drop(s);
        let s = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap();
        for (key, round) in [(&b"a"[..], 2), (b"c", 4), (b"d", 5)] {
            assert_eq!(s.acceptor(key).unwrap(), Some(state(round, Some(b"v"))));
        }
        assert_eq!(s.acceptor(b"b").unwrap(), None);
    }

    #[test]
    fn a_missing_log_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        drop(Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap());
        std::fs::remove_file(dir.join(LOG_FILE)).unwrap();
        let err = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap_err();
        assert!(err.to_string().contains("acceptor log is missing"), "{err}");
    }

    #[test]
    fn opening_is_strict() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m3(), false),
            Err(StorageError::MissingDir(_))
        ));
        // A regular file is named as one, with or without init, and left as it was.
        std::fs::write(&dir, b"not a directory").unwrap();
        for init in [false, true] {
            let err = Storage::open(&dir, "c", NodeId(1), m3(), init).unwrap_err();
            assert!(matches!(err, StorageError::NotADirectory(_)), "{err}");
            assert!(err.to_string().contains("is not a directory"), "{err}");
        }
        assert_eq!(std::fs::read(&dir).unwrap(), b"not a directory");
        std::fs::remove_file(&dir).unwrap();
        std::fs::create_dir(&dir).unwrap();
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m3(), false),
            Err(StorageError::NotInitialised(_))
        ));
        drop(Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap());
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m3(), true),
            Err(StorageError::NotEmpty(_))
        ));
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(2), m3(), false),
            Err(StorageError::WrongOwner { .. })
        ));
        assert!(matches!(
            Storage::open(&dir, "other", NodeId(1), m3(), false),
            Err(StorageError::WrongOwner { .. })
        ));
        let open = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap();
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m3(), false),
            Err(StorageError::InUse(_))
        ));
        drop(open);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "storage invariant: a stored acceptor state decodes to what was")]
    fn an_encoding_that_does_not_round_trip_is_caught() {
        let other = postcard::to_allocvec(&state(3, Some(b"w"))).unwrap();
        check_acceptor_write(&state(2, Some(b"v")), &other, None);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "storage invariant: the durable promise never decreases")]
    fn a_write_that_lowers_the_durable_promise_is_caught() {
        let lower = state(2, Some(b"v"));
        let bytes = postcard::to_allocvec(&lower).unwrap();
        check_acceptor_write(&lower, &bytes, Some(&state(3, None)));
    }

    #[test]
    fn a_corrupt_database_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        drop(Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap());
        let file = dir.join(DB_FILE);
        std::fs::write(&file, vec![0x5a; 8192]).unwrap();
        let err = Storage::open(&dir, "c", NodeId(1), m3(), false).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    }
}

#[cfg(test)]
mod membership_tests {
    use super::dirs::parent_of;
    use super::meta::{MetaV1, META_KEY};
    use super::*;
    use synod_core::NodeSet;

    fn members(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    /// The bytes of every file under `dir`, by path.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn the_membership_is_recorded_at_init_and_another_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let m3 = Membership::majority(members(&[1, 2, 3]));
        drop(Storage::open(&dir, "c", NodeId(1), m3, true).unwrap());
        let before = snapshot(&dir);

        let m4 = Membership::majority(members(&[1, 2, 3, 4]));
        let err = Storage::open(&dir, "c", NodeId(1), m4, false).unwrap_err();
        assert!(
            matches!(&err, StorageError::WrongMembership { recorded, given, .. }
                if *recorded == m3 && *given == m4),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("members {1, 2, 3} recorded, {1, 2, 3, 4} given"),
            "{text}"
        );
        let flexible = Membership { q1: 3, q2: 1, ..m3 };
        let err = Storage::open(&dir, "c", NodeId(1), flexible, false)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("q1 2 recorded, 3 given; q2 2 recorded, 1 given"),
            "{err}"
        );
        assert_eq!(snapshot(&dir), before, "a refused start changes nothing");

        let s = Storage::open(&dir, "c", NodeId(1), m3, false).unwrap();
        assert_eq!(s.meta().membership, m3);
    }

    #[test]
    fn init_creates_missing_parents_and_syncs_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a").join("b").join("n1");
        assert_eq!(nearest_existing_ancestor(&dir), tmp.path());
        let m = Membership::majority(members(&[1]));
        drop(Storage::open(&dir, "c", NodeId(1), m, true).unwrap());
        assert!(dir.join(DB_FILE).is_file());
        assert_eq!(parent_of(Path::new("data")), Path::new("."));
        assert_eq!(
            nearest_existing_ancestor(Path::new("no-such-dir/x")),
            Path::new(".")
        );
        sync_new_entries(&dir, tmp.path()).unwrap();
    }

    #[test]
    fn a_version_1_database_adopts_the_membership_it_is_started_with() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        std::fs::create_dir(&dir).unwrap();
        // A database as the previous format wrote it: meta without a membership.
        {
            let db = Database::create(dir.join(DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let old = MetaV1 {
                    format_version: 1,
                    cluster_id: "c".into(),
                    node_id: NodeId(2),
                };
                let mut meta = txn.open_table(META).unwrap();
                let bytes = postcard::to_allocvec(&old).unwrap();
                meta.insert(META_KEY, bytes.as_slice()).unwrap();
                txn.open_table(ACCEPTORS).unwrap();
                txn.open_table(COMMITTED).unwrap();
            }
            txn.commit().unwrap();
        }
        let m3 = Membership::majority(members(&[1, 2, 3]));
        // The owner is still checked before anything is adopted.
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m3, false),
            Err(StorageError::WrongOwner { .. })
        ));
        let s = Storage::open(&dir, "c", NodeId(2), m3, false).unwrap();
        assert_eq!(s.meta().format_version, STORAGE_FORMAT_VERSION);
        assert_eq!(s.meta().membership, m3);
        drop(s);
        // Recorded: from now on it is checked.
        let m2 = Membership::majority(members(&[1, 2]));
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(2), m2, false),
            Err(StorageError::WrongMembership { .. })
        ));
        let s = Storage::open(&dir, "c", NodeId(2), m3, false).unwrap();
        assert_eq!(s.meta().membership, m3);
    }

    #[test]
    fn an_unknown_format_version_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let m = Membership::majority(members(&[1]));
        drop(Storage::open(&dir, "c", NodeId(1), m, true).unwrap());
        {
            let db = Database::open(dir.join(DB_FILE)).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut future = Meta::current("c", NodeId(1), m);
                future.format_version = STORAGE_FORMAT_VERSION + 1;
                let mut meta = txn.open_table(META).unwrap();
                let bytes = postcard::to_allocvec(&future).unwrap();
                meta.insert(META_KEY, bytes.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), m, false),
            Err(StorageError::UnsupportedFormat { found: 5, .. })
        ));
    }
}
