//! A linearizability checker for register histories: the Wing–Gong search with Lowe's
//! memoisation ("Testing for linearizability", 2017).
//!
//! A history is a list of [`Event`]s on **one** register (callers partition a key-value history
//! by key: keys are independent registers). The sequential specification is
//! [`Operation::apply`] — the same function the protocol uses — starting from the empty
//! register. An event whose outcome is unknown (a timeout, `Indeterminate`, a crash) may take
//! effect at any point after its call or not at all; an event that surely failed is left out.
//!
//! The search walks the history in real-time order, tentatively linearizing calls whose recorded
//! outcome matches the specification, and backtracks on a return it cannot explain. The cache of
//! (linearized set, register value) pairs already explored keeps long histories tractable.

use std::collections::HashSet;
use std::hash::Hash;
use synod_core::{Operation, Outcome};

/// How an operation ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Status<V> {
    /// It returned this outcome.
    Ok(Outcome<V>),
    /// It surely did not take effect (e.g. `Busy`, `Exhausted`, a 409 on a CAS is *not* this:
    /// a CAS mismatch is an `Ok` outcome).
    Failed,
    /// It may or may not have taken effect.
    Unknown,
}

/// One operation of a history. Times come from one clock shared by all clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Event<V> {
    /// The operation.
    pub op: Operation<V>,
    /// When it was invoked.
    pub call: u64,
    /// When it returned (ignored for `Unknown`, which may take effect until the end of time).
    pub ret: u64,
    /// How it ended.
    pub status: Status<V>,
}

/// Configurations the search may cache before it gives up as inconclusive (a few hundred MB at
/// most for histories of thousands of operations per key).
pub const SEARCH_LIMIT: usize = 2_000_000;

/// Why a history could not be shown linearizable: either no order explains it (`complete`), or
/// the search hit its bound first (`!complete`: inconclusive, never reported as a pass).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// Operations considered (failed ones excluded).
    pub events: usize,
    /// The longest prefix of a linearization the search found.
    pub deepest: usize,
    /// Configurations explored.
    pub explored: usize,
    /// Whether the search was exhaustive. `false`: it stopped at its bound, so the history is
    /// neither proven linearizable nor proven not to be.
    pub complete: bool,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.complete {
            write!(f, "not linearizable: no order of the {} operations explains them; the search got at most {} operations in (explored {} configurations)", self.events, self.deepest, self.explored)
        } else {
            write!(f, "inconclusive: the linearizability search stopped at its bound of {} configurations on {} operations (deepest {})", self.explored, self.events, self.deepest)
        }
    }
}

impl std::error::Error for Violation {}

/// Every value some operation reported or compared against.
fn observed_values<V: Eq + Hash>(history: &[Event<V>]) -> HashSet<&V> {
    let mut seen = HashSet::new();
    for e in history {
        if let Operation::Cas {
            expected: Some(v), ..
        } = &e.op
        {
            seen.insert(v);
        }
        if let Status::Ok(outcome) = &e.status {
            let v = match outcome {
                Outcome::Chosen { value, .. } => Some(value),
                Outcome::Written { previous: v }
                | Outcome::CasMismatch { current: v }
                | Outcome::Read { value: v } => v.as_ref(),
            };
            seen.extend(v);
        }
    }
    seen
}

/// Whether an operation of unknown fate can be left out without changing the verdict: a read
/// (it changes nothing and reported nothing), or a write of a value nobody ever observed. Every
/// operation reports the value it finds, so if such a write took effect, the next operation
/// to report anything must come after another write that hid it — leaving it out changes no
/// reported outcome. (Unknown operations are what makes the search exponential: each may or
/// may not have happened, at any time after its call.)
fn irrelevant<V: Eq + Hash>(e: &Event<V>, observed: &HashSet<&V>) -> bool {
    if e.status != Status::Unknown {
        return false;
    }
    match &e.op {
        Operation::Read => true,
        Operation::Put(v) | Operation::ProposeOnce(v) | Operation::Cas { new: v, .. } => {
            !observed.contains(v)
        }
        Operation::Delete => false,
    }
}

#[derive(Clone, Copy)]
struct Entry {
    event: usize,
    is_call: bool,
    /// For a call: the index of its return entry.
    partner: usize,
    prev: usize,
    next: usize,
}

const HEAD: usize = 0;

/// Checks that `history` (one register) is linearizable, within [`SEARCH_LIMIT`].
pub fn check<V: Clone + Eq + Hash>(history: &[Event<V>]) -> Result<(), Violation> {
    check_within(history, SEARCH_LIMIT)
}

/// [`check`] with an explicit bound on the configurations the search may cache.
pub fn check_within<V: Clone + Eq + Hash>(
    history: &[Event<V>],
    limit: usize,
) -> Result<(), Violation> {
    let observed = observed_values(history);
    let events: Vec<&Event<V>> = history
        .iter()
        .filter(|e| e.status != Status::Failed && !irrelevant(e, &observed))
        .collect();
    let n = events.len();
    // Entries: a sentinel head, then calls and returns sorted by time (a call before a return
    // at the same instant, so touching operations count as concurrent).
    let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, e) in events.iter().enumerate() {
        let ret = if e.status == Status::Unknown {
            u64::MAX
        } else {
            e.ret.max(e.call)
        };
        order.push((e.call, true, i));
        order.push((ret, false, i));
    }
    order.sort_by_key(|(t, is_call, i)| (*t, !*is_call, *i));
    let mut entries = vec![Entry {
        event: usize::MAX,
        is_call: false,
        partner: 0,
        prev: 0,
        next: 1,
    }];
    let mut return_of = vec![0usize; n];
    for (k, (_, is_call, i)) in order.iter().enumerate() {
        let idx = k + 1;
        entries.push(Entry {
            event: *i,
            is_call: *is_call,
            partner: 0,
            prev: idx - 1,
            next: idx + 1,
        });
        if !is_call {
            return_of[*i] = idx;
        }
    }
    let end = entries.len();
    for e in entries.iter_mut().skip(1) {
        if e.is_call {
            e.partner = return_of[e.event];
        }
    }

    let words = n.div_ceil(64).max(1);
    let mut linearized = vec![0u64; words];
    let mut state: Option<V> = None;
    let mut cache: HashSet<(Vec<u64>, Option<V>)> = HashSet::new();
    // Stack of (call entry, register value before it).
    let mut stack: Vec<(usize, Option<V>)> = Vec::new();
    let mut deepest = 0;
    let mut cursor = entries[HEAD].next;

    let lift = |entries: &mut Vec<Entry>, call: usize| {
        let ret = entries[call].partner;
        for x in [call, ret] {
            let (p, nx) = (entries[x].prev, entries[x].next);
            entries[p].next = nx;
            if nx < end {
                entries[nx].prev = p;
            }
        }
    };
    let unlift = |entries: &mut Vec<Entry>, call: usize| {
        let ret = entries[call].partner;
        for x in [ret, call] {
            let (p, nx) = (entries[x].prev, entries[x].next);
            entries[p].next = x;
            if nx < end {
                entries[nx].prev = x;
            }
        }
    };

    loop {
        // Done when every remaining entry belongs to an operation of unknown fate.
        if cursor >= end
            || (!entries[cursor].is_call && events[entries[cursor].event].status == Status::Unknown)
        {
            let all_unknown = {
                let mut c = entries[HEAD].next;
                let mut ok = true;
                while c < end {
                    if events[entries[c].event].status != Status::Unknown {
                        ok = false;
                        break;
                    }
                    c = entries[c].next;
                }
                ok
            };
            if all_unknown {
                return Ok(());
            }
        }
        if cursor < end && entries[cursor].is_call {
            let i = entries[cursor].event;
            let (next_state, outcome) = events[i].op.apply(state.as_ref());
            let matches = match &events[i].status {
                Status::Ok(recorded) => *recorded == outcome,
                _ => true,
            };
            if matches {
                linearized[i / 64] |= 1 << (i % 64);
                if cache.insert((linearized.clone(), next_state.clone())) {
                    if cache.len() > limit {
                        return Err(Violation {
                            events: n,
                            deepest,
                            explored: cache.len(),
                            complete: false,
                        });
                    }
                    stack.push((cursor, state.clone()));
                    state = next_state;
                    deepest = deepest.max(stack.len());
                    lift(&mut entries, cursor);
                    cursor = entries[HEAD].next;
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            cursor = entries[cursor].next;
        } else {
            // A return (or the end) we cannot get past: undo the last choice.
            let Some((call, before)) = stack.pop() else {
                return Err(Violation {
                    events: n,
                    deepest,
                    explored: cache.len(),
                    complete: true,
                });
            };
            let i = entries[call].event;
            state = before;
            linearized[i / 64] &= !(1 << (i % 64));
            unlift(&mut entries, call);
            cursor = entries[call].next;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(op: Operation<u8>, call: u64, ret: u64, outcome: Outcome<u8>) -> Event<u8> {
        Event {
            op,
            call,
            ret,
            status: Status::Ok(outcome),
        }
    }

    fn put(v: u8, call: u64, ret: u64, previous: Option<u8>) -> Event<u8> {
        ev(Operation::Put(v), call, ret, Outcome::Written { previous })
    }

    fn read(call: u64, ret: u64, value: Option<u8>) -> Event<u8> {
        ev(Operation::Read, call, ret, Outcome::Read { value })
    }

    #[test]
    fn a_search_that_hits_its_bound_is_inconclusive_not_a_pass() {
        // Twelve concurrent puts that all claim to have found the register empty: only one can
        // have. Proving that takes more configurations than a bound of 10 allows.
        let h: Vec<Event<u8>> = (0..12u8).map(|v| put(v, 0, 100, None)).collect();
        let err = check_within(&h, 10).unwrap_err();
        assert!(!err.complete);
        assert!(err.to_string().starts_with("inconclusive"), "{err}");
        let err = check(&h).unwrap_err();
        assert!(
            err.complete,
            "with the default bound the violation is proven"
        );
        assert!(err.to_string().starts_with("not linearizable"), "{err}");
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            put(1, 0, 1, None),
            read(2, 3, Some(1)),
            put(2, 4, 5, Some(1)),
        ];
        assert_eq!(check(&h), Ok(()));
        assert_eq!(check::<u8>(&[]), Ok(()));
    }

    #[test]
    fn a_stale_read_is_caught() {
        let h = vec![put(1, 0, 1, None), read(2, 3, None)];
        let err = check(&h).unwrap_err();
        assert_eq!(err.events, 2);
    }

    #[test]
    fn concurrent_operations_may_go_in_either_order() {
        // The read overlaps the put, so it may see the old value.
        let h = vec![put(1, 0, 5, None), read(1, 2, None), read(6, 7, Some(1))];
        assert_eq!(check(&h), Ok(()));
    }

    #[test]
    fn unknown_writes_may_or_may_not_happen() {
        let unknown = Event {
            op: Operation::Put(3),
            call: 0,
            ret: 0,
            status: Status::Unknown,
        };
        // Seen by a later read…
        assert_eq!(check(&[unknown.clone(), read(10, 11, Some(3))]), Ok(()));
        // …or never.
        assert_eq!(check(&[unknown.clone(), read(10, 11, None)]), Ok(()));
        // But not undone once seen.
        assert!(check(&[unknown, read(10, 11, Some(3)), read(12, 13, None)]).is_err());
    }

    #[test]
    fn unknown_operations_nobody_observed_are_left_out() {
        let unknown = |op, call| Event {
            op,
            call,
            ret: call,
            status: Status::Unknown,
        };
        // 40 overlapping writes of unknown fate whose values nobody saw, a read of unknown
        // fate, and a stale read: without the filter the search would try 2^40 subsets of the
        // unknown writes before reporting the violation.
        let mut h: Vec<Event<u8>> = (0..40)
            .map(|i| unknown(Operation::Put(100 + i), i as u64))
            .collect();
        h.push(unknown(Operation::Read, 5));
        h.push(put(1, 50, 51, None));
        h.push(read(60, 61, None));
        assert!(check(&h).is_err());
        // An unknown write whose value was observed still counts.
        let seen = vec![unknown(Operation::Put(7), 0), read(10, 11, Some(7))];
        assert_eq!(check(&seen), Ok(()));
        // And so does an unknown CAS whose expected value a later CAS relies on.
        let chained = vec![
            unknown(Operation::Put(7), 0),
            unknown(
                Operation::Cas {
                    expected: Some(7),
                    new: 8,
                },
                1,
            ),
            read(10, 11, Some(8)),
        ];
        assert_eq!(check(&chained), Ok(()));
    }

    #[test]
    fn failed_operations_never_happen() {
        let failed = Event {
            op: Operation::Put(3),
            call: 0,
            ret: 1,
            status: Status::Failed,
        };
        assert!(check(&[failed.clone(), read(10, 11, Some(3))]).is_err());
        assert_eq!(check(&[failed, read(10, 11, None)]), Ok(()));
    }

    #[test]
    fn a_cas_outcome_nobody_could_cause_is_caught() {
        let cas = |call, ret, outcome| {
            ev(
                Operation::Cas {
                    expected: Some(1),
                    new: 2,
                },
                call,
                ret,
                outcome,
            )
        };
        // One CAS reports success and mismatch against a value only it could have written.
        let h = vec![
            put(1, 0, 1, None),
            cas(2, 3, Outcome::Written { previous: Some(1) }),
            cas(4, 5, Outcome::CasMismatch { current: Some(2) }),
        ];
        assert_eq!(check(&h), Ok(()), "two CASes, second legitimately sees 2");
        let lying = vec![
            put(1, 0, 1, None),
            cas(2, 3, Outcome::CasMismatch { current: Some(2) }),
        ];
        assert!(check(&lying).is_err(), "nobody wrote 2 before the CAS");
    }

    #[test]
    fn long_concurrent_histories_finish() {
        // 3 clients × 300 operations, each overlapping its neighbours.
        let mut h = Vec::new();
        let mut value = None;
        for k in 0..900u64 {
            let v = (k % 7) as u8;
            h.push(put(v, 10 * k, 10 * k + 25, value));
            value = Some(v);
        }
        assert_eq!(check(&h), Ok(()));
    }
}
