//! Exporting model paths as trace files (`synod-model traces export`): for a documented, small
//! set of configurations, one trace per reachability target — the model's "sometimes"
//! properties plus a few named scenarios — and one per counterexample, if any; then the
//! membership change's traces ([`crate::membership::trace_export`]).
//!
//! Each trace is found by a deterministic, single-threaded breadth-first search over
//! `Model::actions` / `next_state` (actions sorted, so the same path every run; stateright's own
//! discoveries are not used: they are overwritten and vary between threads), then **minimised**:
//! single steps are dropped while the remaining actions still replay (every action enabled,
//! inside the model's boundary) and the target still holds at the end, until no single step can
//! be removed. Each step carries the core's exact outputs and the touched node's state; the last
//! step carries every node's state. Same model, same bytes.

use crate::actor::ActorState;
use crate::config::{node_id, ModelConfig, NetworkKind, Value};
use crate::counterexample::{slug, to_trace};
use crate::ghost::shortcut;
use crate::message::Action;
use crate::message::ModelMsg;
use crate::model::{build, SynodModel};
use crate::path_search;
pub use crate::path_search::{Found, STATE_BUDGET};
use crate::properties::{history, SystemState};
use crate::script::parse_scripts;
use crate::step_outputs::{initial_request_outputs, step_outputs};
use crate::{ConfigError, Correct};
use stateright::actor::ActorModelAction;
use stateright::{Model, Path};
use std::path::{Path as FsPath, PathBuf};
use synod_check::trace::{Expectation, NodeState as TraceNodeState, Trace};
use synod_core::{FastPaths, Message, Outcome};
use thiserror::Error;

/// The model every export runs (the shipped core).
pub type ExportModel = SynodModel<Correct>;
/// Its state.
pub type ExportState = SystemState<Correct>;

/// Path facts a state alone does not show, accumulated along the search path.
pub mod flags {
    /// A proposer's `Prepare` or `Accept` was lost (a `Drop` step) before any value was chosen.
    pub const DROP: u8 = 1;
    /// A `Reject` was delivered.
    pub const REJECT: u8 = 2;
    /// A `Round` timer fired.
    pub const ROUND_TIMEOUT: u8 = 4;
    /// A node that was not a proposer crashed after it had promised something.
    pub const ACCEPTOR_CRASH_MID_ROUND: u8 = 8;
    /// A proposer crashed in its accept phase while its own ballot was accepted by fewer than a
    /// phase-2 quorum.
    pub const PROPOSER_CRASH_PARTIAL_ACCEPT: u8 = 16;
}

/// How a target is recognised.
#[derive(Clone, Copy)]
pub enum Goal {
    /// One of the model's own properties (a "sometimes" property: reached when it holds).
    Property(&'static str),
    /// A named scenario: a condition on the state and the path's [`flags`] (those in `mask`).
    Scenario {
        /// The path facts the condition reads (part of the search's visited key).
        mask: u8,
        /// Whether the scenario has been reached.
        condition: fn(&ExportModel, &ExportState, u8) -> bool,
    },
}

/// One trace to export from a configuration.
#[derive(Clone)]
pub struct Target {
    /// The file-name part (`<config>--<name>.json`).
    pub name: &'static str,
    /// What the trace shows.
    pub about: &'static str,
    /// How it is recognised.
    pub goal: Goal,
}

/// A configuration to export from, with its targets.
#[derive(Clone)]
pub struct ExportConfig {
    /// The file-name prefix.
    pub name: &'static str,
    /// What is special about it.
    pub about: &'static str,
    /// The model configuration.
    pub cfg: ModelConfig,
    /// What to export from it.
    pub targets: Vec<Target>,
}

/// Why an export failed.
#[derive(Debug, Error)]
pub enum ExportError {
    /// A built-in configuration is invalid (a bug in this file).
    #[error("configuration {0}: {1}")]
    Config(&'static str, ConfigError),
    /// The search did not reach a target within its state budget.
    #[error("configuration {config}: target '{target}' not reached within {states} states")]
    Unreached {
        /// The configuration.
        config: &'static str,
        /// The target.
        target: &'static str,
        /// States explored.
        states: usize,
    },
    /// A named property does not exist in the model.
    #[error("configuration {0}: the model has no property '{1}'")]
    NoProperty(&'static str, &'static str),
    /// A membership target could not be exported.
    #[error("membership target '{target}': {reason}")]
    Membership {
        /// The target.
        target: &'static str,
        /// Why.
        reason: String,
    },
    /// Writing a file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn property(name: &'static str, about: &'static str) -> Target {
    Target {
        name,
        about,
        goal: Goal::Property(name),
    }
}

fn scenario(
    name: &'static str,
    about: &'static str,
    mask: u8,
    condition: fn(&ExportModel, &ExportState, u8) -> bool,
) -> Target {
    Target {
        name,
        about,
        goal: Goal::Scenario { mask, condition },
    }
}

fn node(state: &ExportState, index: usize) -> Option<&crate::actor::NodeState> {
    match state.actor_states.get(index).map(|s| &**s) {
        Some(ActorState::Node(n)) => Some(n),
        _ => None,
    }
}

fn value_chosen(model: &ExportModel, state: &ExportState) -> bool {
    history(state).chosen(model.cfg.q2()).next().is_some()
}

/// Proposer n1 answered its caller `Chosen`: a complete round, commit included.
fn proposer_replied(_: &ExportModel, state: &ExportState, _: u8) -> bool {
    matches!(
        node(state, 0).and_then(|n| n.ghost.reply.as_ref()),
        Some(Ok(Outcome::Chosen { .. }))
    )
}

/// An acceptor both promised and rejected the same ballot to the same proposer: it received
/// that Prepare twice, and the second copy (after a higher promise) was rejected.
fn prepare_delivered_twice(_: &ExportModel, state: &ExportState, _: u8) -> bool {
    let envelopes: Vec<_> = state.network.iter_deliverable().collect();
    envelopes.iter().any(|p| {
        let ModelMsg::Peer(Message::Promise { ballot, .. }) = p.msg else {
            return false;
        };
        envelopes.iter().any(|r| {
            r.src == p.src
                && r.dst == p.dst
                && matches!(r.msg, ModelMsg::Peer(Message::Reject { ballot: b, .. }) if b == ballot)
        })
    })
}

fn lost_then_replied(model: &ExportModel, state: &ExportState, f: u8) -> bool {
    f & flags::DROP != 0 && proposer_replied(model, state, f)
}

/// A value chosen at a second-round ballot after a Reject, with no round timer involved.
fn reject_retry_chosen(model: &ExportModel, state: &ExportState, f: u8) -> bool {
    f & flags::REJECT != 0
        && f & flags::ROUND_TIMEOUT == 0
        && history(state)
            .chosen(model.cfg.q2())
            .any(|(ballot, _)| ballot.round >= 2)
}

fn acceptor_restart_mid_round(model: &ExportModel, state: &ExportState, f: u8) -> bool {
    f & flags::ACCEPTOR_CRASH_MID_ROUND != 0 && history(state).chosen_with_restarted(model.cfg.q2())
}

fn proposer_crash_partial_accept(model: &ExportModel, state: &ExportState, f: u8) -> bool {
    f & flags::PROPOSER_CRASH_PARTIAL_ACCEPT != 0 && value_chosen(model, state)
}

fn cas_mismatch(_: &ExportModel, state: &ExportState, _: u8) -> bool {
    state.network.iter_deliverable().any(|e| {
        matches!(
            e.msg,
            ModelMsg::Reply {
                result: Ok(Outcome::CasMismatch { .. }),
                ..
            }
        )
    })
}

/// The issue-11 path: n1's `ProposeOnce('a')` may have been chosen, the other client's `Delete`
/// answered with the previous `'a'`, and n1's retry finished the delete's empty value at its own
/// ballot and answered `Indeterminate` — never `won: true` for a second `'a'`.
fn retried_once_after_delete(model: &ExportModel, state: &ExportState, _: u8) -> bool {
    let replies: Vec<_> = state
        .network
        .iter_deliverable()
        .filter_map(|e| match &e.msg {
            ModelMsg::Reply { result, .. } => Some(result.clone()),
            _ => None,
        })
        .collect();
    let deleted_a = replies.contains(&Ok(Outcome::Written {
        previous: Some('a'),
    }));
    let indeterminate = replies.contains(&Err(synod_core::RequestError::Indeterminate));
    let finished_empty = history(state)
        .chosen(model.cfg.q2())
        .any(|(ballot, value)| ballot.node == synod_core::NodeId(1) && value.is_none());
    deleted_a && indeterminate && finished_empty
}

/// Every client's every operation was answered, and no answer is an error.
fn all_answered(model: &ExportModel, state: &ExportState, _: u8) -> bool {
    let crate::Mode::Register { scripts } = &model.cfg.mode else {
        return false;
    };
    let failed = state
        .network
        .iter_deliverable()
        .any(|e| matches!(e.msg, ModelMsg::Reply { result: Err(_), .. }));
    if failed {
        return false;
    }
    scripts.iter().enumerate().all(|(i, ops)| {
        matches!(
            state.actor_states.get(model.cfg.nodes + i).map(|s| &**s),
            Some(ActorState::Client(c)) if c.answered as usize == ops.len()
        )
    })
}

/// Every operation answered without error, and some proposer took the shortcut steps `bits`
/// ([`crate::ghost::shortcut`]) on the way.
fn answered_after(model: &ExportModel, state: &ExportState, bits: u8) -> bool {
    let took = (0..model.cfg.nodes)
        .filter_map(|i| node(state, i))
        .any(|n| n.ghost.shortcuts & bits != 0);
    took && all_answered(model, state, 0)
}

fn fast_write_answered(model: &ExportModel, state: &ExportState, _: u8) -> bool {
    answered_after(model, state, shortcut::FAST_WRITE)
}

/// A one-round-trip write got no quorum in time, fell back to a full round and still answered.
fn write_fell_back_answered(model: &ExportModel, state: &ExportState, _: u8) -> bool {
    answered_after(model, state, shortcut::WRITE_FELL_BACK)
}

fn fast_read_answered(model: &ExportModel, state: &ExportState, _: u8) -> bool {
    answered_after(model, state, shortcut::FAST_READ)
}

/// A one-round-trip read met differing reports (no timer involved), fell back to a full round
/// and answered.
fn read_fell_back_answered(model: &ExportModel, state: &ExportState, f: u8) -> bool {
    f & flags::ROUND_TIMEOUT == 0 && answered_after(model, state, shortcut::READ_FELL_BACK)
}

/// The exported configurations and their targets (documented in `docs/traces.md`).
pub fn export_configs() -> Vec<ExportConfig> {
    let scripts = |text: &str| parse_scripts(text).expect("built-in scripts parse");
    vec![
        ExportConfig {
            name: "consensus-3n-1p",
            about: "3 nodes, n1 proposes 'a', 1 round, duplicating network",
            cfg: ModelConfig::consensus(3, 1, 1),
            targets: vec![scenario(
                "plain-choice",
                "a plain choice: n1 prepares, gets promises, is accepted, learns and replies Chosen",
                0,
                proposer_replied,
            )],
        },
        ExportConfig {
            name: "consensus-3n-2p",
            about: "3 nodes, n1 proposes 'a' and n2 'b', 1 round, duplicating network",
            cfg: ModelConfig::consensus(3, 2, 1),
            targets: vec![
                property("value chosen", "the shortest path to a chosen value"),
                property(
                    "two proposers accept",
                    "competing proposers: both reach the accept phase",
                ),
                property(
                    "minority value recovered",
                    "a value accepted by a minority is recovered and chosen at a higher ballot of the other proposer",
                ),
                scenario(
                    "duplicate-prepare",
                    "duplicate delivery: an acceptor receives the same Prepare twice; the second copy, after a higher promise, is rejected",
                    0,
                    prepare_delivered_twice,
                ),
            ],
        },
        ExportConfig {
            name: "consensus-3n-2p-2r",
            about: "3 nodes, n1 proposes 'a' and n2 'b', 2 rounds each, duplicating network",
            cfg: ModelConfig::consensus(3, 2, 2),
            targets: vec![scenario(
                "reject-retry",
                "a Reject ends a round, and the retry at a higher ballot (no round timer) gets a value chosen",
                flags::REJECT | flags::ROUND_TIMEOUT,
                reject_retry_chosen,
            )],
        },
        ExportConfig {
            name: "consensus-3n-1p-lossy",
            about: "3 nodes, n1 proposes 'a', 1 round, non-duplicating lossy network",
            cfg: ModelConfig {
                network: NetworkKind::UnorderedNonDuplicating,
                lossy: true,
                ..ModelConfig::consensus(3, 1, 1)
            },
            targets: vec![scenario(
                "message-lost",
                "message loss: a Prepare or Accept is lost, and the proposer still gets its value chosen through the other acceptor and replies",
                flags::DROP,
                lost_then_replied,
            )],
        },
        ExportConfig {
            name: "consensus-3n-2p-crash1",
            about: "3 nodes, n1 proposes 'a' and n2 'b', 1 round, duplicating network, at most 1 crash",
            cfg: ModelConfig {
                crashes: 1,
                ..ModelConfig::consensus(3, 2, 1)
            },
            targets: vec![
                property(
                    "chosen after restart",
                    "a value is chosen by a quorum including an acceptor that crashed and restarted",
                ),
                scenario(
                    "acceptor-restart-mid-round",
                    "an acceptor crashes after promising, restarts from its durable promise and helps choose a value",
                    flags::ACCEPTOR_CRASH_MID_ROUND,
                    acceptor_restart_mid_round,
                ),
                scenario(
                    "proposer-crash-partial-accept",
                    "a proposer crashes in its accept phase with its value accepted by a minority; a value is still chosen",
                    flags::PROPOSER_CRASH_PARTIAL_ACCEPT,
                    proposer_crash_partial_accept,
                ),
            ],
        },
        ExportConfig {
            name: "flexible-4n-q1-3-q2-2",
            about: "4 nodes, flexible quorums q1=3 q2=2, n1 proposes 'a' and n2 'b', 1 round",
            cfg: ModelConfig {
                q1: Some(3),
                q2: Some(2),
                ..ModelConfig::consensus(4, 2, 1)
            },
            targets: vec![
                property(
                    "value chosen",
                    "a value chosen by a phase-2 quorum of two",
                ),
                property(
                    "minority value recovered",
                    "a value accepted below the phase-2 quorum is recovered through a phase-1 quorum of three",
                ),
            ],
        },
        ExportConfig {
            name: "register-3n-put-cas",
            about: "register mode, 3 nodes: client 1 at n1 puts 'a', client 2 at n2 cas(empty -> 'b'), 1 round",
            cfg: ModelConfig::register(3, scripts("put:a;cas:-:b"), 1),
            targets: vec![
                property("two proposers accept", "a put and a cas compete"),
                property(
                    "minority value recovered",
                    "a register write accepted by a minority is recovered by the other client's operation",
                ),
                scenario(
                    "all-answered",
                    "both clients answered without error: the put Written, the cas (after recovering the put's value) a mismatch",
                    0,
                    all_answered,
                ),
                scenario(
                    "cas-mismatch",
                    "the put wins and the cas is answered with a mismatch",
                    0,
                    cas_mismatch,
                ),
            ],
        },
        ExportConfig {
            name: "register-3n-once-delete",
            about: "register mode, 3 nodes: client 1 at n1 propose-once 'a' (2 rounds), client 2 at n2 deletes (1 round)",
            cfg: ModelConfig {
                rounds_by_node: vec![2, 1],
                ..ModelConfig::register(3, scripts("once:a;delete"), 1)
            },
            targets: vec![scenario(
                "retried-once-after-delete",
                "n1's 'a' may have been chosen; the delete reports previous 'a'; n1's retry finds the empty register above its own proposal, finishes it unchanged and answers Indeterminate instead of setting 'a' a second time",
                0,
                retried_once_after_delete,
            )],
        },
        ExportConfig {
            name: "register-3n-put-read",
            about: "register mode, 3 nodes: client 1 at n1 puts 'a', client 2 at n2 reads, 1 round",
            cfg: ModelConfig::register(3, scripts("put:a;read"), 1),
            targets: vec![scenario(
                "all-answered",
                "a put answered Written, then the other client's read at another node answered with its value",
                0,
                all_answered,
            )],
        },
        ExportConfig {
            name: "register-3n-put-put-fast",
            about: "register mode, 3 nodes, shortcuts on: client 1 at n1 puts 'a' then 'b', 1 round",
            cfg: ModelConfig::register(3, scripts("put:a,put:b"), 1).with_fast(FastPaths::ALL),
            targets: vec![
                scenario(
                    "fast-write",
                    "the first put's Accept carries the next ballot; the second put skips phase 1 and is chosen after one round trip",
                    0,
                    fast_write_answered,
                ),
                scenario(
                    "fast-write-fallback",
                    "the second put's one-round-trip Accept gets no quorum before its round timer fires; it falls back to a full round at a higher ballot and is answered",
                    0,
                    write_fell_back_answered,
                ),
            ],
        },
        ExportConfig {
            name: "register-3n-put-read-fast",
            about: "register mode, 3 nodes, shortcuts on: client 1 at n1 puts 'a' then reads, 1 round",
            cfg: ModelConfig::register(3, scripts("put:a,read"), 1).with_fast(FastPaths::ALL),
            targets: vec![
                scenario(
                    "fast-read",
                    "the read asks a read quorum; both report the put's proposal, and the read answers with no round and nothing persisted",
                    0,
                    fast_read_answered,
                ),
                scenario(
                    "read-fallback",
                    "the read's reports differ (an acceptor missed the put's Accept), so it falls back to a full round and answers",
                    flags::ROUND_TIMEOUT,
                    read_fell_back_answered,
                ),
            ],
        },
    ]
}

/// The path facts after `action` was taken in `before`.
pub fn step_flags(model: &ExportModel, before: &ExportState, action: &Action, f: u8) -> u8 {
    match action {
        ActorModelAction::Drop(env)
            if matches!(
                env.msg,
                ModelMsg::Peer(Message::Prepare { .. } | Message::Accept { .. })
            ) && !value_chosen(model, before) =>
        {
            f | flags::DROP
        }
        ActorModelAction::Deliver {
            msg: ModelMsg::Peer(Message::Reject { .. }),
            ..
        } => f | flags::REJECT,
        ActorModelAction::Timeout(_, synod_core::Timer::Round) => f | flags::ROUND_TIMEOUT,
        ActorModelAction::Crash(id) => {
            let i = usize::from(*id);
            let Some(n) = node(before, i) else {
                return f;
            };
            let proposer = i < model.cfg.proposer_count();
            let mut f = f;
            if !proposer && n.durable.promised != synod_core::Ballot::ZERO {
                f |= flags::ACCEPTOR_CRASH_MID_ROUND;
            }
            if let synod_core::Phase::Accepting { proposal, .. } = n.node.proposer().phase() {
                let votes = history(before).count(proposal.ballot, proposal.value);
                if proposer && votes < model.cfg.q2() {
                    f |= flags::PROPOSER_CRASH_PARTIAL_ACCEPT;
                }
            }
            f
        }
        _ => f,
    }
}

fn reached(model: &ExportModel, goal: &Goal, state: &ExportState, f: u8) -> bool {
    match goal {
        Goal::Property(name) => model
            .properties()
            .iter()
            .find(|p| p.name == *name)
            .is_some_and(|p| (p.condition)(model, state)),
        Goal::Scenario { condition, .. } => condition(model, state, f),
    }
}

fn mask(goal: &Goal) -> u8 {
    match goal {
        Goal::Property(_) => 0,
        Goal::Scenario { mask, .. } => *mask,
    }
}

/// The path facts of `goal`'s search after `action` was taken in `before`.
fn goal_flags(
    model: &ExportModel,
    goal: &Goal,
    before: &ExportState,
    action: &Action,
    f: u8,
) -> u8 {
    step_flags(model, before, action, f) & mask(goal)
}

/// Breadth-first search from the initial state for `goal`, checking every always property on
/// every visited state. Deterministic: actions are expanded in sorted order.
pub fn search(model: &ExportModel, goal: &Goal) -> Result<Found<Action>, usize> {
    path_search::search(
        model,
        |s, a, f| goal_flags(model, goal, s, a, f),
        |s, f| reached(model, goal, s, f),
    )
}

/// Replays `actions` from the initial state: `Some(final state, flags)` if every action is
/// enabled and every state inside the model's boundary.
pub fn replay(model: &ExportModel, actions: &[Action]) -> Option<(ExportState, u8)> {
    path_search::replay(model, |s, a, f| step_flags(model, s, a, f), actions)
}

/// Drops single steps while the remaining ones still replay and `goal` still holds at the end,
/// until no single step can be removed.
pub fn minimise(model: &ExportModel, goal: &Goal, actions: Vec<Action>) -> Vec<Action> {
    minimise_by(model, actions, |s, f| {
        reached(model, goal, s, f & mask(goal))
    })
}

/// Whether `actions` replay and reach `goal` at their end.
pub fn reaches(model: &ExportModel, goal: &Goal, actions: &[Action]) -> bool {
    replay(model, actions).is_some_and(|(s, f)| reached(model, goal, &s, f & mask(goal)))
}

/// Drops single steps while the rest still replays and `end` holds at its final state.
fn minimise_by(
    model: &ExportModel,
    actions: Vec<Action>,
    end: impl Fn(&ExportState, u8) -> bool,
) -> Vec<Action> {
    path_search::minimise(model, |s, a, f| step_flags(model, s, a, f), actions, end)
}

/// Like [`minimise`] for a counterexample: the property must still be violated at the end.
fn minimise_counterexample(
    model: &ExportModel,
    name: &'static str,
    actions: Vec<Action>,
) -> Vec<Action> {
    match model.properties().into_iter().find(|p| p.name == name) {
        Some(p) => minimise_by(model, actions, |s, _| !(p.condition)(model, s)),
        None => actions,
    }
}

/// The trace file of `actions`, with every step's outputs and, at the end, every node's state.
pub fn trace_of(
    model: &ExportModel,
    name: &str,
    description: &str,
    actions: &[Action],
) -> Trace<String> {
    let init = model.init_states().remove(0);
    let path = Path::from_actions(model, init, actions).expect("a replayed path");
    let mut trace = to_trace(model, name, description, &path);
    let to_s = |c: Value| c.to_string();
    let mut outputs = Vec::new();
    if let crate::Mode::Consensus { proposers } = model.cfg.mode {
        for i in 0..proposers {
            outputs.push(initial_request_outputs(model, i));
        }
    }
    let steps = path.clone().into_vec();
    for (state, action) in &steps {
        let Some(action) = action else { continue };
        let exported = match action {
            ActorModelAction::Deliver { msg, .. } => !matches!(msg, ModelMsg::Reply { .. }),
            ActorModelAction::Drop(env) => matches!(env.msg, ModelMsg::Peer(_)),
            ActorModelAction::SelectRandom { .. } => false,
            _ => true,
        };
        if exported {
            outputs.push(step_outputs(model, state, action));
        }
    }
    debug_assert_eq!(outputs.len(), trace.steps.len());
    for (step, out) in trace.steps.iter_mut().zip(outputs) {
        let Some(out) = out else { continue };
        let expect = step.expect.get_or_insert_with(|| Expectation {
            outputs: None,
            nodes: Default::default(),
        });
        expect.outputs = Some(out.into_iter().map(|o| o.map_value(&to_s)).collect());
    }
    if let Some(last) = trace.steps.last_mut() {
        let final_state = path.last_state();
        let expect = last.expect.get_or_insert_with(|| Expectation {
            outputs: None,
            nodes: Default::default(),
        });
        for i in 0..model.cfg.nodes {
            if let Some(n) = node(final_state, i) {
                expect
                    .nodes
                    .insert(node_id(i), TraceNodeState::of(&n.node).map_value(&to_s));
            }
        }
    }
    trace
}

/// Every exported trace — the fixed-membership configurations', then the membership change's —
/// in a fixed order, as (file name, trace).
pub fn export_all() -> Result<Vec<(String, Trace<String>)>, ExportError> {
    let mut files = Vec::new();
    for ec in export_configs() {
        let model = build(&ec.cfg, Correct)
            .map_err(|e| ExportError::Config(ec.name, e))?
            .faithful();
        for target in &ec.targets {
            if let Goal::Property(p) = target.goal {
                if !model.properties().iter().any(|q| q.name == p) {
                    return Err(ExportError::NoProperty(ec.name, p));
                }
            }
            let (name, description, actions) = match search(&model, &target.goal) {
                Ok(Found::Target(actions)) => (
                    format!("{}--{}", ec.name, slug(target.name)),
                    format!(
                        "Exported by synod-model traces export from {} ({}): {}. Shortest by BFS, then minimised.",
                        ec.name, ec.about, target.about
                    ),
                    minimise(&model, &target.goal, actions),
                ),
                Ok(Found::Counterexample(p, actions)) => (
                    format!("{}--counterexample-{}", ec.name, slug(p)),
                    format!(
                        "Counterexample to '{p}' exported by synod-model traces export from {} ({}), minimised.",
                        ec.name, ec.about
                    ),
                    minimise_counterexample(&model, p, actions),
                ),
                Err(states) => {
                    return Err(ExportError::Unreached {
                        config: ec.name,
                        target: target.name,
                        states,
                    })
                }
            };
            let trace = trace_of(&model, &name, &description, &actions);
            files.push((format!("{name}.json"), trace));
        }
    }
    let membership =
        crate::membership::trace_export::export_all().map_err(|e| ExportError::Membership {
            target: e.target,
            reason: e.reason,
        })?;
    files.extend(membership);
    Ok(files)
}

/// Writes every exported trace into `dir` (created if needed); returns the files written.
pub fn export_to(dir: &FsPath) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::Io {
        path: dir.to_owned(),
        source,
    })?;
    let mut written = Vec::new();
    for (file, trace) in export_all()? {
        let path = dir.join(file);
        std::fs::write(&path, trace.to_json()).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
        written.push(path);
    }
    Ok(written)
}
