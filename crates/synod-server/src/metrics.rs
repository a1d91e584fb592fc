//! A node's counters and histograms, rendered as Prometheus text for `GET /metrics`.
//!
//! Counters are atomics bumped where things happen (replica, transport, API); histograms are
//! hdrhistogram behind a mutex, rendered as Prometheus summaries (quantiles, sum, count).

use hdrhistogram::Histogram;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// One monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down (set where it is known).
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, n: u64) {
        self.0.store(n, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The bytes this process caused to be written to storage, as the kernel counts them
/// (`write_bytes` in `/proc/self/io`: page-cache pages dirtied, whole pages), if the system
/// reports it. A node writes nothing else to disk, so this is what its store costs the disk.
pub fn os_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A distribution of values (sizes, or latencies in microseconds).
#[derive(Debug)]
pub struct Distribution(Mutex<Histogram<u64>>);

impl Default for Distribution {
    fn default() -> Self {
        // Fixed bounds (1 ..= one hour in µs): an auto-resizing histogram would clamp values
        // recorded with `saturating_record` to its initial tiny range.
        Distribution(Mutex::new(
            Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
        ))
    }
}

impl Distribution {
    /// Records one value.
    pub fn record(&self, value: u64) {
        if let Ok(mut h) = self.0.lock() {
            h.saturating_record(value);
        }
    }

    /// Records a duration in microseconds.
    pub fn record_duration(&self, d: Duration) {
        self.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Number of values recorded.
    pub fn count(&self) -> u64 {
        self.0.lock().map(|h| h.len()).unwrap_or(0)
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let Ok(h) = self.0.lock() else { return };
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} summary");
        for q in [0.5, 0.9, 0.99, 0.999] {
            let _ = writeln!(out, "{name}{{quantile=\"{q}\"}} {}", h.value_at_quantile(q));
        }
        let sum = (h.mean() * h.len() as f64).round();
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {}", h.len());
    }
}

/// Everything a node measures.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Rounds (attempts) started by this node's proposers.
    pub rounds_started: Counter,
    /// Rounds whose proposal was chosen and whose request completed.
    pub rounds_committed: Counter,
    /// Rounds that failed (rejected or timed out).
    pub rounds_failed: Counter,
    /// Retries after a failed round (each after a randomized backoff).
    pub retries: Counter,
    /// Reject messages received.
    pub rejects: Counter,
    /// Requests answered with an outcome.
    pub requests_ok: Counter,
    /// Requests that failed with no quorum (surely not applied).
    pub requests_exhausted: Counter,
    /// Requests whose outcome is unknown.
    pub requests_indeterminate: Counter,
    /// Requests refused because the key's queue was full.
    pub requests_queue_full: Counter,
    /// Requests the HTTP layer stopped waiting for.
    pub requests_timed_out: Counter,
    /// Storage transactions committed (each one fsync).
    pub fsyncs: Counter,
    /// Bytes appended to the acceptor log.
    pub log_bytes: Counter,
    /// Times the log's pending changes were applied to the database.
    pub log_applies: Counter,
    /// Acceptor states applied to the database from the log.
    pub log_applied_states: Counter,
    /// Idle keys dropped from the replica's cache (reloaded from storage when touched).
    pub cache_evictions: Counter,
    /// Keys whose protocol state is in memory.
    pub cached_keys: Gauge,
    /// Peer frames sent.
    pub frames_sent: Counter,
    /// Peer frames received.
    pub frames_received: Counter,
    /// Messages dropped because a peer's outbound queue was full.
    pub messages_dropped: Counter,
    /// Peer connections closed because of a malformed or oversized frame.
    pub frames_malformed: Counter,
    /// Peer connections refused at the handshake.
    pub handshakes_refused: Counter,
    /// Requests whose first round was an `Accept` without a `Prepare` (one-round-trip writes).
    pub fast_writes: Counter,
    /// One-round-trip writes that fell back to a full round (a `Prepare` for the same request).
    pub fast_write_fallbacks: Counter,
    /// Reads answered in one round trip (`Query` and a read quorum of equal `Report`s).
    pub fast_reads: Counter,
    /// One-round-trip reads that fell back to a full round.
    pub fast_read_fallbacks: Counter,
    /// Client requests forwarded to their key's home.
    pub forwards_sent: Counter,
    /// Requests forwarded to this node by another (executed here, never forwarded again).
    pub forwards_received: Counter,
    /// Forwarded writes answered `indeterminate` because the home did not answer in time or
    /// the connection to it dropped.
    pub forwards_indeterminate: Counter,
    /// Requests proposed here although another node is their key's home, because the home was
    /// unreachable (not connected, its queue full, or a forwarded read it did not answer).
    pub home_unreachable: Counter,
    /// Inputs handled per replica batch.
    pub batch_inputs: Distribution,
    /// Acceptor states written per fsync.
    pub batch_persists: Distribution,
    /// Time per fsync'd transaction (µs).
    pub fsync_latency_us: Distribution,
    /// Time from a client request's arrival to its reply (µs).
    pub request_latency_us: Distribution,
}

impl Metrics {
    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counters: [(&str, &str, &Counter); 28] = [
            (
                "synod_rounds_started_total",
                "Paxos rounds started by this node",
                &self.rounds_started,
            ),
            (
                "synod_rounds_committed_total",
                "rounds whose proposal was chosen",
                &self.rounds_committed,
            ),
            (
                "synod_rounds_failed_total",
                "rounds that were rejected or timed out",
                &self.rounds_failed,
            ),
            (
                "synod_retries_total",
                "attempts retried after a randomized backoff",
                &self.retries,
            ),
            (
                "synod_rejects_total",
                "reject messages received",
                &self.rejects,
            ),
            (
                "synod_requests_ok_total",
                "client requests completed",
                &self.requests_ok,
            ),
            (
                "synod_requests_exhausted_total",
                "client requests failed without quorum (not applied)",
                &self.requests_exhausted,
            ),
            (
                "synod_requests_indeterminate_total",
                "client requests with unknown outcome",
                &self.requests_indeterminate,
            ),
            (
                "synod_requests_queue_full_total",
                "client requests refused: per-key queue full",
                &self.requests_queue_full,
            ),
            (
                "synod_requests_timed_out_total",
                "client requests that hit the request timeout",
                &self.requests_timed_out,
            ),
            (
                "synod_fsyncs_total",
                "storage transactions made durable (one fsync each)",
                &self.fsyncs,
            ),
            (
                "synod_log_bytes_total",
                "bytes appended to the acceptor log",
                &self.log_bytes,
            ),
            (
                "synod_log_applies_total",
                "times the acceptor log was applied to the database (one fsync each)",
                &self.log_applies,
            ),
            (
                "synod_log_applied_states_total",
                "acceptor states applied from the log to the database",
                &self.log_applied_states,
            ),
            (
                "synod_cache_evictions_total",
                "idle keys dropped from the in-memory cache",
                &self.cache_evictions,
            ),
            (
                "synod_peer_frames_sent_total",
                "frames sent to peers",
                &self.frames_sent,
            ),
            (
                "synod_peer_frames_received_total",
                "frames received from peers",
                &self.frames_received,
            ),
            (
                "synod_peer_messages_dropped_total",
                "messages dropped: outbound queue full",
                &self.messages_dropped,
            ),
            (
                "synod_peer_frames_malformed_total",
                "peer connections closed on a malformed or oversized frame",
                &self.frames_malformed,
            ),
            (
                "synod_peer_handshakes_refused_total",
                "peer connections refused at the handshake",
                &self.handshakes_refused,
            ),
            (
                "synod_fast_writes_total",
                "requests whose first round was an Accept without a Prepare",
                &self.fast_writes,
            ),
            (
                "synod_fast_write_fallbacks_total",
                "one-round-trip writes that fell back to a full round",
                &self.fast_write_fallbacks,
            ),
            (
                "synod_fast_reads_total",
                "reads answered in one round trip",
                &self.fast_reads,
            ),
            (
                "synod_fast_read_fallbacks_total",
                "one-round-trip reads that fell back to a full round",
                &self.fast_read_fallbacks,
            ),
            (
                "synod_forwards_sent_total",
                "client requests forwarded to their key's home",
                &self.forwards_sent,
            ),
            (
                "synod_forwards_received_total",
                "requests forwarded here by another node",
                &self.forwards_received,
            ),
            (
                "synod_forwards_indeterminate_total",
                "forwarded writes answered indeterminate: the home did not answer",
                &self.forwards_indeterminate,
            ),
            (
                "synod_requests_home_unreachable_total",
                "requests proposed here because their home was unreachable",
                &self.home_unreachable,
            ),
        ];
        for (name, help, counter) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                counter.get()
            );
        }
        let _ = writeln!(
            out,
            "# HELP synod_cached_keys keys whose protocol state is in memory\n# TYPE synod_cached_keys gauge\nsynod_cached_keys {}",
            self.cached_keys.get()
        );
        if let Some(bytes) = os_write_bytes() {
            let _ = writeln!(
                out,
                "# HELP synod_process_write_bytes_total bytes this process caused to be written to storage (/proc/self/io write_bytes)\n# TYPE synod_process_write_bytes_total counter\nsynod_process_write_bytes_total {bytes}"
            );
        }
        self.batch_inputs.render(
            &mut out,
            "synod_batch_inputs",
            "inputs handled per replica batch",
        );
        self.batch_persists.render(
            &mut out,
            "synod_batch_persists",
            "acceptor states written per fsync",
        );
        self.fsync_latency_us.render(
            &mut out,
            "synod_fsync_latency_us",
            "latency of one group commit (µs)",
        );
        self.request_latency_us.render(
            &mut out,
            "synod_request_latency_us",
            "client request latency (µs)",
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_summaries() {
        let m = Metrics::default();
        m.fsyncs.add(3);
        m.batch_inputs.record(4);
        m.request_latency_us.record(1_500);
        m.request_latency_us.record(250_000);
        let text = m.render();
        assert!(
            text.contains("synod_request_latency_us{quantile=\"0.999\"} 250"),
            "large values are kept, not clamped: {text}"
        );
        assert!(text.contains("synod_fsyncs_total 3\n"), "{text}");
        m.cache_evictions.add(2);
        m.cached_keys.set(7);
        let text = m.render();
        assert!(text.contains("synod_cache_evictions_total 2\n"), "{text}");
        assert!(text.contains("synod_cached_keys 7\n"), "{text}");
        if std::path::Path::new("/proc/self/io").exists() {
            assert!(text.contains("synod_process_write_bytes_total "), "{text}");
        }
        assert!(text.contains("synod_batch_inputs_count 1\n"), "{text}");
        assert!(
            text.contains("synod_batch_inputs{quantile=\"0.5\"} 4\n"),
            "{text}"
        );
    }
}
