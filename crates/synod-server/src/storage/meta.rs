//! Whose data a directory holds: the meta record (cluster id, node id, format version,
//! membership), how it is judged against the node being started, and its upgrade from older
//! format versions.

use super::error::StorageError;
use super::{corrupt, db_err};
use crate::membership::Membership;
use redb::{ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use synod_core::NodeId;

/// The on-disk format version this build writes (it also reads, and upgrades, versions 1 to 3).
/// Version 3 added the acceptor log (`synod.log`): a build that knows only version 2 would ignore
/// its tail, so it must refuse the directory, which the version number makes it do. Version 4
/// lets a log epoch start past offset 0 (a recovery's compacted record), which a version-3 build
/// would not read.
pub const STORAGE_FORMAT_VERSION: u32 = 4;
/// The database's file name inside the data directory.
pub const DB_FILE: &str = "synod.redb";

pub(super) const ACCEPTORS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("acceptors");
pub(super) const COMMITTED: TableDefinition<&[u8], &[u8]> = TableDefinition::new("committed");
pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
pub(super) const META_KEY: &str = "meta";
/// The `meta` table's count of starts (see [`super::Storage::next_incarnation`]).
pub(super) const INCARNATION_KEY: &str = "incarnation";

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
pub(super) struct MetaV1 {
    pub(super) format_version: u32,
    pub(super) cluster_id: String,
    pub(super) node_id: NodeId,
}

impl Meta {
    /// The meta record this build writes for node `node_id` of `cluster_id` with `membership`.
    pub(super) fn current(cluster_id: &str, node_id: NodeId, membership: Membership) -> Self {
        Meta {
            format_version: STORAGE_FORMAT_VERSION,
            cluster_id: cluster_id.to_owned(),
            node_id,
            membership,
        }
    }
}

/// The meta record's bytes.
pub(super) fn read_meta(db: &impl ReadableDatabase, file: &Path) -> Result<Vec<u8>, StorageError> {
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
pub(super) enum Judgement {
    /// Its meta record matches.
    Matches,
    /// Its meta record (format version 1) has no membership: record `wanted`'s (and create the
    /// acceptor log, which version 1 did not have either).
    Adopt,
    /// Its meta record (format version 2) matches, but the directory predates the acceptor
    /// log: create it, then record the current version.
    Upgrade,
    /// Its meta record (format version 3) matches, and its log is valid (its epoch starts at
    /// offset 0): record the current version before a recovery moves an epoch's start.
    Renumber,
}

/// Judges the meta `record` of the database in `dir` against `wanted`: an unknown format
/// version, another owner or another membership is an error.
pub(super) fn judge(record: &[u8], dir: &Path, wanted: &Meta) -> Result<Judgement, StorageError> {
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
        2..=STORAGE_FORMAT_VERSION => {
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
        Some(recorded) if recorded == wanted.membership && version == 2 => Ok(Judgement::Upgrade),
        Some(recorded) if recorded == wanted.membership && version == 3 => Ok(Judgement::Renumber),
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
pub(super) fn write_meta(txn: redb::WriteTransaction, meta: &Meta) -> Result<(), StorageError> {
    {
        let mut table = txn.open_table(META).map_err(db_err)?;
        let bytes = postcard::to_allocvec(meta).expect("meta serializes");
        table.insert(META_KEY, bytes.as_slice()).map_err(db_err)?;
    }
    txn.commit().map_err(db_err)
}
