//! Request ids that never repeat for a node — across restarts too.
//!
//! The core matches a one-round-trip read's `Report`s to the read by its [`RequestId`], and a
//! forwarded request's answer is matched to it by id as well. A `Report` or an answer sent to an
//! earlier process on the same data directory may still arrive after a restart; if the new
//! process had reused that id, the stale message would be counted for a different request — a
//! read could return a value it never asked a quorum about. So every id a node ever hands out is
//! new for that node:
//!
//! `id = incarnation << 40 | counter`
//!
//! * `incarnation` (24 bits) is bumped and made durable in the node's storage each time a
//!   runtime starts, before it serves anything ([`crate::Storage::next_incarnation`]);
//! * `counter` (40 bits) counts from 1 within the process.
//!
//! Running out is refused rather than wrapped: a data directory that was started more than
//! 2^24 − 1 times cannot be served (the start fails), and a process that handed out 2^40 − 1
//! ids refuses new requests until it is restarted.

use std::sync::atomic::{AtomicU64, Ordering};
use synod_core::RequestId;
use thiserror::Error;

/// Bits of an id that count requests within one incarnation.
pub const COUNTER_BITS: u32 = 40;
/// The largest incarnation an id can carry.
pub const MAX_INCARNATION: u64 = (1 << (64 - COUNTER_BITS)) - 1;
const MAX_COUNTER: u64 = (1 << COUNTER_BITS) - 1;

/// The incarnation is 0 or beyond [`MAX_INCARNATION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
#[error("incarnation {0} has no request ids (the data directory was started more than {MAX_INCARNATION} times, or the counter is damaged)")]
pub struct NoIds(pub u64);

/// The ids of one incarnation of a node.
#[derive(Debug)]
pub struct RequestIds {
    incarnation: u64,
    next: AtomicU64,
}

impl RequestIds {
    /// The ids of `incarnation` (1 ..= [`MAX_INCARNATION`]).
    pub fn new(incarnation: u64) -> Result<Self, NoIds> {
        if incarnation == 0 || incarnation > MAX_INCARNATION {
            return Err(NoIds(incarnation));
        }
        Ok(RequestIds {
            incarnation,
            next: AtomicU64::new(1),
        })
    }

    /// The incarnation.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// A new id, or `None` once this incarnation's ids are used up.
    pub fn next(&self) -> Option<RequestId> {
        let counter = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n <= MAX_COUNTER).then_some(n + 1)
            })
            .ok()?;
        Some(RequestId(self.incarnation << COUNTER_BITS | counter))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_different_incarnations_never_meet() {
        let first = RequestIds::new(1).unwrap();
        let second = RequestIds::new(2).unwrap();
        let a: Vec<_> = (0..3).map(|_| first.next().unwrap()).collect();
        let b: Vec<_> = (0..3).map(|_| second.next().unwrap()).collect();
        assert_eq!(a[0], RequestId(1 << 40 | 1));
        assert_eq!(b[0], RequestId(2 << 40 | 1));
        assert!(a.iter().all(|id| !b.contains(id)));
    }

    #[test]
    fn running_out_is_refused_not_wrapped() {
        assert_eq!(RequestIds::new(0).unwrap_err(), NoIds(0));
        assert!(RequestIds::new(MAX_INCARNATION).is_ok());
        assert!(RequestIds::new(MAX_INCARNATION + 1).is_err());
        let ids = RequestIds::new(MAX_INCARNATION).unwrap();
        ids.next.store(MAX_COUNTER, Ordering::Relaxed);
        assert_eq!(ids.next(), Some(RequestId(u64::MAX)));
        assert_eq!(ids.next(), None);
        assert_eq!(ids.next(), None, "stays exhausted");
    }
}
