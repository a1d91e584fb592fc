//! # synod-check — the tools that judge a run of the protocol
//!
//! `synod-core` is the protocol and nothing else; this crate holds what checks it. The stateright
//! model (`synod-model`), the node's simulation, chaos and trace-replay harnesses
//! (`synod-harness`) and the core's own integration tests all judge runs with these same tools, so
//! "agreement", "linearizable" and "the replay matches the trace" mean one thing everywhere.
//!
//! * [`trace`] — the trace file vocabulary: the format the model exports discoveries and
//!   counterexamples in, and the production replica replays as regression tests.
//! * [`expectation`] — one replayed step judged against its trace expectation, the first
//!   difference as a divergence.
//! * [`linearizability`] — a checker of register histories (Wing–Gong with Lowe's memoisation),
//!   whose sequential specification is the core's own [`synod_core::Operation::apply`].
//! * [`history`] — client histories as JSON lines (the format both fault harnesses save) and
//!   their per-key linearizability check.
//! * [`append`] — the list encoding of the append workload and a direct check of its histories
//!   (lost, duplicated and reordered appends).
//! * [`oracle`] — the ghost definition of *chosen* (a phase-2 quorum at one ballot), for model
//!   checks and simulations.
//! * [`notation`] — the counterexample notation of docs/model.md (`'b'@[1,2]`, `Accept [1,2] 'b'`)
//!   for any value type, in which replay divergences are told.
//!
//! Protocol code never depends on this crate: the direction is `core ← check ← {model, server}`.

pub mod append;
pub mod expectation;
pub mod history;
pub mod linearizability;
pub mod notation;
pub mod oracle;
pub mod trace;
