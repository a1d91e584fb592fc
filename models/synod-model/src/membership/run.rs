//! An exhaustive check of the membership model: breadth-first (so a counterexample is a
//! shortest path) or depth-first (memory for the visited states only, so a deep counterexample
//! may be found where breadth-first runs out of memory), stopping at the first failure of an
//! `always` property, with a verdict per property — PASS only when the whole space was explored
//! — and, for a FAIL, the path as a numbered list of actions.

use super::model::{Action, MembershipModel, OfMembership};
use super::quorum::MembershipQuorumModel;
use super::scenario::MembershipConfig;
use crate::check::Verdict;
use crate::stop::{default_memory_bound, Stop, StopReason};
use stateright::{Checker, Expectation, HasDiscoveries};
use std::fmt::Write;
use std::time::{Duration, Instant};

/// The outcome of a membership check.
#[derive(Clone, Debug)]
pub struct MembershipReport {
    /// What was checked.
    pub description: String,
    /// Distinct states explored.
    pub unique_states: usize,
    /// States generated, repeats included.
    pub total_states: usize,
    /// Deepest path.
    pub max_depth: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Each property's name, expectation and verdict.
    pub properties: Vec<(&'static str, Expectation, Verdict)>,
    /// The first `always` property that failed, and the path to the failure.
    pub counterexample: Option<(&'static str, Vec<Action>)>,
    /// Whether the state space was explored to the end.
    pub exhaustive: bool,
    /// Why the search stopped early, if a bound closed it.
    pub stopped: Option<StopReason>,
}

impl MembershipReport {
    /// The overall verdict: FAIL if any property failed, else INCOMPLETE if any is undecided.
    pub fn verdict(&self) -> Verdict {
        let verdicts = self.properties.iter().map(|p| p.2);
        if verdicts.clone().any(|v| v == Verdict::Fail) {
            Verdict::Fail
        } else if verdicts.clone().any(|v| v == Verdict::Incomplete) {
            Verdict::Incomplete
        } else {
            Verdict::Pass
        }
    }

    /// The exit code of a command that ran this check alone: 0 PASS, 1 FAIL, 2 INCOMPLETE.
    pub fn exit_code(&self) -> u8 {
        match self.verdict() {
            Verdict::Pass => 0,
            Verdict::Fail => 1,
            Verdict::Incomplete => 2,
        }
    }

    /// The report as text: a verdict line, one line per property, and the counterexample.
    pub fn render(&self) -> String {
        let mut s = format!(
            "{}: {} — {} states, depth {}, {:.1} s{}\n",
            self.description,
            self.verdict(),
            self.unique_states,
            self.max_depth,
            self.elapsed.as_secs_f64(),
            match (self.exhaustive, self.stopped) {
                (true, _) => "",
                (false, Some(StopReason::Memory)) => " (not exhaustive: the memory bound)",
                (false, Some(StopReason::Deadline)) => " (not exhaustive: the timeout)",
                (false, None) => " (not exhaustive)",
            },
        );
        for (name, expectation, verdict) in &self.properties {
            let kind = if *expectation == Expectation::Always {
                "always"
            } else {
                "sometimes"
            };
            let _ = writeln!(s, "  {:<10} {kind:<9} {name}", verdict.to_string());
        }
        if let Some((name, path)) = &self.counterexample {
            let _ = writeln!(s, "counterexample to '{name}' ({} steps):", path.len());
            for (i, action) in path.iter().enumerate() {
                let _ = writeln!(s, "  {:>3}. {}", i + 1, super::model::describe(action));
            }
        }
        s
    }
}

/// The order in which a check visits states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Level by level: a counterexample is a shortest one; the frontier is kept in memory.
    BreadthFirst,
    /// Path by path: only the visited states' fingerprints are kept.
    DepthFirst,
}

/// Checks `cfg` exhaustively, breadth-first, with `threads` workers, giving up (INCOMPLETE)
/// after `timeout` or past 80 % of physical memory.
pub fn check(
    cfg: &MembershipConfig,
    threads: usize,
    timeout: Option<Duration>,
) -> MembershipReport {
    check_by(cfg, threads, timeout, Search::BreadthFirst)
}

/// [`check`] visiting states in the order `search`.
pub fn check_by(
    cfg: &MembershipConfig,
    threads: usize,
    timeout: Option<Duration>,
    search: Search,
) -> MembershipReport {
    let stop = Stop::new(timeout.map(|t| Instant::now() + t), default_memory_bound());
    check_bounded(cfg, threads, stop, search)
}

/// [`check_by`] stopping when `stop` closes (a deadline, a memory bound). The model checked is
/// the membership model with the reductions `cfg` asks for.
pub fn check_bounded(
    cfg: &MembershipConfig,
    threads: usize,
    stop: Stop,
    search: Search,
) -> MembershipReport {
    if !cfg.reduce {
        let model = MembershipModel::new(cfg.clone()).stopping_by(stop.clone());
        check_model(model, threads, &stop, search)
    } else if !cfg.quorum_transitions {
        let model = MembershipModel::reduced(cfg.clone()).stopping_by(stop.clone());
        check_model(model, threads, &stop, search)
    } else {
        let model = MembershipModel::reduced(cfg.clone()).stopping_by(stop.clone());
        check_model(MembershipQuorumModel::new(model), threads, &stop, search)
    }
}

/// Checks `model` in the order `search`, until `stop` closes.
fn check_model<M>(model: M, threads: usize, stop: &Stop, search: Search) -> MembershipReport
where
    M: OfMembership + Clone + Send + Sync + 'static,
    M::Action: Send + Sync,
{
    let start = Instant::now();
    let builder = model
        .clone()
        .checker()
        .threads(threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    match search {
        Search::BreadthFirst => report(&model, builder.spawn_bfs().join(), start, stop),
        Search::DepthFirst => report(&model, builder.spawn_dfs().join(), start, stop),
    }
}

/// The report of a finished `checker` of `model`, started at `start`, bounded by `stop`.
fn report<M: OfMembership>(
    model: &M,
    checker: impl Checker<M>,
    start: Instant,
    stop: &Stop,
) -> MembershipReport {
    let elapsed = start.elapsed();
    // A bound that closed left states unexpanded; one that never closed left none.
    let stopped = stop.reason();
    let mut discoveries = checker.discoveries();
    let properties = model.properties();
    let failed = properties
        .iter()
        .any(|p| p.expectation == Expectation::Always && discoveries.contains_key(p.name));
    let exhaustive = stopped.is_none() && !failed;
    let mut counterexample = None;
    let verdicts = properties
        .iter()
        .map(|p| {
            let found = discoveries.remove(p.name);
            let verdict = match (p.expectation == Expectation::Sometimes, &found, exhaustive) {
                (true, Some(_), _) => Verdict::Pass,
                (false, Some(_), _) => Verdict::Fail,
                (_, None, true) if p.expectation == Expectation::Sometimes => Verdict::Fail,
                (_, None, true) => Verdict::Pass,
                (_, None, false) => Verdict::Incomplete,
            };
            if verdict == Verdict::Fail && counterexample.is_none() {
                if let Some(path) = found {
                    let actions = path.into_actions().into_iter().flat_map(M::expand);
                    counterexample = Some((p.name, actions.collect()));
                }
            }
            (p.name, p.expectation.clone(), verdict)
        })
        .collect();
    MembershipReport {
        description: model.membership().cfg.describe(),
        unique_states: checker.unique_state_count(),
        total_states: checker.state_count(),
        max_depth: checker.max_depth(),
        elapsed,
        properties: verdicts,
        counterexample,
        exhaustive,
        stopped,
    }
}
