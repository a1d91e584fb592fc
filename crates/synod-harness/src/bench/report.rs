//! What `synod-harness bench` measures and prints: per-operation latency histograms (hdrhistogram, µs),
//! outcome and error counts, the live progress line, and the final report (text and JSON).

use super::target::OpKind;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

/// Latencies are recorded in µs, up to a minute, with 3 significant digits.
pub(super) fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Counters shared by every client, read by the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    /// Operations completed (ok or not), warm-up included.
    pub ops: AtomicU64,
    /// Operations that failed.
    pub errors: AtomicU64,
}

/// One client's measurements (merged at the end).
#[derive(Debug, Default)]
pub struct Recorder {
    latency: BTreeMap<OpKind, Histogram<u64>>,
    mismatches: u64,
    errors: BTreeMap<String, u64>,
}

impl Recorder {
    /// A successful operation and its latency.
    pub fn ok(&mut self, op: OpKind, latency: Duration) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.latency
            .entry(op)
            .or_insert_with(histogram)
            .saturating_record(us);
    }

    /// A CAS that found another value (counted as a success as well).
    pub fn mismatch(&mut self) {
        self.mismatches += 1;
    }

    /// A failed operation, by error kind.
    pub fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    /// Adds another client's measurements to these.
    pub fn merge(&mut self, other: Recorder) {
        for (op, h) in other.latency {
            self.latency
                .entry(op)
                .or_insert_with(histogram)
                .add(&h)
                .expect("histograms with the same bounds");
        }
        self.mismatches += other.mismatches;
        for (kind, n) in other.errors {
            *self.errors.entry(kind).or_default() += n;
        }
    }
}

/// Latency percentiles, in µs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Latency {
    /// Operations measured.
    pub count: u64,
    /// Mean.
    pub mean_us: f64,
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest.
    pub max_us: u64,
}

impl Latency {
    pub(super) fn of(h: &Histogram<u64>) -> Self {
        Latency {
            count: h.len(),
            mean_us: h.mean(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            p999_us: h.value_at_quantile(0.999),
            max_us: h.max(),
        }
    }
}

/// Server-side counters over the measured window (Synod targets only), summed over nodes.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ServerStats {
    /// Storage transactions (one fsync each).
    pub fsyncs: u64,
    /// Of which per second.
    pub fsyncs_per_s: f64,
    /// Acceptor states written per fsync, on average (the group-commit batch size).
    pub mean_batch: f64,
    /// Rejects received by proposers (contention).
    pub rejects: u64,
    /// Rounds retried after a reject or timeout.
    pub retries: u64,
    /// Requests whose first round skipped phase 1 (one-round-trip writes).
    pub fast_writes: u64,
    /// Reads answered in one round trip.
    pub fast_reads: u64,
    /// Requests a node forwarded to their key's home.
    pub forwards: u64,
    /// Bytes the node processes caused to be written to storage (the OS's count, summed).
    pub written_bytes: u64,
    /// Bytes appended to the acceptor logs.
    pub log_bytes: u64,
    /// Acceptor states written (summed over the nodes).
    pub state_changes: u64,
}

/// The final report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The workload and target, as given.
    pub setup: serde_json::Value,
    /// Measured seconds (after warm-up).
    pub seconds: f64,
    /// Successful operations per second.
    pub throughput_ops_per_s: f64,
    /// Successful operations.
    pub ok: u64,
    /// Failed operations.
    pub errors: u64,
    /// CAS operations that found another value (included in `ok`).
    pub cas_mismatches: u64,
    /// Latency of every successful operation.
    pub latency: Latency,
    /// Latency per operation kind.
    pub by_op: BTreeMap<String, Latency>,
    /// Failed operations by kind.
    pub errors_by_kind: BTreeMap<String, u64>,
    /// Server counters, when the target exposes them.
    pub server: Option<ServerStats>,
}

impl Report {
    /// The report of `recorder` over `seconds` of measurement.
    pub fn new(
        setup: serde_json::Value,
        recorder: &Recorder,
        seconds: f64,
        server: Option<ServerStats>,
    ) -> Self {
        let mut all = histogram();
        let mut by_op = BTreeMap::new();
        for (op, h) in &recorder.latency {
            all.add(h).expect("histograms with the same bounds");
            by_op.insert(op.name().to_owned(), Latency::of(h));
        }
        let ok = all.len();
        let errors = recorder.errors.values().sum();
        Report {
            setup,
            seconds,
            throughput_ops_per_s: if seconds > 0.0 {
                ok as f64 / seconds
            } else {
                0.0
            },
            ok,
            errors,
            cas_mismatches: recorder.mismatches,
            latency: Latency::of(&all),
            by_op,
            errors_by_kind: recorder.errors.clone(),
            server,
        }
    }

    /// The fraction of measured operations that failed (0 when none ran).
    pub fn error_rate(&self) -> f64 {
        let total = self.ok + self.errors;
        if total == 0 {
            0.0
        } else {
            self.errors as f64 / total as f64
        }
    }

    /// Whether the run counts as a success: some operation succeeded, and at most `max_rate`
    /// of them failed (`bench --max-error-rate`). The error names both.
    pub fn within_error_rate(&self, max_rate: f64) -> Result<(), String> {
        if self.ok == 0 {
            return Err(format!(
                "no operation succeeded ({} failed); see the errors above",
                self.errors
            ));
        }
        let rate = self.error_rate();
        if rate > max_rate {
            return Err(format!(
                "{} of {} operations failed ({:.2} %), more than --max-error-rate {} ({:.2} %)",
                self.errors,
                self.ok + self.errors,
                rate * 100.0,
                max_rate,
                max_rate * 100.0
            ));
        }
        Ok(())
    }

    /// The human-readable report.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let row = |name: &str, l: &Latency| {
            format!(
                "  {name:<6} {:>9} ops  p50 {:>7}  p90 {:>7}  p99 {:>7}  p99.9 {:>7}  max {:>7}  (µs)\n",
                l.count, l.p50_us, l.p90_us, l.p99_us, l.p999_us, l.max_us
            )
        };
        out.push_str(&format!(
            "throughput: {:.0} ops/s ({} ok, {} errors, {:.1} s measured)\n",
            self.throughput_ops_per_s, self.ok, self.errors, self.seconds
        ));
        out.push_str("latency:\n");
        out.push_str(&row("all", &self.latency));
        for (op, l) in &self.by_op {
            out.push_str(&row(op, l));
        }
        if self.cas_mismatches > 0 {
            out.push_str(&format!(
                "cas mismatches: {} (included in ok)\n",
                self.cas_mismatches
            ));
        }
        if !self.errors_by_kind.is_empty() {
            out.push_str("errors:\n");
            for (kind, n) in &self.errors_by_kind {
                out.push_str(&format!("  {kind}: {n}\n"));
            }
        }
        if let Some(s) = &self.server {
            let per = |n: u64, d: u64| if d > 0 { n as f64 / d as f64 } else { 0.0 };
            out.push_str(&format!(
                "storage: {} bytes written by the nodes (OS count): {:.0} B per operation over all nodes, {:.0} B per acceptor-state change, {:.0} B per fsync; {} B appended to the logs\n",
                s.written_bytes,
                per(s.written_bytes, self.ok),
                per(s.written_bytes, s.state_changes),
                per(s.written_bytes, s.fsyncs),
                s.log_bytes,
            ));
            out.push_str(&format!(
                "server: {} fsyncs ({:.0}/s over all nodes), mean group-commit batch {:.2} acceptor states, {} rejects, {} retries, {} one-round-trip writes, {} one-round-trip reads, {} forwarded\n",
                s.fsyncs, s.fsyncs_per_s, s.mean_batch, s.rejects, s.retries, s.fast_writes, s.fast_reads, s.forwards
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_recorders_give_counts_percentiles_and_errors() {
        let mut a = Recorder::default();
        for us in 1..=100 {
            a.ok(OpKind::Write, Duration::from_micros(us));
        }
        let mut b = Recorder::default();
        b.ok(OpKind::Read, Duration::from_millis(5));
        b.mismatch();
        b.error("timeout".into());
        b.error("timeout".into());
        a.merge(b);
        let report = Report::new(serde_json::json!({}), &a, 2.0, None);
        assert_eq!(report.ok, 101);
        assert_eq!(report.errors, 2);
        assert_eq!(report.errors_by_kind["timeout"], 2);
        assert_eq!(report.cas_mismatches, 1);
        assert!((report.throughput_ops_per_s - 50.5).abs() < 1e-9);
        assert_eq!(report.by_op["write"].count, 100);
        assert_eq!(report.by_op["write"].p50_us, 50);
        assert!((5000..=5010).contains(&report.by_op["read"].max_us));
        assert_eq!(report.latency.max_us, report.by_op["read"].max_us);
        assert!(report.text().contains("timeout: 2"));
    }

    fn report(ok: u64, errors: u64) -> Report {
        let mut r = Recorder::default();
        for _ in 0..ok {
            r.ok(OpKind::Write, Duration::from_micros(10));
        }
        for _ in 0..errors {
            r.error("unavailable".into());
        }
        Report::new(serde_json::json!({}), &r, 1.0, None)
    }

    #[test]
    fn a_run_fails_above_the_error_rate_or_without_any_success() {
        assert!(report(99, 1).within_error_rate(0.01).is_ok());
        let err = report(98, 2).within_error_rate(0.01).unwrap_err();
        assert!(err.contains("2 of 100 operations failed (2.00 %)"), "{err}");
        assert!(err.contains("--max-error-rate 0.01"), "{err}");
        assert!(report(98, 2).within_error_rate(0.5).is_ok());
        assert!(report(0, 5).within_error_rate(1.0).is_err(), "100 % errors");
        assert!(report(0, 0).within_error_rate(1.0).is_err(), "nothing ran");
        assert!(report(10, 0).within_error_rate(0.0).is_ok());
    }
}
