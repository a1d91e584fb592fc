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
//!
//! [`simulate`] random-walks configurations too large to check (`synod-model simulate`): it
//! finds counterexamples and examples, never a PASS.

use crate::model::SynodModel;
use crate::properties::SystemState;
use crate::quorum_transitions::{QuorumAction, QuorumModel};
use crate::stop::{Stop, StopReason};
use crate::Protocol;
use stateright::actor::{ActorModelAction, Id};
use stateright::{Checker, Expectation, HasDiscoveries, Model, Path};
use std::fmt;
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub use crate::message::Action;

/// Search order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Breadth first: shortest counterexamples (single-threaded), more memory.
    Bfs,
    /// Depth first: less memory; required for symmetry reduction in stateright 0.31.
    Dfs,
}

impl fmt::Display for Strategy {
    /// As the `--strategy` flag spells it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Strategy::Bfs => "bfs",
            Strategy::Dfs => "dfs",
        })
    }
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
    /// Stop once the process's resident memory exceeds this many bytes (the run is then
    /// INCOMPLETE); [`crate::stop::default_memory_bound`] on the command line.
    pub max_memory: Option<u64>,
    /// Call the progress callback this often.
    pub progress_every: Duration,
    /// Deliver a quorum's worth of votes as one action where that is sound
    /// ([`crate::quorum_transitions`]).
    pub quorum_transitions: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            strategy: Strategy::Bfs,
            threads: 1,
            symmetry: false,
            max_depth: None,
            timeout: None,
            max_memory: None,
            progress_every: Duration::from_secs(3),
            quorum_transitions: true,
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
    /// Why the search stopped early, if a bound closed it (a deadline or the memory bound).
    pub stopped: Option<StopReason>,
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

/// Checks `model`, calling `on_progress` every `options.progress_every` while it runs. With
/// `options.quorum_transitions`, where they apply ([`QuorumModel::applies`]), the checker
/// explores the [`QuorumModel`] over `model`, and every discovery is expanded back into
/// `model`'s own steps.
pub fn run<P: Protocol>(
    model: SynodModel<P>,
    options: &CheckOptions,
    on_progress: impl FnMut(&Progress),
) -> CheckReport<P> {
    let stop = Stop::new(
        options.timeout.map(|t| Instant::now() + t),
        options.max_memory,
    );
    let explored = model.stopping_by(stop.clone());
    if options.quorum_transitions && QuorumModel::applies(&model) {
        let quorum = QuorumModel::new(explored);
        explore(quorum, &model, options, &stop, on_progress, |path| {
            expand(&model, path)
        })
    } else {
        explore(explored, &model, options, &stop, on_progress, |path| path)
    }
}

/// Runs the checker over `explored` (`model` itself, or a model whose actions stand for
/// sequences of `model`'s: `to_model` turns its paths into `model`'s), which stops expanding
/// states when `stop` closes ([`SynodModel::stopping_by`]).
fn explore<P, M>(
    explored: M,
    model: &SynodModel<P>,
    options: &CheckOptions,
    stop: &Stop,
    on_progress: impl FnMut(&Progress),
    to_model: impl Fn(Path<SystemState<P>, M::Action>) -> Path<SystemState<P>, Action>,
) -> CheckReport<P>
where
    P: Protocol,
    M: Model<State = SystemState<P>> + Send + Sync + 'static,
    M::Action: Clone + PartialEq + Send + Sync,
{
    let mut builder = explored
        .checker()
        .threads(options.threads.max(1))
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(depth) = options.max_depth {
        builder = builder.target_max_depth(depth);
    }
    if options.symmetry {
        builder = builder.symmetry_fn(crate::symmetry::representative::<P>);
    }
    let start = Instant::now();
    if options.symmetry || options.strategy == Strategy::Dfs {
        finish(
            builder.spawn_dfs(),
            model,
            start,
            options,
            stop,
            on_progress,
            to_model,
        )
    } else {
        finish(
            builder.spawn_bfs(),
            model,
            start,
            options,
            stop,
            on_progress,
            to_model,
        )
    }
}

/// `path` of the [`QuorumModel`] over `model` as a path of `model`: every quorum action
/// expanded into its deliveries.
fn expand<P: Protocol>(
    model: &SynodModel<P>,
    path: Path<SystemState<P>, QuorumAction>,
) -> Path<SystemState<P>, Action> {
    let steps = path.into_vec();
    let init = steps[0].0.clone();
    let actions: Vec<Action> = steps
        .into_iter()
        .filter_map(|(_, a)| a)
        .flat_map(QuorumAction::expand)
        .collect();
    Path::from_actions(model, init, &actions)
        .expect("a quorum action is a sequence of the wrapped model's steps")
}

fn sample<M: Model, C: Checker<M>>(checker: &C, start: Instant) -> Progress {
    Progress {
        total: checker.state_count(),
        unique: checker.unique_state_count(),
        depth: checker.max_depth(),
        elapsed: start.elapsed(),
    }
}

fn finish<P, M, C>(
    mut checker: C,
    model: &SynodModel<P>,
    start: Instant,
    options: &CheckOptions,
    stop: &Stop,
    mut on_progress: impl FnMut(&Progress),
    to_model: impl Fn(Path<SystemState<P>, M::Action>) -> Path<SystemState<P>, Action>,
) -> CheckReport<P>
where
    P: Protocol,
    M: Model<State = SystemState<P>>,
    M::Action: Clone + PartialEq,
    C: Checker<M>,
{
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
    // A bound that closed left states unexpanded; one that never closed left none.
    let stopped = stop.reason();
    let depth_bounded = options.max_depth.is_some_and(|d| progress.depth >= d);
    let mut discoveries = checker.discoveries();
    let failed = model
        .properties()
        .iter()
        .any(|p| p.expectation == Expectation::Always && discoveries.contains_key(p.name));
    let exhaustive = stopped.is_none() && !depth_bounded && !failed;
    let results = model
        .properties()
        .into_iter()
        .map(|p| {
            let path = discoveries.remove(p.name).map(|path| {
                shorten(
                    model,
                    to_model(path),
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
        stopped,
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

// ---------------------------------------------------------------------------------------------
// Random walks (`synod-model simulate`).
//
// stateright 0.31's simulation checker is not used: it records each walk as indices into the
// list of enabled actions, but when a chosen action is a no-op (`next_state` is `None`, as it is
// for every redundant delivery in an actor model) it removes the action with `swap_remove` and
// records the index of the next choice in that *shrunken* list, while
// `Path::from_action_indices` looks every index up in the full list. Walks with a no-op choice
// therefore rebuild as a different path, or panic ("Unable to reconstruct a `Path`") when the
// index is out of range. These walks record the actions themselves, and a discovery is rebuilt
// by replaying its actions — in the faithful model, as `check` does.
// ---------------------------------------------------------------------------------------------

/// How to random-walk a model.
#[derive(Clone, Copy, Debug)]
pub struct SimulateOptions {
    /// Seed of the first walk; walk `i` uses `seed + i`, so any walk can be rerun alone.
    pub seed: u64,
    /// How many walks.
    pub runs: usize,
    /// Maximum steps per walk.
    pub depth: usize,
}

/// What a random walk found for one property: a counterexample (always, eventually) or an
/// example (sometimes).
pub struct Found<P: Protocol> {
    /// The seed of the walk that found it (`--seed` it with `--runs 1` to walk it again).
    pub seed: u64,
    /// The steps of the walk up to the state where it was found.
    pub actions: Vec<Action>,
    /// Those steps replayed in the [faithful](SynodModel::faithful) model (or, failing that, in
    /// the model itself); `None` if neither could replay them.
    pub path: Option<Path<SystemState<P>, Action>>,
}

/// One property's outcome in a simulation.
pub struct SimulatedProperty<P: Protocol> {
    /// Its name.
    pub name: &'static str,
    /// Always, sometimes or eventually.
    pub kind: Expectation,
    /// The first counterexample, or the shortest example, if any walk found one.
    pub found: Option<Found<P>>,
}

impl<P: Protocol> SimulatedProperty<P> {
    /// Whether a walk violated the property (a sometimes property cannot be violated by walks).
    pub fn violated(&self) -> bool {
        self.found.is_some() && self.kind != Expectation::Sometimes
    }
}

/// The result of a simulation. Never a proof: walks that find nothing show nothing.
pub struct SimulateReport<P: Protocol> {
    /// Walks run (fewer than asked if one found a counterexample).
    pub walks: usize,
    /// States checked, repeats included.
    pub states: usize,
    /// The longest walk, in steps.
    pub max_depth: usize,
    /// Per property, in model order.
    pub results: Vec<SimulatedProperty<P>>,
}

impl<P: Protocol> SimulateReport<P> {
    /// Whether some property was violated.
    pub fn failed(&self) -> bool {
        self.results.iter().any(SimulatedProperty::violated)
    }
}

/// SplitMix64: small, and the same sequence for a seed on every platform and version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        ((u128::from(self.next()) * n as u128) >> 64) as usize
    }
}

/// Random-walks `model`: `options.runs` walks of at most `options.depth` steps from the initial
/// state, each step chosen uniformly among the actions that lead to a state the walk has not
/// visited yet, inside the model's boundary; every property is checked in every state. A walk
/// ends at its depth or where no step is left; the simulation ends after the walk that violates
/// an always (or eventually) property. Deterministic for a given seed.
pub fn simulate<P: Protocol>(
    model: &SynodModel<P>,
    options: &SimulateOptions,
) -> SimulateReport<P> {
    let properties = model.properties();
    let mut found: Vec<Option<Discovery>> = properties.iter().map(|_| None).collect();
    let mut counts = WalkCounts::default();
    // The actor model has one initial state (`rebuild` replays from it).
    if let Some(init) = model.init_states().into_iter().next() {
        while counts.walks < options.runs {
            let seed = options.seed.wrapping_add(counts.walks as u64);
            counts.walks += 1;
            let walk = Walk {
                model,
                properties: &properties,
                seed,
                depth: options.depth,
            };
            if walk.run(init.clone(), &mut found, &mut counts) {
                break;
            }
        }
    }
    let results = properties
        .into_iter()
        .zip(found)
        .map(|(p, found)| SimulatedProperty {
            name: p.name,
            kind: p.expectation,
            found: found.map(|(seed, actions)| Found {
                seed,
                path: rebuild(model, &actions),
                actions,
            }),
        })
        .collect();
    SimulateReport {
        walks: counts.walks,
        states: counts.states,
        max_depth: counts.max_depth,
        results,
    }
}

/// A discovery of a walk: the walk's seed and its steps up to the state of the discovery.
type Discovery = (u64, Vec<Action>);

#[derive(Default)]
struct WalkCounts {
    walks: usize,
    states: usize,
    max_depth: usize,
}

/// One random walk.
struct Walk<'a, P: Protocol> {
    model: &'a SynodModel<P>,
    properties: &'a [stateright::Property<SynodModel<P>>],
    seed: u64,
    depth: usize,
}

impl<P: Protocol> Walk<'_, P> {
    /// Walks from `state`, recording in `found` (per property) the first counterexample and
    /// the shortest example; returns whether a property was violated.
    fn run(
        &self,
        mut state: SystemState<P>,
        found: &mut [Option<Discovery>],
        counts: &mut WalkCounts,
    ) -> bool {
        let model = self.model;
        let mut rng = SplitMix64(self.seed);
        let mut taken: Vec<Action> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut candidates = Vec::new();
        // Eventually properties that have not held yet on this walk.
        let mut awaiting: Vec<bool> = self
            .properties
            .iter()
            .map(|p| p.expectation == Expectation::Eventually)
            .collect();
        let mut violated = false;
        // Whether the walk ended because every step leads back into it or out of the boundary
        // (an eventually property that has not held by then never will on this walk).
        let mut stuck = false;
        if !model.within_boundary(&state) {
            return false;
        }
        seen.insert(fingerprint(&state));
        loop {
            counts.states += 1;
            counts.max_depth = counts.max_depth.max(taken.len());
            for (i, p) in self.properties.iter().enumerate() {
                let holds = (p.condition)(model, &state);
                match p.expectation {
                    Expectation::Always if !holds => {
                        found[i].get_or_insert_with(|| (self.seed, taken.clone()));
                        violated = true;
                    }
                    Expectation::Sometimes
                        if holds && found[i].as_ref().is_none_or(|f| taken.len() < f.1.len()) =>
                    {
                        found[i] = Some((self.seed, taken.clone()));
                    }
                    Expectation::Eventually if holds => awaiting[i] = false,
                    _ => {}
                }
            }
            if violated || taken.len() >= self.depth {
                break;
            }
            // A canonical order (the network is a hash set), so that a seed picks the same
            // steps in every process.
            model.actions(&state, &mut candidates);
            candidates.sort_unstable();
            // Uniform among the steps to a state new to this walk, inside the boundary. (Many
            // steps change nothing, such as a redundant delivery: stateright's simulation
            // ends a walk at the first it picks, which keeps walks short.)
            let next = loop {
                if candidates.is_empty() {
                    break None;
                }
                let action = candidates.swap_remove(rng.below(candidates.len()));
                if let Some(next) = model.next_state(&state, action.clone()) {
                    if model.within_boundary(&next) && seen.insert(fingerprint(&next)) {
                        break Some((action, next));
                    }
                }
            };
            candidates.clear();
            let Some((action, next)) = next else {
                stuck = true;
                break;
            };
            taken.push(action);
            state = next;
        }
        if stuck {
            for (i, _) in awaiting.iter().enumerate().filter(|(_, a)| **a) {
                found[i].get_or_insert_with(|| (self.seed, taken.clone()));
                violated = true;
            }
        }
        violated
    }
}

fn fingerprint<T: std::hash::Hash>(value: &T) -> u64 {
    use std::hash::Hasher;
    let mut hasher = std::hash::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// `actions` from the initial state, replayed in the faithful model, or else in `model` itself.
fn rebuild<P: Protocol>(
    model: &SynodModel<P>,
    actions: &[Action],
) -> Option<Path<SystemState<P>, Action>> {
    replay_faithfully(model, actions).or_else(|| {
        let init = model.init_states().into_iter().next()?;
        Path::from_actions(model, init, actions)
    })
}
