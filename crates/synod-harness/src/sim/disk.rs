//! The simulation's disk: a redb storage backend whose bytes live in memory, shared between the
//! replica that writes them and the simulation that crashes it.
//!
//! A crash drops the replica (and its `redb::Database`); the bytes stay in the [`SimDisk`], and a
//! restart opens a new database on them — what a machine finds on its disk after `kill -9`.
//! Writes are durable as soon as redb issues them (`sync_data` is a no-op): the fault model
//! assumes an honest fsync. [`SimDisk::snapshot`] and [`SimDisk::restore`] let a harness switch
//! *break* that assumption on purpose, to show that the checks catch a node that answers before
//! its state is durable.

use std::sync::{Arc, Mutex, MutexGuard};

/// Shared, cloneable in-memory disk.
#[derive(Clone, Debug, Default)]
pub struct SimDisk {
    bytes: Arc<Mutex<Vec<u8>>>,
}

/// A copy of a disk's bytes at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot(Vec<u8>);

impl SimDisk {
    /// An empty disk.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A poisoned lock only means a panicking test thread; the bytes are still the bytes.
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The disk's current bytes.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot(self.lock().clone())
    }

    /// Puts the bytes of `snapshot` back (a write that never reached the platter).
    pub fn restore(&self, snapshot: &Snapshot) {
        *self.lock() = snapshot.0.clone();
    }

    /// The backend to give redb (every clone writes the same bytes).
    pub fn backend(&self) -> SimBackend {
        SimBackend(self.clone())
    }
}

impl PartialEq<Snapshot> for SimDisk {
    fn eq(&self, other: &Snapshot) -> bool {
        *self.lock() == other.0
    }
}

/// A [`SimDisk`] as a `redb::StorageBackend`.
#[derive(Debug)]
pub struct SimBackend(SimDisk);

fn out_of_range() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidInput,
        "read past the end of the disk",
    )
}

impl redb::StorageBackend for SimBackend {
    fn len(&self) -> Result<u64, std::io::Error> {
        Ok(self.0.lock().len() as u64)
    }

    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        let bytes = self.0.lock();
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let source = bytes
            .get(start..start + out.len())
            .ok_or_else(out_of_range)?;
        out.copy_from_slice(source);
        Ok(())
    }

    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        let len = usize::try_from(len).map_err(|_| out_of_range())?;
        self.0.lock().resize(len, 0);
        Ok(())
    }

    fn sync_data(&self) -> Result<(), std::io::Error> {
        Ok(())
    }

    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        let mut bytes = self.0.lock();
        let start = usize::try_from(offset).map_err(|_| out_of_range())?;
        let end = start + data.len();
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }
}
