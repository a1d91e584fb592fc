//! Where the disk-touching benchmarks put their data.
//!
//! `disk`: `SYNOD_BENCH_DIR` if set, else the system temp dir (on this machine the root disk,
//! where fsync is real). `tmpfs`: `/dev/shm` when it exists, where fsync costs nothing, which
//! isolates the CPU cost of the same code.

use std::path::PathBuf;

/// `(label, parent directory)` pairs to run a storage benchmark in.
pub fn bench_dirs() -> Vec<(&'static str, PathBuf)> {
    let disk = std::env::var_os("SYNOD_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let mut dirs = vec![("disk", disk)];
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        dirs.push(("tmpfs", shm));
    }
    dirs
}
