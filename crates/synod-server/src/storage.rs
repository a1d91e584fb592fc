//! Durable state of one node, in a redb database inside its data directory.
//!
//! Three tables: `acceptors` (key → postcard `AcceptorState<Bytes>`: what Paxos needs to survive
//! a crash), `committed` (key → postcard `Proposal<Bytes>`: the highest-ballot value this node
//! learned was chosen, kept for operators), and `meta` (the cluster id, node id and format version
//! the directory belongs to).
//!
//! [`Storage::commit`] writes a whole batch — many keys — in **one** transaction with
//! `Durability::Immediate`: one fsync for the batch (group commit). When it returns, the batch is
//! on disk; the caller releases the batch's messages only then.
//!
//! Opening is strict, because an acceptor that forgets a promise can break agreement:
//! * without `init`, the database must already exist (a missing directory or a directory without
//!   a database is an error, never a silent re-initialisation);
//! * with `init`, the directory must be missing or empty, and a fresh database is created;
//! * an existing database is integrity-checked, and its meta record must name the same cluster
//!   id and node id, in a known format version.

use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use synod_core::{AcceptorState, NodeId, Proposal};
use thiserror::Error;

/// The on-disk format version this build writes and reads.
pub const STORAGE_FORMAT_VERSION: u32 = 1;
/// The database's file name inside the data directory.
pub const DB_FILE: &str = "synod.redb";

const ACCEPTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("acceptors");
const COMMITTED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("committed");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const META_KEY: &str = "meta";

/// Whose data a directory holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    /// [`STORAGE_FORMAT_VERSION`] at creation.
    pub format_version: u32,
    /// The cluster id.
    pub cluster_id: String,
    /// The node id.
    pub node_id: NodeId,
}

impl Meta {
    /// The meta record this build writes for node `node_id` of `cluster_id`.
    fn current(cluster_id: &str, node_id: NodeId) -> Self {
        Meta {
            format_version: STORAGE_FORMAT_VERSION,
            cluster_id: cluster_id.to_owned(),
            node_id,
        }
    }
}

/// Why storage could not be opened or written.
#[derive(Debug, Error)]
pub enum StorageError {
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
    /// Written by an unknown format version.
    #[error("data directory {path} has storage format version {found}; this build reads version {STORAGE_FORMAT_VERSION}")]
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
    /// Opens (or with `init`, creates) the data directory `dir` of node `node_id` of `cluster_id`;
    /// see the module docs for the rules.
    pub fn open(
        dir: &Path,
        cluster_id: &str,
        node_id: NodeId,
        init: bool,
    ) -> Result<Self, StorageError> {
        let io = |source| StorageError::Io {
            path: dir.to_owned(),
            source,
        };
        let file = dir.join(DB_FILE);
        let wanted = Meta::current(cluster_id, node_id);
        if init {
            if dir.exists() && std::fs::read_dir(dir).map_err(io)?.next().is_some() {
                return Err(StorageError::NotEmpty(dir.to_owned()));
            }
            std::fs::create_dir_all(dir).map_err(io)?;
            let db = Database::create(&file).map_err(|e| corrupt(&file, e))?;
            return Self::initialise(db, dir, wanted);
        }
        if !dir.is_dir() {
            return Err(StorageError::MissingDir(dir.to_owned()));
        }
        if !file.is_file() {
            return Err(StorageError::NotInitialised(dir.to_owned()));
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
        init: bool,
    ) -> Result<Self, StorageError> {
        let wanted = Meta::current(cluster_id, node_id);
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
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let bytes = postcard::to_allocvec(&wanted).expect("meta serializes");
            meta.insert(META_KEY, bytes.as_slice()).map_err(db_err)?;
            txn.open_table(ACCEPTORS).map_err(db_err)?;
            txn.open_table(COMMITTED).map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(Storage {
            db,
            dir: dir.to_owned(),
            meta: wanted,
        })
    }

    /// Checks that an existing database belongs to `wanted`'s cluster and node.
    fn verify(db: Database, dir: &Path, file: &Path, wanted: Meta) -> Result<Self, StorageError> {
        let found = {
            let txn = db.begin_read().map_err(db_err)?;
            let table = txn.open_table(META).map_err(|e| corrupt(file, e))?;
            let record = table
                .get(META_KEY)
                .map_err(|e| corrupt(file, e))?
                .ok_or_else(|| StorageError::Corrupt {
                    path: file.to_owned(),
                    detail: "no meta record".into(),
                })?;
            let meta: Meta =
                postcard::from_bytes(record.value()).map_err(|source| StorageError::Record {
                    table: "meta",
                    source,
                })?;
            meta
        };
        if found.format_version != STORAGE_FORMAT_VERSION {
            return Err(StorageError::UnsupportedFormat {
                path: dir.to_owned(),
                found: found.format_version,
            });
        }
        if found.cluster_id != wanted.cluster_id || found.node_id != wanted.node_id {
            return Err(StorageError::WrongOwner {
                path: dir.to_owned(),
                found_cluster: found.cluster_id,
                found_node: found.node_id,
                cluster: wanted.cluster_id,
                node: wanted.node_id,
            });
        }
        Ok(Storage {
            db,
            dir: dir.to_owned(),
            meta: found,
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
    use synod_core::Ballot;

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
    fn a_restart_recovers_exactly_what_was_committed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let s = Storage::open(&dir, "c", NodeId(1), true).unwrap();
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
        let s = Storage::open(&dir, "c", NodeId(1), false).unwrap();
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
            Storage::open(&dir, "c", NodeId(1), false),
            Err(StorageError::MissingDir(_))
        ));
        std::fs::create_dir(&dir).unwrap();
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), false),
            Err(StorageError::NotInitialised(_))
        ));
        drop(Storage::open(&dir, "c", NodeId(1), true).unwrap());
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), true),
            Err(StorageError::NotEmpty(_))
        ));
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(2), false),
            Err(StorageError::WrongOwner { .. })
        ));
        assert!(matches!(
            Storage::open(&dir, "other", NodeId(1), false),
            Err(StorageError::WrongOwner { .. })
        ));
        let open = Storage::open(&dir, "c", NodeId(1), false).unwrap();
        assert!(matches!(
            Storage::open(&dir, "c", NodeId(1), false),
            Err(StorageError::InUse(_))
        ));
        drop(open);
    }

    #[test]
    fn a_corrupt_database_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        drop(Storage::open(&dir, "c", NodeId(1), true).unwrap());
        let file = dir.join(DB_FILE);
        std::fs::write(&file, vec![0x5a; 8192]).unwrap();
        let err = Storage::open(&dir, "c", NodeId(1), false).unwrap_err();
        assert!(matches!(err, StorageError::Corrupt { .. }), "{err}");
    }
}
