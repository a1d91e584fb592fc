//! `synod-harness sim`: runs seeds of the deterministic simulation (see `synod_harness::sim` and
//! docs/testing.md) on every core and prints the totals and every failing seed.

use anyhow::bail;
use clap::Args;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use synod_check::history;
use synod_harness::sim::{self, Change, SimConfig, SimReport};

/// Options of `synod-harness sim`.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// Run only this seed and print its report.
    #[arg(long, conflicts_with_all = ["from", "count"])]
    pub seed: Option<u64>,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Number of seeds.
    #[arg(long, default_value_t = 1000)]
    pub count: u64,
    /// Write the history of `--seed` here (JSON lines).
    #[arg(long, requires = "seed")]
    pub history: Option<std::path::PathBuf>,
    /// Run a membership change while the clients run: `replace`, `grow-shrink`, `rotate`, or
    /// `mixed` (the shape the tests give each seed).
    #[arg(long, value_parser = ["replace", "grow-shrink", "rotate", "mixed"])]
    pub membership: Option<String>,
}

/// The configuration of `seed` under `args`.
fn config(args: &SimArgs, seed: u64) -> SimConfig {
    match args.membership.as_deref() {
        None => SimConfig::for_seed(seed),
        Some(name) => SimConfig::with_membership(
            seed,
            Change::from_name(name).unwrap_or_else(|| Change::for_seed(seed)),
        ),
    }
}

#[derive(Default)]
struct Totals {
    runs: u64,
    operations: u64,
    ok: u64,
    failed: u64,
    unknown: u64,
    crashes: u64,
    crashes_after_commit: u64,
    frames: u64,
    lost: u64,
    duplicated: u64,
    partitions: u64,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    if let Some(seed) = args.seed {
        let report = sim::run(seed, &config(&args, seed));
        print!("{report}");
        if let Some(path) = &args.history {
            history::write_jsonl(path, &report.history)?;
        }
        if !report.passed() {
            bail!("seed {seed} failed");
        }
        return Ok(());
    }
    let started = std::time::Instant::now();
    let next = AtomicU64::new(args.from);
    let end = args.from.saturating_add(args.count);
    let totals = Mutex::new(Totals::default());
    let failed: Mutex<Vec<SimReport>> = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let seed = next.fetch_add(1, Ordering::Relaxed);
                if seed >= end {
                    return;
                }
                let r = sim::run(seed, &config(&args, seed));
                let mut t = totals.lock().unwrap_or_else(|e| e.into_inner());
                t.runs += 1;
                t.operations += r.history.len() as u64;
                t.ok += r.ok as u64;
                t.failed += r.failed as u64;
                t.unknown += r.unknown as u64;
                t.crashes += r.crashes;
                t.crashes_after_commit += r.crashes_after_persist;
                t.frames += r.network.frames;
                t.lost += r.network.lost;
                t.duplicated += r.network.duplicated;
                t.partitions += r.network.partitions;
                drop(t);
                if !r.passed() {
                    eprint!("{r}");
                    failed.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            });
        }
    });
    let t = totals.into_inner().unwrap_or_else(|e| e.into_inner());
    let failed = failed.into_inner().unwrap_or_else(|e| e.into_inner());
    println!(
        "{} seeds ({}..{}) in {:.1} s: {} operations (ok {}, fail {}, unknown {}); {} crashes ({} after a commit, before its sends); {} frames ({} lost, {} duplicated); {} partitions; {} seeds failed",
        t.runs, args.from, end, started.elapsed().as_secs_f64(), t.operations, t.ok, t.failed, t.unknown,
        t.crashes, t.crashes_after_commit, t.frames, t.lost, t.duplicated, t.partitions, failed.len()
    );
    if let Some(first) = failed.iter().min_by_key(|r| r.seed) {
        bail!(
            "{} seeds failed; replay the first: {}",
            failed.len(),
            first.replay_command()
        );
    }
    Ok(())
}
