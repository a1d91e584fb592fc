//! The configuration a membership change installed on this node, kept node-wide in the `meta`
//! table (it belongs to no register): written durably before the node acts in its generation,
//! read back at every start, so a node's generation never goes down, not even across a crash
//! (docs/protocol.md, "Generations in messages").
//!
//! Absent until a change reaches the node: the node then runs generation 0, the membership its
//! directory was created with.

use super::meta::META;
use super::{db_err, Storage, StorageError};
use redb::ReadableDatabase;
use synod_core::Configuration;

/// The `meta` table's key of the installed configuration.
const CONFIGURATION_KEY: &str = "configuration";

impl Storage {
    /// The newest configuration this node installed, if a membership change ever reached it.
    /// A record that does not decode to a valid configuration is corruption, not a
    /// configuration to run with.
    pub fn configuration(&self) -> Result<Option<Configuration>, StorageError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let table = txn.open_table(META).map_err(db_err)?;
        let Some(record) = table.get(CONFIGURATION_KEY).map_err(db_err)? else {
            return Ok(None);
        };
        let decoded: Configuration =
            postcard::from_bytes(record.value()).map_err(|source| StorageError::Record {
                table: "meta",
                source,
            })?;
        decoded
            .checked()
            .map(Some)
            .map_err(|e| StorageError::Corrupt {
                path: self.dir.clone(),
                detail: format!("the installed configuration is invalid: {e}"),
            })
    }

    /// Records `configuration` as installed, durably (one fsync) before returning. A
    /// generation at or below the recorded one is not written: the record only moves forward.
    /// Returns whether it was written.
    pub fn install(&self, configuration: &Configuration) -> Result<bool, StorageError> {
        let recorded = self.configuration()?.map_or(0, |c| c.generation());
        if configuration.generation() <= recorded {
            return Ok(false);
        }
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut table = txn.open_table(META).map_err(db_err)?;
            let bytes = postcard::to_allocvec(configuration).expect("a configuration serializes");
            table
                .insert(CONFIGURATION_KEY, bytes.as_slice())
                .map_err(db_err)?;
        }
        txn.commit().map_err(db_err)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use crate::membership::Membership;
    use crate::storage::Storage;
    use synod_core::{Configuration, NodeId, NodeSet};

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    fn open(dir: &std::path::Path, init: bool) -> Storage {
        Storage::open(
            dir,
            "c",
            NodeId(1),
            Membership::majority(set(&[1, 2, 3])),
            init,
        )
        .unwrap()
    }

    #[test]
    fn an_installed_configuration_survives_a_restart_and_never_goes_back() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("n1");
        let storage = open(&dir, true);
        assert_eq!(storage.configuration().unwrap(), None);
        let grown = Configuration::new(1, set(&[1, 2, 3]), 2, set(&[1, 2, 3, 4]), 3).unwrap();
        let stable = Configuration::stable(2, set(&[1, 2, 3, 4])).unwrap();
        assert!(storage.install(&grown).unwrap());
        assert!(storage.install(&stable).unwrap());
        drop(storage);
        let storage = open(&dir, false);
        assert_eq!(storage.configuration().unwrap(), Some(stable));
        // An older generation (a late or replayed install) leaves the record as it is.
        assert!(!storage.install(&grown).unwrap());
        assert_eq!(storage.configuration().unwrap(), Some(stable));
    }
}
