//! The chaos run's nemesis: a seeded schedule of faults against the running cluster.
//!
//! Episodes follow each other until the deadline: SIGKILL a minority of nodes and restart them
//! later; partition the members into two sides (every link across cut, both ways) and heal;
//! make some links lossy and slow; or a kill during a partition. Each episode lasts a random
//! 0.3–2 s, with a short calm between episodes. With pauses on, two more episodes: SIGSTOP a
//! minority for 0.5–3 s — far beyond the 100 ms round timeout, so the others move on to higher
//! ballots while the paused nodes hold stale proposals, queued requests and half-sent frames —
//! then SIGCONT; or pause one node during a partition.
//!
//! Each episode strikes the members of the moment that are not held ([`ChaosCluster::targets`]:
//! with `--membership` the members change while it runs, and a node the admin killed or removed
//! is left alone), and kills or pauses at most [`ChaosCluster::fault_budget`] of them — a
//! minority of the members, less those already down for the admin — so every fault heals within
//! its episode and never takes the quorum a membership change needs for longer than that.

use super::nodes::ChaosCluster;
use super::proxy::LinkFault;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What the nemesis did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NemesisStats {
    /// SIGKILLs.
    pub kills: u64,
    /// Restarts after a kill.
    pub restarts: u64,
    /// Partitions.
    pub partitions: u64,
    /// Lossy-link episodes.
    pub lossy: u64,
    /// SIGSTOPs (each followed by a SIGCONT).
    pub pauses: u64,
}

fn pause(rng: &mut StdRng, lo_ms: u64, hi_ms: u64) -> Duration {
    Duration::from_millis(rng.gen_range(lo_ms..=hi_ms))
}

/// Runs fault episodes until `until` (with SIGSTOP/SIGCONT episodes if `pauses`); leaves every
/// link up and every node it struck running. The cluster is locked only while a fault is
/// applied or healed, so the membership admin can act between.
pub async fn run(
    cluster: &Mutex<ChaosCluster>,
    rng: &mut StdRng,
    until: Instant,
    pauses: bool,
) -> anyhow::Result<NemesisStats> {
    let mut stats = NemesisStats::default();
    while Instant::now() < until {
        tokio::time::sleep(pause(rng, 100, 500)).await;
        let episode = rng.gen_range(0..if pauses { 6 } else { 4 });
        let mut killed = Vec::new();
        let mut paused = Vec::new();
        {
            let mut cluster = cluster.lock().await;
            let ids = cluster.targets();
            let minority = cluster.fault_budget();
            if ids.is_empty() {
                continue;
            }
            if (episode == 4 || episode == 5) && minority > 0 {
                let victims = if episode == 4 {
                    rng.gen_range(1..=minority)
                } else {
                    1
                };
                for &id in ids.choose_multiple(rng, victims) {
                    if cluster.pause(id)? {
                        paused.push(id);
                        stats.pauses += 1;
                    }
                }
            }
            if (episode == 0 || episode == 3) && minority > 0 {
                let victims = rng.gen_range(1..=minority);
                for &id in ids.choose_multiple(rng, victims) {
                    cluster.kill(id).await?;
                    killed.push(id);
                    stats.kills += 1;
                }
            }
            if episode == 1 || episode == 3 || episode == 5 {
                let side: Vec<u8> = ids.iter().copied().filter(|_| rng.gen_bool(0.5)).collect();
                for &a in &side {
                    for b in ids.iter().copied().filter(|b| !side.contains(b)) {
                        cluster.set_link(a, b, LinkFault::Cut)?;
                        cluster.set_link(b, a, LinkFault::Cut)?;
                    }
                }
                stats.partitions += 1;
            }
            if episode == 2 {
                for _ in 0..rng.gen_range(1..=ids.len()) {
                    let from = *ids.choose(rng).unwrap_or(&1);
                    let to = *ids.choose(rng).unwrap_or(&1);
                    cluster.set_link(
                        from,
                        to,
                        LinkFault::Lossy {
                            drop: rng.gen_range(0.1..0.5),
                            max_delay: pause(rng, 1, 80),
                        },
                    )?;
                }
                stats.lossy += 1;
            }
        }
        let length = if paused.is_empty() {
            pause(rng, 300, 2_000)
        } else {
            pause(rng, 500, 3_000)
        };
        tokio::time::sleep(length).await;
        let mut cluster = cluster.lock().await;
        for id in paused {
            cluster.resume(id)?;
        }
        cluster.heal_links()?;
        for id in killed {
            if cluster.restart(id).await? {
                stats.restarts += 1;
            }
        }
    }
    Ok(stats)
}
