//! Membership-change paths as trace files, written by `synod-model traces export` beside the
//! fixed-membership ones as `membership-<scenario>--<target>.json` (docs/traces.md).
//!
//! A target's path is the shortest by the same deterministic breadth-first search and
//! minimisation as the fixed-membership export ([`crate::path_search`]), over this model's
//! actions, with path facts read from what each step output ([`facts`]) — or, where that search
//! is too large, the guided replacement of [`super::guided`]. Its steps and expectations are
//! [`super::trace::steps_of`]: the core's exact outputs of each step, the touched node's state,
//! and every running node's state at the end. Same model, same bytes.

use super::guided;
use super::model::{Action, MembershipModel};
use super::properties::chosen_in_last_generation;
use super::scenario::{MembershipConfig, Scenario};
use super::state::MembershipState;
use super::trace::{expect_every_node, steps_of, trace_config};
use crate::message::request_id;
use crate::path_search::{self, Found};
use stateright::Model;
use synod_check::trace::{Trace, TRACE_FORMAT_VERSION};
use synod_core::{Message, Outcome, Output, Timer};

/// Path facts a state alone does not show, folded in from each step's outputs.
pub mod facts {
    /// A node installed a newer configuration from a `Stale` refusal it received.
    pub const STALE_ADOPTED: u8 = 1;
    /// An install ended a node's round, and the node will retry in the new generation (the
    /// install's outputs set the backoff timer).
    pub const ROUND_ENDED_BY_INSTALL: u8 = 2;
    /// Client 0 (the writer) was answered `Written`.
    pub const WRITER_ANSWERED: u8 = 4;
    /// A client was answered `Written` after a node had adopted a configuration from a `Stale`.
    pub const WRITTEN_AFTER_ADOPTION: u8 = 8;
}

/// What a target's path must reach: a condition on the state and the path facts in `mask`.
#[derive(Clone, Copy)]
pub struct Goal {
    /// The path facts the condition reads (part of the search's visited key).
    pub mask: u8,
    /// Whether the target has been reached.
    pub condition: fn(&MembershipModel, &MembershipState, u8) -> bool,
}

/// How a target's path is found.
#[derive(Clone)]
pub enum PathTo {
    /// The shortest path in `cfg`'s model to `goal`, then minimised.
    Search {
        /// What is explored.
        cfg: MembershipConfig,
        /// What the path reaches.
        goal: Goal,
    },
    /// A guided walk ([`guided`]): its model and actions, minimised for `goal` if there is one
    /// (the walk exactly, otherwise).
    Walk {
        /// The walk.
        walk: fn() -> (MembershipModel, Vec<Action>),
        /// What the minimised path must still reach.
        goal: Option<Goal>,
    },
}

/// One membership trace to export.
#[derive(Clone)]
pub struct MembershipTarget {
    /// The file-name part after the scenario (`membership-<scenario>--<name>.json`).
    pub name: &'static str,
    /// What the trace shows.
    pub about: &'static str,
    /// How its path is found.
    pub path: PathTo,
}

/// A target that could not be exported.
#[derive(Debug)]
pub struct NotExported {
    /// The target.
    pub target: &'static str,
    /// Why: not reached within the search's state budget, or an always property failed.
    pub reason: String,
}

/// The path facts after `action` was taken in `before` (the step is taken again to read its
/// outputs).
pub fn step_facts(model: &MembershipModel, before: &MembershipState, action: &Action, f: u8) -> u8 {
    let Some((after, effects)) = model.apply(before, action) else {
        return f;
    };
    let mut f = f;
    let adopted = match action {
        Action::Deliver(e) => {
            let to = e.dst.0 as usize - 1;
            let stale = matches!(
                e.msg.clone().generation_of(),
                Some((_, Message::Stale { .. }))
            );
            stale && after.nodes[to].generation() > before.nodes[to].generation()
        }
        _ => false,
    };
    if adopted {
        f |= facts::STALE_ADOPTED;
    }
    let outputs = || effects.iter().flat_map(|(_, out)| out);
    let retries = outputs().any(|o| {
        matches!(
            o,
            Output::SetTimer {
                timer: Timer::Backoff,
                ..
            }
        )
    });
    if retries && (adopted || matches!(action, Action::Install(_))) {
        f |= facts::ROUND_ENDED_BY_INSTALL;
    }
    let written = |client: Option<usize>| {
        outputs().any(|o| {
            matches!(o, Output::Reply { request, result: Ok(Outcome::Written { .. }) }
                if client.is_none_or(|c| *request == request_id(c, 0)))
        })
    };
    if written(None) && f & facts::STALE_ADOPTED != 0 {
        f |= facts::WRITTEN_AFTER_ADOPTION;
    }
    if written(Some(0)) {
        f |= facts::WRITER_ANSWERED;
    }
    f
}

/// Every member of the last generation runs it, a value was chosen in it, and the writer was
/// answered.
fn written_in_last_generation(model: &MembershipModel, state: &MembershipState, f: u8) -> bool {
    let last = model.last_generation();
    let members = model.configuration(last).members();
    let all_there = members
        .iter()
        .all(|n| state.nodes[n.0 as usize - 1].generation() == Some(last));
    f & facts::WRITER_ANSWERED != 0 && all_there && chosen_in_last_generation(model, state)
}

/// A node adopted a newer configuration from a `Stale`, and then a write was answered.
fn stale_adopted_then_written(_: &MembershipModel, _: &MembershipState, f: u8) -> bool {
    f & facts::WRITTEN_AFTER_ADOPTION != 0
}

/// An install ended the writer's round, and its retry in the new generation was answered.
fn retried_after_install(_: &MembershipModel, _: &MembershipState, f: u8) -> bool {
    let both = facts::ROUND_ENDED_BY_INSTALL | facts::WRITER_ANSWERED;
    f & both == both
}

/// The grow scenario with `clients` clients and `rounds` attempts per request.
fn grow(clients: usize, rounds: u32) -> MembershipConfig {
    MembershipConfig {
        clients,
        rounds,
        ..MembershipConfig::new(Scenario::Grow)
    }
}

fn guided_replacement() -> (MembershipModel, Vec<Action>) {
    let walk = guided::replacement(None);
    (walk.model, walk.path)
}

/// The exported membership targets (documented in `docs/traces.md`).
pub fn membership_targets() -> Vec<MembershipTarget> {
    vec![
        MembershipTarget {
            name: "written-in-last-generation",
            about: "every node ends in generation 2 (a lagging node installs it directly, node 4 joins with it); the put is chosen in generation 2 and answered",
            path: PathTo::Search {
                cfg: grow(1, 1),
                goal: Goal {
                    mask: facts::WRITER_ANSWERED,
                    condition: written_in_last_generation,
                },
            },
        },
        MembershipTarget {
            name: "stale-configuration-adopted",
            about: "node 2 lags: its put:b goes out in generation 0 after node 1 installed generation 1; node 1 refuses with Stale, node 2 installs generation 1 from it (its round ends, its backoff starts), retries in generation 1, and its put is chosen and answered",
            path: PathTo::Walk {
                walk: guided::stale_adoption,
                goal: Some(Goal {
                    mask: facts::STALE_ADOPTED | facts::WRITTEN_AFTER_ADOPTION,
                    condition: stale_adopted_then_written,
                }),
            },
        },
        MembershipTarget {
            name: "round-ended-by-install",
            about: "the writer's round in generation 0 is ended by the install of generation 1 (its round timer cancelled, its backoff set); it retries in generation 1 and its put is chosen and answered",
            path: PathTo::Search {
                cfg: grow(1, 2),
                goal: Goal {
                    mask: facts::ROUND_ENDED_BY_INSTALL | facts::WRITER_ANSWERED,
                    condition: retried_after_install,
                },
            },
        },
        MembershipTarget {
            name: "catch-up-then-read",
            about: "the put is chosen by nodes 1 and 3 in generation 0 and node 3 crashes for good; node 4 joins the accept set (generation 1) and the prepare set (generation 2); the admin's catch-up read at node 4 chooses 'a' again through nodes 1, 2 and 4; node 3 leaves the prepare set (generation 3) and the accept set (generation 4); a read at node 2 that hears only node 4 returns 'a'",
            path: PathTo::Walk {
                walk: guided_replacement,
                goal: None,
            },
        },
    ]
}

/// The trace file of `actions` in `model`: every step with its outputs and the touched node's
/// state, and every running node's state at the end.
pub fn trace_of(
    model: &MembershipModel,
    name: &str,
    description: &str,
    actions: &[Action],
) -> Trace<String> {
    let mut state = model.init_states().remove(0);
    let mut steps = Vec::new();
    for action in actions {
        let (after, effects) = model
            .apply(&state, action)
            .expect("an exported path replays");
        steps.extend(steps_of(model, &state, action, &after, &effects));
        state = after;
    }
    expect_every_node(&mut steps, &state);
    Trace {
        version: TRACE_FORMAT_VERSION,
        name: name.to_string(),
        description: description.to_string(),
        config: trace_config(model),
        steps,
    }
}

/// `actions` in `model` with every step dropped that `goal` can spare.
fn minimised(model: &MembershipModel, goal: Goal, actions: Vec<Action>) -> Vec<Action> {
    let facts = |s: &MembershipState, a: &Action, f: u8| step_facts(model, s, a, f);
    let reached = |s: &MembershipState, f: u8| (goal.condition)(model, s, f & goal.mask);
    path_search::minimise(model, facts, actions, reached)
}

/// The path of `target`, the model it runs in, and how it was found (for the description).
fn path_of(
    target: &MembershipTarget,
) -> Result<(MembershipModel, Vec<Action>, &'static str), NotExported> {
    let not_exported = |reason: String| NotExported {
        target: target.name,
        reason,
    };
    match &target.path {
        PathTo::Search { cfg, goal } => {
            let model = MembershipModel::new(cfg.clone());
            let found = path_search::search(
                &model,
                |s, a, f| step_facts(&model, s, a, f) & goal.mask,
                |s, f| (goal.condition)(&model, s, f),
            );
            match found {
                Ok(Found::Target(actions)) => {
                    let actions = minimised(&model, *goal, actions);
                    Ok((model, actions, "Shortest by BFS, then minimised."))
                }
                Ok(Found::Counterexample(property, actions)) => Err(not_exported(format!(
                    "'{property}' fails after {} steps on the way",
                    actions.len()
                ))),
                Err(states) => Err(not_exported(format!("not reached within {states} states"))),
            }
        }
        PathTo::Walk { walk, goal } => {
            let (model, actions) = walk();
            match goal {
                None => Ok((
                    model,
                    actions,
                    "A guided walk (docs/model.md, Membership change).",
                )),
                Some(goal) => {
                    let actions = minimised(&model, *goal, actions);
                    let end = path_search::replay(
                        &model,
                        |s, a, f| step_facts(&model, s, a, f),
                        &actions,
                    );
                    if !end.is_some_and(|(s, f)| (goal.condition)(&model, &s, f & goal.mask)) {
                        return Err(not_exported("the guided walk does not reach it".into()));
                    }
                    Ok((model, actions, "A guided walk, then minimised."))
                }
            }
        }
    }
}

/// Every exported membership trace, in a fixed order, as (file name, trace).
pub fn export_all() -> Result<Vec<(String, Trace<String>)>, NotExported> {
    let mut files = Vec::new();
    for target in membership_targets() {
        let (model, actions, how) = path_of(&target)?;
        let name = format!("membership-{}--{}", model.cfg.scenario.name(), target.name);
        let description = format!(
            "Exported by synod-model traces export from the membership model ({}): {}. {how}",
            model.cfg.describe(),
            target.about
        );
        let trace = trace_of(&model, &name, &description, &actions);
        files.push((format!("{name}.json"), trace));
    }
    Ok(files)
}
