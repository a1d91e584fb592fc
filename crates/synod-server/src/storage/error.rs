//! Why storage could not be opened or written: one error type for the whole module, each variant
//! a sentence an operator can act on.

use std::path::PathBuf;
use synod_core::NodeId;
use thiserror::Error;

use super::meta::STORAGE_FORMAT_VERSION;
use crate::membership::Membership;

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
