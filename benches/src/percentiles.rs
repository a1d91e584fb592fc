//! Exact percentiles of a set of latency samples, for the measuring commands' one-line reports.
//!
//! The commands take a few thousand samples, so sorting them is cheap and gives exact order
//! statistics (nearest-rank), with no histogram rounding.

use std::fmt;
use std::time::Duration;

/// Order statistics of a sample of durations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Number of samples.
    pub count: usize,
    /// Smallest sample.
    pub min: Duration,
    /// Median (nearest rank).
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
    /// Arithmetic mean.
    pub mean: Duration,
}

impl Summary {
    /// Summarises `samples` (sorted in place); `None` if there are none.
    pub fn of(samples: &mut [Duration]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_unstable();
        let count = samples.len();
        let rank = |p: f64| samples[((p * count as f64).ceil() as usize).clamp(1, count) - 1];
        let total: Duration = samples.iter().sum();
        Some(Summary {
            count,
            min: samples[0],
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: samples[count - 1],
            mean: total / count as u32,
        })
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        write!(
            f,
            "n={} min={:.1}us p50={:.1}us p90={:.1}us p99={:.1}us max={:.1}us mean={:.1}us",
            self.count,
            us(self.min),
            us(self.p50),
            us(self.p90),
            us(self.p99),
            us(self.max),
            us(self.mean)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_of_one_to_a_hundred() {
        let mut samples: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = Summary::of(&mut samples).unwrap();
        assert_eq!(s.count, 100);
        assert_eq!(s.min, Duration::from_micros(1));
        assert_eq!(s.p50, Duration::from_micros(50));
        assert_eq!(s.p90, Duration::from_micros(90));
        assert_eq!(s.p99, Duration::from_micros(99));
        assert_eq!(s.max, Duration::from_micros(100));
        assert_eq!(s.mean, Duration::from_nanos(50_500));
    }

    #[test]
    fn no_samples_no_summary() {
        assert_eq!(Summary::of(&mut []), None);
    }
}
