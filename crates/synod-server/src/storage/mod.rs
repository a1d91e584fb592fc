//! Durable state of one node, in a redb database inside its data directory.
//!
//! Three tables: `acceptors` (key → postcard `AcceptorState<Bytes>`: what Paxos needs to survive
//! a crash), `committed` (key → postcard `Proposal<Bytes>`: the highest-ballot value this node
//! learned was chosen, kept for operators), and `meta` (the cluster id, node id and format version
//! the directory belongs to, and the [`Membership`] — member ids and quorum sizes — it was
//! created for; and, under its own key, how many times the node was started, which makes its
//! request ids unique across restarts).
//!
//! [`Storage::commit`] writes a whole batch — many keys — in **one** transaction with
//! `Durability::Immediate`: one fsync for the batch (group commit). When it returns, the batch is
//! on disk; the caller releases the batch's messages only then.
//!
//! Opening is strict, because an acceptor that forgets a promise can break agreement:
//! * without `init`, the database must already exist (a missing directory or a directory without
//!   a database is an error, never a silent re-initialisation);
//! * with `init`, the directory must be missing or empty, and a fresh database is created; the
//!   directory is fsynced afterwards (and so is every directory `init` created, in its parent), so
//!   that a power loss cannot make the new file vanish after the node started using it;
//! * an existing database is integrity-checked, and its meta record must name the same cluster
//!   id and node id, in a known format version, and the same membership (member ids, q1, q2):
//!   a node restarted with another `--peers` id set or other quorum sizes is refused, because
//!   quorums counted over different configurations need not intersect.
//!
//! Format version 1 (before the membership was recorded) had no place for it: such a database
//! is adopted on its first start by this build — the membership it is started with is recorded
//! (the meta record is rewritten as version 2, durably) with a warning in the log — and checked
//! from then on.

use crate::membership::Membership;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use synod_core::{AcceptorState, NodeId, Proposal};
use thiserror::Error;

/// The on-disk format version this build writes (it also reads, and upgrades, version 1).
pub const STORAGE_FORMAT_VERSION: u32 = 2;
/// The database's file name inside the data directory.
pub const DB_FILE: &str = "synod.redb";

const ACCEPTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("acceptors");
const COMMITTED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("committed");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_KEY: &str = "meta";
/// The `meta` table's count of starts (see [`Storage::next_incarnation`]).
const INCARNATION_KEY: &str = "incarnation";

/// Whose data a directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// [`STORAGE_FORMAT_VERSION`] at creation.
    pub format_version: u32,
    /// The cluster id.
    pub cluster_id: String,
    /// The node id.
    pub node_id: NodeId,
    /// The member ids and quorum sizes the directory was created for.
    pub membership: Membership,
}

/// The meta record of format version 1 (the prefix of [`Meta`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct MetaV1 {
    format_version: u32,
    cluster_id: String,
    node_id: NodeId,
}

impl Meta {
    /// The meta record this build writes for node `node_id` of `cluster_id` with `membership`.
    fn current(cluster_id: &str, node_id: NodeId, membership: Membership) -> Self {
        Meta {
            format_version: STORAGE_FORMAT_VERSION,
            cluster_id: cluster_id.to_owned(),
            node_id,
            membership,
        }
    }
}

/// Why storage could not be opened or written.
#[derive(Debug, Error)]
pub enum StorageError {
    /// `--data` names something that is not a directory (a regular file, say).
    #[error("data directory {0} is not a directory (it is a file or another kind of entry): pass the path of a directory, missing or empty with --init")]
    NotADirectory(PathBuf),
    /// `--data` names a directory that does not exist (and `init` was not asked for).
    #[error("data directory {0} does not exist (pass --init to create a new node there)")]
    MissingDir(PathBuf),
    /// The directory exists but holds no database (and `init` was not asked for).
    #[error("data directory {0} holds no synod database (pass --init to create a new node there)")]
    NotInitialised(PathBuf),
    /// `init` was asked for, but the directory is not empty.
    #[error("refusing to initialise {0}: the directory is not empty (it may hold a node's state)")]
    NotEmpty(PathBuf),
    /// Another process has the database open.
    #[error("database {0} is in use by another process (is this node already running?)")]
    InUse(PathBuf),
    /// The database file is damaged or not a database.
    #[error("database {path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What redb reported.
        detail: String,
    },
    /// The directory belongs to another node or cluster.
    #[error("data directory {path} belongs to node {found_node} of cluster {found_cluster:?}, not node {node} of cluster {cluster:?}")]
    WrongOwner {
        /// The directory.
        path: PathBuf,
        /// Cluster id on disk.
        found_cluster: String,
        /// Node id on disk.
        found_node: NodeId,
        /// The cluster id this node runs with.
        cluster: String,
        /// The node id this node runs with.
        node: NodeId,
    },
    /// The directory was created for other members or quorum sizes than this node runs with.
    #[error("refusing to start: data directory {path} was initialised for {recorded}, but this node was started with {given} ({differences}); start it with the recorded --peers ids, --q1 and --q2 (changing the membership of a cluster is not supported yet)")]
    WrongMembership {
        /// The directory.
        path: PathBuf,
        /// The membership recorded at `init`.
        recorded: Membership,
        /// The membership this node runs with.
        given: Membership,
        /// What differs, in words.
        differences: String,
    },
    /// Written by an unknown format version.
    #[error("data directory {path} has storage format version {found}; this build reads versions 1 to {STORAGE_FORMAT_VERSION}")]
    UnsupportedFormat {
        /// The directory.
        path: PathBuf,
        /// The version found.
        found: u32,
    },
    /// A record could not be decoded.
    #[error("corrupt record in table {table}: {source}")]
    Record {
        /// The table.
        table: &'static str,
        /// The decoding error.
        source: postcard::Error,
    },
    /// A file system error.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Db(#[from] redb::Error),
}

/// What one batch makes durable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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

/// An open data directory.
#[derive(Debug)]
pub struct Storage {
    db: Database,
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
            let storage = Self::initialise(db, dir, wanted)?;
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
        Self::verify(db, dir, &file, wanted)
    }

    /// Opens (or with `init`, creates) a database on any redb storage backend — an in-memory
    /// disk for the deterministic simulation, whose bytes survive a simulated crash. `label`
    /// names it in errors and in [`Storage::dir`]. The same meta checks as [`Storage::open`]
    /// apply; an uninitialised backend opened without `init` is reported as corrupt (no meta).
    pub fn open_with_backend(
        backend: impl redb::StorageBackend,
        label: &Path,
        cluster_id: &str,
        node_id: NodeId,
        membership: Membership,
        init: bool,
    ) -> Result<Self, StorageError> {
        let wanted = Meta::current(cluster_id, node_id, membership);
        let db = Database::builder()
            .set_check_integrity_on_open(!init)
            .create_with_backend(backend)
            .map_err(|e| corrupt(label, e))?;
        if init {
            Self::initialise(db, label, wanted)
        } else {
            Self::verify(db, label, label, wanted)
        }
    }

    /// Writes the meta record and creates the tables of a new database.
    fn initialise(db: Database, dir: &Path, wanted: Meta) -> Result<Self, StorageError> {
        let txn = db.begin_write().map_err(db_err)?;
        {
            txn.open_table(ACCEPTORS).map_err(db_err)?;
            txn.open_table(COMMITTED).map_err(db_err)?;
        }
        write_meta(txn, &wanted)?;
        Ok(Storage {
            db,
            dir: dir.to_owned(),
            meta: wanted,
        })
    }

    /// Checks that an existing database belongs to `wanted`'s cluster and node and was created
    /// for its membership (adopting it if the database predates recorded memberships).
    fn verify(db: Database, dir: &Path, file: &Path, wanted: Meta) -> Result<Self, StorageError> {
        let record = read_meta(&db, file)?;
        if judge(&record, dir, &wanted)? == Judgement::Adopt {
            tracing::warn!(
                data = %dir.display(),
                "the data directory (storage format version 1) has no recorded membership: \
                 adopting the one this node was started with ({}) and recording it; \
                 later starts must match it",
                wanted.membership
            );
            write_meta(db.begin_write().map_err(db_err)?, &wanted)?;
        }
        Ok(Storage {
            db,
            dir: dir.to_owned(),
            meta: wanted,
        })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whose data this is.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Counts one more start of this node: the incarnation counter in the `meta` table (absent
    /// = 0) is incremented and made durable (one fsync) before the new value is returned, so no
    /// two processes on this directory ever get the same number (see `request_ids`).
    pub fn next_incarnation(&self) -> Result<u64, StorageError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let next = {
            let mut table = txn.open_table(META).map_err(db_err)?;
            let current = match table.get(INCARNATION_KEY).map_err(db_err)? {
                Some(record) => postcard::from_bytes::<u64>(record.value()).map_err(|source| {
                    StorageError::Record {
                        table: "meta",
                        source,
                    }
                })?,
                None => 0,
            };
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
        self.read(ACCEPTORS, "acceptors", key)
    }

    /// The highest-ballot chosen value this node recorded for `key`.
    pub fn committed(&self, key: &[u8]) -> Result<Option<Proposal<Bytes>>, StorageError> {
        self.read(COMMITTED, "committed", key)
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

    /// Writes `batch` in one transaction. A batch with acceptor states is made durable (one
    /// fsync) before this returns, and `true` is returned. A batch of committed values only is
    /// written without an fsync (they are a record for operators, not protocol state; the next
    /// durable commit carries them to disk) and `false` is returned. A committed value only
    /// replaces a recorded one of a lower ballot.
    pub fn commit(&self, batch: &WriteBatch) -> Result<bool, StorageError> {
        #[cfg(feature = "fault-injection")]
        if crate::fault::forget_persist() {
            return Ok(true);
        }
        let mut txn = self.db.begin_write().map_err(db_err)?;
        let durable = !batch.acceptors.is_empty();
        if !durable {
            txn.set_durability(redb::Durability::None).map_err(db_err)?;
        }
        {
            let mut acceptors = txn.open_table(ACCEPTORS).map_err(db_err)?;
            for (key, state) in &batch.acceptors {
                let bytes = postcard::to_allocvec(state).expect("acceptor state serializes");
                if cfg!(debug_assertions) {
                    let stored = acceptors
                        .get(key.as_ref())
                        .map_err(db_err)?
                        .and_then(|old| postcard::from_bytes(old.value()).ok());
                    check_acceptor_write(state, &bytes, stored.as_ref());
                }
                acceptors
                    .insert(key.as_ref(), bytes.as_slice())
                    .map_err(db_err)?;
            }
            let mut committed = txn.open_table(COMMITTED).map_err(db_err)?;
            for (key, proposal) in &batch.committed {
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
        }
        txn.commit().map_err(db_err)?;
        Ok(durable)
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

/// The meta record's bytes.
fn read_meta(db: &impl ReadableDatabase, file: &Path) -> Result<Vec<u8>, StorageError> {
    let txn = db.begin_read().map_err(db_err)?;
    let table = txn.open_table(META).map_err(|e| corrupt(file, e))?;
    let record = table
        .get(META_KEY)
        .map_err(|e| corrupt(file, e))?
        .ok_or_else(|| StorageError::Corrupt {
            path: file.to_owned(),
            detail: "no meta record".into(),
        })?;
    Ok(record.value().to_vec())
}

/// Whether a database may be used by the node `wanted` describes.
#[derive(Debug, PartialEq, Eq)]
enum Judgement {
    /// Its meta record matches.
    Matches,
    /// Its meta record (format version 1) has no membership: record `wanted`'s.
    Adopt,
}

/// Judges the meta `record` of the database in `dir` against `wanted`: an unknown format
/// version, another owner or another membership is an error.
fn judge(record: &[u8], dir: &Path, wanted: &Meta) -> Result<Judgement, StorageError> {
    let decode_err = |source| StorageError::Record {
        table: "meta",
        source,
    };
    let (version, _) = postcard::take_from_bytes::<u32>(record).map_err(decode_err)?;
    let (cluster_id, node_id, recorded) = match version {
        1 => {
            let old: MetaV1 = postcard::from_bytes(record).map_err(decode_err)?;
            (old.cluster_id, old.node_id, None)
        }
        STORAGE_FORMAT_VERSION => {
            let meta: Meta = postcard::from_bytes(record).map_err(decode_err)?;
            (meta.cluster_id, meta.node_id, Some(meta.membership))
        }
        found => {
            return Err(StorageError::UnsupportedFormat {
                path: dir.to_owned(),
                found,
            })
        }
    };
    if cluster_id != wanted.cluster_id || node_id != wanted.node_id {
        return Err(StorageError::WrongOwner {
            path: dir.to_owned(),
            found_cluster: cluster_id,
            found_node: node_id,
            cluster: wanted.cluster_id.clone(),
            node: wanted.node_id,
        });
    }
    match recorded {
        None => Ok(Judgement::Adopt),
        Some(recorded) if recorded == wanted.membership => Ok(Judgement::Matches),
        Some(recorded) => Err(StorageError::WrongMembership {
            path: dir.to_owned(),
            differences: recorded.differences(&wanted.membership, "recorded", "given"),
            recorded,
            given: wanted.membership,
        }),
    }
}

/// Writes the meta record and commits `txn` (durably).
fn write_meta(txn: redb::WriteTransaction, meta: &Meta) -> Result<(), StorageError> {
    {
        let mut table = txn.open_table(META).map_err(db_err)?;
        let bytes = postcard::to_allocvec(meta).expect("meta serializes");
        table.insert(META_KEY, bytes.as_slice()).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}

/// The directory that names `path` in its parent (`.` for a bare relative name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `dir` itself if it exists, else the nearest of its ancestors that does.
fn nearest_existing_ancestor(dir: &Path) -> PathBuf {
    let mut current = dir.to_owned();
    while !current.exists() {
        let parent = parent_of(&current);
        if parent == current {
            break;
        }
        current = parent;
    }
    current
}

/// After `init` created the database in `dir` (and `dir` itself, and any missing ancestors up
/// to `existing`): fsyncs `dir`, so the database file's directory entry is durable, and every
/// directory above it up to `existing`, so the entries of the directories `init` created are
/// durable too. Without this a power loss could make the new database vanish after the node
/// had started promising.
fn sync_new_entries(dir: &Path, existing: &Path) -> Result<(), StorageError> {
    let mut current = dir.to_owned();
    loop {
        std::fs::File::open(&current)
            .and_then(|d| d.sync_all())
            .map_err(|source| StorageError::Io {
                path: current.clone(),
                source,
            })?;
        if current == existing {
            return Ok(());
        }
        let parent = parent_of(&current);
        if parent == current {
            return Ok(());
        }
        current = parent;
    }
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
        let s = Storage::open(&dir, "c", NodeId(1), m3(), true).unwrap();
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
            Err(StorageError::UnsupportedFormat { found: 3, .. })
        ));
    }
}
