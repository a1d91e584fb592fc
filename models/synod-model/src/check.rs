//! Runs a model check and classifies every property as PASS, FAIL or INCOMPLETE.
//!
//! * An **always** property is PASS only if the whole state space was explored without a
//!   counterexample; a counterexample makes it FAIL; a bound or timeout makes it INCOMPLETE.
//! * A **sometimes** property is PASS once an example is found; an exhaustive run without one is
//!   a FAIL (the scenario is unreachable, so the model does not explore what it claims to); a
//!   bounded run without one is INCOMPLETE.
//!
//! The run stops at the first counterexample of an always property (the others are then
//! INCOMPLETE), and never reports PASS for a run that did not finish.

use crate::properties::{SynodModel, SystemState};
use crate::Protocol;
use stateright::actor::{ActorModelAction, Id};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path};
use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use synod_core::Timer;

/// A step of the model.
pub type Action = ActorModelAction<crate::message::ModelMsg, Timer, ()>;

/// Search order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth first: shortest counterexamples (single-threaded), more memory.
    Bfs,
    /// Depth first: less memory; required for symmetry reduction in stateright 0.31.
    Dfs,
}

/// How to run a check.
#[derive(Clone, Debug)]
pub struct CheckOptions {
    /// Search order.
    pub strategy: Strategy,
    /// Checker threads.
    pub threads: usize,
    /// Explore interchangeable nodes once (forces depth-first search).
    pub symmetry: bool,
    /// Stop at this depth (the run is then INCOMPLETE if the bound was reached).
    pub max_depth: Option<usize>,
    /// Stop after this long (the run is then INCOMPLETE).
    pub timeout: Option<Duration>,
    /// Call the progress callback this often.
    pub progress_every: Duration,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            strategy: Strategy::Bfs,
            threads: 1,
            symmetry: false,
            max_depth: None,
            timeout: None,
            progress_every: Duration::from_secs(3),
        }
    }
}

/// A property's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Holds (always: in the whole space; sometimes: an example was found).
    Pass,
    /// Violated (always: counterexample; sometimes: exhaustively unreachable).
    Fail,
    /// Not decided: the run was bounded or stopped early.
    Incomplete,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
        })
    }
}

/// A progress sample.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// States generated, repeats included.
    pub total: usize,
    /// Distinct states.
    pub unique: usize,
    /// Deepest level reached.
    pub depth: usize,
    /// Time since the start.
    pub elapsed: Duration,
}

impl fmt::Display for Progress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        write!(
            f,
            "states={} unique={} states/s={:.0} depth={} elapsed={:.1}s",
            self.total,
            self.unique,
            self.total as f64 / secs,
            self.depth,
            secs
        )
    }
}

/// One property's outcome, with its trace (counterexample or example) if any.
pub struct PropertyResult<P: Protocol> {
    /// Its name.
    pub name: &'static str,
    /// Always or sometimes.
    pub kind: Expectation,
    /// The verdict.
    pub verdict: Verdict,
    /// The discovery: a counterexample for a FAIL, an example for a sometimes PASS.
    pub path: Option<Path<SystemState<P>, Action>>,
}

/// The result of a check.
pub struct CheckReport<P: Protocol> {
    /// Final counts.
    pub progress: Progress,
    /// Whether every reachable state was explored.
    pub exhaustive: bool,
    /// Per property, in model order.
    pub results: Vec<PropertyResult<P>>,
}

impl<P: Protocol> CheckReport<P> {
    /// 0 = all PASS exhaustively, 1 = a FAIL, 2 = INCOMPLETE.
    pub fn exit_code(&self) -> u8 {
        if self.results.iter().any(|r| r.verdict == Verdict::Fail) {
            1
        } else if self
            .results
            .iter()
            .any(|r| r.verdict == Verdict::Incomplete)
        {
            2
        } else {
            0
        }
    }

    /// The verdict of property `name`.
    pub fn verdict(&self, name: &str) -> Option<Verdict> {
        self.results
            .iter()
            .find(|r| r.name == name)
            .map(|r| r.verdict)
    }
}

/// Checks `model`, calling `on_progress` every `options.progress_every` while it runs.
pub fn run<P: Protocol>(
    model: SynodModel<P>,
    options: &CheckOptions,
    on_progress: impl FnMut(&Progress),
) -> CheckReport<P> {
    let mut builder = model
        .checker()
        .threads(options.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(depth) = options.max_depth {
        builder = builder.target_max_depth(depth);
    }
    if let Some(timeout) = options.timeout {
        builder = builder.timeout(timeout);
    }
    if options.symmetry {
        builder = builder.symmetry_fn(crate::symmetry::representative::<P>);
    }
    let start = Instant::now();
    if options.symmetry || options.strategy == Strategy::Dfs {
        finish(builder.spawn_dfs(), start, options, on_progress)
    } else {
        finish(builder.spawn_bfs(), start, options, on_progress)
    }
}

fn sample<P: Protocol, C: Checker<SynodModel<P>>>(checker: &C, start: Instant) -> Progress {
    Progress {
        total: checker.state_count(),
        unique: checker.unique_state_count(),
        depth: checker.max_depth(),
        elapsed: start.elapsed(),
    }
}

fn finish<P: Protocol, C: Checker<SynodModel<P>>>(
    mut checker: C,
    start: Instant,
    options: &CheckOptions,
    mut on_progress: impl FnMut(&Progress),
) -> CheckReport<P> {
    let handles = checker.handles();
    let (done_tx, done_rx) = mpsc::channel();
    let joiner = std::thread::spawn(move || {
        for h in handles {
            let _ = h.join();
        }
        let _ = done_tx.send(());
    });
    while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(options.progress_every) {
        on_progress(&sample(&checker, start));
    }
    let _ = joiner.join();
    let progress = sample(&checker, start);
    let timed_out = options.timeout.is_some_and(|t| progress.elapsed >= t);
    let depth_bounded = options.max_depth.is_some_and(|d| progress.depth >= d);
    let mut discoveries = checker.discoveries();
    let model = checker.model();
    let failed = model
        .properties()
        .iter()
        .any(|p| p.expectation == Expectation::Always && discoveries.contains_key(p.name));
    let exhaustive = !timed_out && !depth_bounded && !failed;
    let results = model
        .properties()
        .into_iter()
        .map(|p| {
            let path = discoveries.remove(p.name).map(|path| {
                shorten(
                    model,
                    path,
                    p.condition,
                    p.expectation == Expectation::Sometimes,
                )
            });
            let verdict = match (&p.expectation, path.is_some(), exhaustive) {
                (Expectation::Sometimes, true, _) => Verdict::Pass,
                (_, true, _) => Verdict::Fail,
                (Expectation::Sometimes, false, true) => Verdict::Fail,
                (_, false, true) => Verdict::Pass,
                (_, false, false) => Verdict::Incomplete,
            };
            PropertyResult {
                name: p.name,
                kind: p.expectation.clone(),
                verdict,
                path,
            }
        })
        .collect();
    CheckReport {
        progress,
        exhaustive,
        results,
    }
}

/// Cuts `path` right after the first state where `condition` equals `wanted` (stateright keeps
/// the *last* discovery of a property, which may run on past the interesting point), and
/// replays it in the [faithful](SynodModel::faithful) model, so that every state on it shows
/// the nodes exactly as the core holds them (listings and trace files are read against
/// production).
fn shorten<P: Protocol>(
    model: &SynodModel<P>,
    path: Path<SystemState<P>, Action>,
    condition: fn(&SynodModel<P>, &SystemState<P>) -> bool,
    wanted: bool,
) -> Path<SystemState<P>, Action> {
    let steps = path.clone().into_vec();
    let first = steps
        .iter()
        .position(|(state, _)| condition(model, state) == wanted)
        .unwrap_or(steps.len() - 1);
    let actions: Vec<Action> = steps[..first]
        .iter()
        .filter_map(|(_, a)| a.clone())
        .collect();
    replay_faithfully(model, &actions)
        .or_else(|| Path::from_actions(model, steps[0].0.clone(), &actions))
        .unwrap_or(path)
}

/// `path` replayed in the [faithful](SynodModel::faithful) model: the same actions, with every
/// state showing the nodes exactly as the core holds them (for listings and trace files).
pub fn faithful_path<P: Protocol>(
    model: &SynodModel<P>,
    path: &Path<SystemState<P>, Action>,
) -> Path<SystemState<P>, Action> {
    let steps = path.clone().into_vec();
    let actions: Vec<Action> = steps.iter().filter_map(|(_, a)| a.clone()).collect();
    replay_faithfully(model, &actions).unwrap_or_else(|| path.clone())
}

/// Replays `actions` from the faithful model's initial state. A delivery of a sender-blind
/// message names the canonical sender in the checked model ([`crate::model::blind_sender`]);
/// the faithful model delivers the same message from a sender that really sent it. (The checked
/// model's initial state may lack envelopes the faithful one keeps, such as a `Prepare` whose
/// only effect would be its proposer's round timeout.)
fn replay_faithfully<P: Protocol>(
    model: &SynodModel<P>,
    actions: &[Action],
) -> Option<Path<SystemState<P>, Action>> {
    let faithful = model.faithful();
    let init = faithful.init_states().into_iter().next()?;
    let mut state = init.clone();
    let mut real = Vec::with_capacity(actions.len());
    for action in actions {
        let steps = faithful.next_steps(&state);
        let (action, next) = steps
            .iter()
            .find(|(a, _)| a == action)
            .or_else(|| steps.iter().find(|(a, _)| same_but_sender(a, action)))?
            .clone();
        real.push(action);
        state = next;
    }
    Path::from_actions(&faithful, init, &real)
}

/// Whether `real` delivers (or drops) the message `renamed` delivers (or drops), to the same
/// node, from another sender where `renamed` names the canonical one.
fn same_but_sender(real: &Action, renamed: &Action) -> bool {
    let renamed_from_blind = |src: &Id, dst: &Id| *src == crate::model::blind_sender(*dst);
    match (real, renamed) {
        (
            ActorModelAction::Deliver { dst, msg, .. },
            ActorModelAction::Deliver {
                src,
                dst: renamed_dst,
                msg: renamed_msg,
            },
        ) => dst == renamed_dst && msg == renamed_msg && renamed_from_blind(src, renamed_dst),
        (ActorModelAction::Drop(real), ActorModelAction::Drop(renamed)) => {
            real.dst == renamed.dst
                && real.msg == renamed.msg
                && renamed_from_blind(&renamed.src, &renamed.dst)
        }
        _ => false,
    }
}
