//! Which requests took the core's one-round-trip shortcuts, told from the core's outputs alone.
//!
//! The core does not report which path a request took, and needs not: a request's first
//! broadcast says it. An `Accept` first is a one-round-trip write (phase 1 was reserved by the
//! previous request's `Accept`), a `Query` first is a one-round-trip read, a `Prepare` first is a
//! classic round. A `Prepare` for the same request after either shortcut is a fallback. A read
//! still on its shortcut when it is answered was answered in one round trip.
//!
//! A single-member cluster broadcasts nothing, so it counts no shortcuts.

use crate::metrics::Metrics;
use bytes::Bytes;
use std::collections::HashMap;
use synod_core::{Message, RequestId};

/// Where a running request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Path {
    /// Nothing broadcast yet.
    Starting,
    /// A classic round first.
    Classic,
    /// A one-round-trip write, not (yet) fallen back.
    FastWrite,
    /// A one-round-trip read, not (yet) fallen back.
    FastRead,
    /// A shortcut that fell back to a full round.
    FellBack,
}

/// The path of every key's running request.
#[derive(Debug, Default)]
pub struct Shortcuts {
    running: HashMap<Bytes, (RequestId, Path)>,
}

impl Shortcuts {
    /// `request` starts on `key`'s proposer (which was free).
    pub fn start(&mut self, key: &Bytes, request: RequestId) {
        self.running.insert(key.clone(), (request, Path::Starting));
    }

    /// `key`'s node broadcasts `msg`.
    pub fn broadcast<V>(&mut self, key: &Bytes, msg: &Message<V>, metrics: &Metrics) {
        let Some((request, path)) = self.running.get_mut(key) else {
            return;
        };
        let key = String::from_utf8_lossy(key);
        *path = match (*path, msg) {
            (Path::Starting, Message::Accept { ballot, .. }) => {
                tracing::debug!(%key, ?request, %ballot, "round started: one-round-trip write (Accept, phase 1 reserved)");
                metrics.fast_writes.inc();
                Path::FastWrite
            }
            (Path::Starting, Message::Query { .. }) => {
                tracing::debug!(%key, ?request, "round started: one-round-trip read (Query)");
                Path::FastRead
            }
            (Path::Starting, Message::Prepare { ballot }) => {
                tracing::debug!(%key, ?request, %ballot, "round started: classic round (Prepare)");
                Path::Classic
            }
            (Path::FastWrite, Message::Prepare { ballot }) => {
                tracing::debug!(%key, ?request, %ballot, "one-round-trip write fell back to a full round (Prepare)");
                metrics.fast_write_fallbacks.inc();
                Path::FellBack
            }
            (Path::FastRead, Message::Prepare { ballot }) => {
                tracing::debug!(%key, ?request, %ballot, "one-round-trip read fell back to a full round (the read quorum's answers differed or timed out)");
                metrics.fast_read_fallbacks.inc();
                Path::FellBack
            }
            (Path::Classic | Path::FellBack, Message::Prepare { ballot }) => {
                tracing::debug!(%key, ?request, %ballot, "round started: retry at a higher ballot (Prepare)");
                *path
            }
            (unchanged, _) => unchanged,
        };
    }

    /// `key`'s node answers `request` (`ok`: with an outcome).
    pub fn reply(&mut self, key: &Bytes, request: RequestId, ok: bool, metrics: &Metrics) {
        if self.running.get(key).is_some_and(|(r, _)| *r == request) {
            if let Some((_, Path::FastRead)) = self.running.remove(key) {
                if ok {
                    metrics.fast_reads.inc();
                }
            }
        }
    }

    /// Forgets every running request (a restart).
    pub fn clear(&mut self) {
        self.running.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{Ballot, NodeId};

    fn key() -> Bytes {
        Bytes::from_static(b"k")
    }

    fn accept() -> Message<Bytes> {
        Message::Accept {
            ballot: Ballot::new(2, NodeId(1)),
            value: None,
            next: Some(Ballot::new(3, NodeId(1))),
        }
    }

    fn prepare() -> Message<Bytes> {
        Message::Prepare {
            ballot: Ballot::new(4, NodeId(1)),
        }
    }

    #[test]
    fn the_first_broadcast_tells_the_path_and_a_later_prepare_a_fallback() {
        let (m, mut s) = (Metrics::default(), Shortcuts::default());
        s.start(&key(), RequestId(1));
        s.broadcast(&key(), &accept(), &m);
        s.broadcast(&key(), &accept(), &m);
        s.reply(&key(), RequestId(1), true, &m);
        assert_eq!((m.fast_writes.get(), m.fast_write_fallbacks.get()), (1, 0));

        s.start(&key(), RequestId(2));
        s.broadcast(&key(), &accept(), &m);
        s.broadcast(&key(), &prepare(), &m);
        s.broadcast(&key(), &prepare(), &m);
        s.reply(&key(), RequestId(2), true, &m);
        assert_eq!((m.fast_writes.get(), m.fast_write_fallbacks.get()), (2, 1));

        // A classic round: a Prepare first, then an Accept.
        s.start(&key(), RequestId(3));
        s.broadcast(&key(), &prepare(), &m);
        s.broadcast(&key(), &accept(), &m);
        s.reply(&key(), RequestId(3), true, &m);
        assert_eq!((m.fast_writes.get(), m.fast_write_fallbacks.get()), (2, 1));
    }

    #[test]
    fn a_read_counts_when_answered_on_its_shortcut() {
        let (m, mut s) = (Metrics::default(), Shortcuts::default());
        let query = Message::<Bytes>::Query {
            request: RequestId(1),
        };
        s.start(&key(), RequestId(1));
        s.broadcast(&key(), &query, &m);
        s.reply(&key(), RequestId(9), true, &m);
        assert_eq!(m.fast_reads.get(), 0, "another request's answer");
        s.reply(&key(), RequestId(1), true, &m);
        assert_eq!(m.fast_reads.get(), 1);

        s.start(&key(), RequestId(2));
        s.broadcast(&key(), &query, &m);
        s.broadcast(&key(), &prepare(), &m);
        s.reply(&key(), RequestId(2), true, &m);
        assert_eq!((m.fast_reads.get(), m.fast_read_fallbacks.get()), (1, 1));
    }
}
