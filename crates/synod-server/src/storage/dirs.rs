//! Making a new data directory durable: the directory entries `init` creates are fsynced, up to
//! the nearest directory that already existed.

use super::error::StorageError;
use std::path::{Path, PathBuf};

/// The directory that names `path` in its parent (`.` for a bare relative name).
pub(super) fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// `dir` itself if it exists, else the nearest of its ancestors that does.
pub(super) fn nearest_existing_ancestor(dir: &Path) -> PathBuf {
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
pub(super) fn sync_new_entries(dir: &Path, existing: &Path) -> Result<(), StorageError> {
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
