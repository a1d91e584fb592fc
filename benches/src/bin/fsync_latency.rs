//! fdatasync latency on a directory's disk: the durability floor under every write.
//!
//! Writes a 4 KiB block and calls `fdatasync` (`File::sync_data`), one at a time, in two
//! patterns: `overwrite` (the same block again and again, like a page rewritten in place) and
//! `append` (a growing file, like a log). Prints p50 / p90 / p99 per pattern and the implied
//! ceiling of sequential synced writes per second (1 / mean).
//!
//! Usage: `fsync_latency [DIR] [SYNCS]` (defaults: the current directory, 2000 per pattern).
//! The file is a temporary file inside DIR and is removed at the end.

use anyhow::{Context, Result};
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::Instant;
use synod_benches::percentiles::Summary;

const BLOCK: usize = 4096;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| ".".into()));
    let syncs: usize = args.next().map_or(Ok(2000), |a| a.parse())?;
    anyhow::ensure!(syncs > 0, "SYNCS must be positive");

    let dir = dir
        .canonicalize()
        .with_context(|| format!("{}", dir.display()))?;
    println!("fdatasync of {BLOCK} B writes in {}", dir.display());
    for pattern in ["overwrite", "append"] {
        let mut file = tempfile::tempfile_in(&dir).context("create a temporary file")?;
        let block = [0x5au8; BLOCK];
        let warmup = syncs / 10;
        let mut samples = Vec::with_capacity(syncs);
        for i in 0..warmup + syncs {
            if pattern == "overwrite" {
                file.seek(SeekFrom::Start(0))?;
            }
            let start = Instant::now();
            file.write_all(&block)?;
            file.sync_data()?;
            if i >= warmup {
                samples.push(start.elapsed());
            }
        }
        let summary = Summary::of(&mut samples).context("no samples")?;
        println!(
            "  {pattern:<9} {summary}  => {:.0} syncs/s sequential",
            1.0 / summary.mean.as_secs_f64()
        );
    }
    Ok(())
}
