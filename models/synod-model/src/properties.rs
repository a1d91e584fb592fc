//! The properties every check evaluates, each a plain function of the whole system state.
//!
//! **Always** (safety; PASS only when the whole state space was explored):
//!
//! * `agreement` — at most one value is ever chosen (consensus mode). *Chosen* means a phase-2
//!   quorum accepted the value at one ballot, from the ghost history of every acceptance. In
//!   register mode values are chosen again and again by design, so there agreement means at most
//!   one value per ballot, and the order of writes is judged by `linearizable`.
//! * `validity` — every value any acceptor ever accepted was proposed by somebody (a proposer's
//!   own value, a client's `Put`/`Cas` value, or the empty register in register mode).
//! * `learned is chosen` — every proposal a learner learned was chosen, at that ballot and with
//!   that value; in consensus mode every `Chosen` reply also reports the chosen value.
//! * `linearizable` (register mode) — the clients' operations, with their real-time order, can be
//!   explained by one register executing them one at a time. `Indeterminate` and unanswered
//!   requests may or may not have happened; `Busy`/`Exhausted` did not.
//!
//! **Sometimes** (reachability: proof the interesting cases are really explored; in an
//! exhaustive run, never finding an example is a FAIL):
//!
//! * `value chosen` — some value gets chosen.
//! * `two proposers accept` — two different proposers both reach the accept phase.
//! * `minority value recovered` — a value accepted at some ballot by fewer than a phase-2
//!   quorum is later chosen at a higher ballot of another proposer (the seed's T5–T8).
//! * `chosen after restart` — a value is chosen by a quorum that includes an acceptor which had
//!   crashed and restarted before accepting it (only with `--crashes`).
//!
//! With the one-round-trip shortcuts on (`--fast`, register mode; recorded per node in the ghost
//! by [`crate::actor::shortcuts_taken`]):
//!
//! * `fast write` — a request took the one-round-trip write: the step that took it sent its
//!   `Accept` at once, no `Prepare` (when some client has a second operation that can use it).
//! * `fast write fell back` — such a write was refused or timed out, and a full round started.
//! * `fast read` — a read was answered from `Query` / `Report` alone (when some client reads).
//! * `read fell back` — a one-round-trip read met a different report or timed out, and a full
//!   round started.

use crate::actor::{ActorState, SynodActor};
use crate::client_history::ClientHistory;
use crate::config::{node_id, Mode, ModelConfig, Value};
use crate::ghost::{shortcut, AcceptHistory, Ghost};
use crate::Protocol;
use stateright::actor::ActorModelState;
use stateright::{Expectation, Model, Property};
use std::collections::BTreeSet;
use std::sync::Arc;
use synod_core::{Node, Operation, Outcome};

/// The model's system state.
pub type SystemState<P> = ActorModelState<SynodActor<P>, ClientHistory>;

/// What a property may read of the model it judges: its configuration. (A trait, so that this
/// module need not name the model type, which lists these properties.)
pub trait Checked {
    /// The configuration being checked.
    fn config(&self) -> &ModelConfig;
}

/// A property's signature.
pub type Condition<M, P> = fn(&M, &SystemState<P>) -> bool;

/// [`properties_for`] `cfg` as stateright properties of model `M`.
pub fn properties_of<P: Protocol, M>(cfg: &ModelConfig) -> Vec<Property<M>>
where
    M: Checked + Model<State = SystemState<P>>,
{
    properties_for::<P, M>(cfg)
        .into_iter()
        .map(|(expectation, name, condition)| Property {
            expectation,
            name,
            condition,
        })
        .collect()
}

/// The properties that apply to `cfg`, in report order.
pub fn properties_for<P: Protocol, M: Checked>(
    cfg: &ModelConfig,
) -> Vec<(Expectation, &'static str, Condition<M, P>)> {
    let mut all: Vec<(Expectation, &'static str, Condition<M, P>)> = vec![
        (Expectation::Always, "agreement", agreement::<P, M>),
        (Expectation::Always, "validity", validity::<P, M>),
        (
            Expectation::Always,
            "learned is chosen",
            learned_is_chosen::<P, M>,
        ),
    ];
    if cfg.is_register() {
        all.push((Expectation::Always, "linearizable", linearizable::<P, M>));
    }
    all.push((Expectation::Sometimes, "value chosen", value_chosen::<P, M>));
    if cfg.proposer_count() >= 2 {
        all.push((
            Expectation::Sometimes,
            "two proposers accept",
            two_proposers_accept::<P, M>,
        ));
    }
    if cfg.proposer_count() >= 2 && recovers_values(cfg) {
        all.push((
            Expectation::Sometimes,
            "minority value recovered",
            minority_value_recovered::<P, M>,
        ));
    }
    if cfg.crashes > 0 {
        all.push((
            Expectation::Sometimes,
            "chosen after restart",
            chosen_after_restart::<P, M>,
        ));
    }
    if takes_fast_writes(cfg) {
        all.push((Expectation::Sometimes, "fast write", fast_write::<P, M>));
        all.push((
            Expectation::Sometimes,
            "fast write fell back",
            fast_write_fell_back::<P, M>,
        ));
    }
    if takes_fast_reads(cfg) {
        all.push((Expectation::Sometimes, "fast read", fast_read::<P, M>));
        all.push((
            Expectation::Sometimes,
            "read fell back",
            read_fell_back::<P, M>,
        ));
    }
    all
}

/// Whether a proposer in `cfg` can ever propose a value it found accepted: always in consensus
/// mode; in register mode only if some operation builds on the current value (a `Put` or a
/// `Delete` proposes its own value whatever it finds, so with only those the recovery is
/// unreachable and the sometimes-property would FAIL for want of an example).
pub fn recovers_values(cfg: &ModelConfig) -> bool {
    match &cfg.mode {
        Mode::Consensus { .. } => true,
        Mode::Register { scripts } => scripts
            .iter()
            .flatten()
            .any(|op| !matches!(op, Operation::Put(_) | Operation::Delete)),
    }
}

/// Whether a one-round-trip write can happen in `cfg`: fast writes are on and some client sends
/// an operation after its first one that does not start as a one-round-trip read (the
/// reservation is made by one request and used by the node's next).
pub fn takes_fast_writes(cfg: &ModelConfig) -> bool {
    let Mode::Register { scripts } = &cfg.mode else {
        return false;
    };
    cfg.fast.writes
        && scripts.iter().any(|ops| {
            ops.iter()
                .skip(1)
                .any(|op| !(cfg.fast.reads && matches!(op, Operation::Read)))
        })
}

/// Whether a one-round-trip read can happen in `cfg`: fast reads are on and some client reads.
pub fn takes_fast_reads(cfg: &ModelConfig) -> bool {
    let Mode::Register { scripts } = &cfg.mode else {
        return false;
    };
    cfg.fast.reads
        && scripts
            .iter()
            .flatten()
            .any(|op| matches!(op, Operation::Read))
}

/// Every node's (id, core node, ghost).
fn nodes<P: Protocol>(
    state: &SystemState<P>,
) -> impl Iterator<Item = (synod_core::NodeId, &Node<Value>, &Ghost)> {
    nodes_of(&state.actor_states)
}

/// [`nodes`] from the actors' states alone.
fn nodes_of(
    actors: &[Arc<ActorState>],
) -> impl Iterator<Item = (synod_core::NodeId, &Node<Value>, &Ghost)> {
    actors.iter().enumerate().filter_map(|(i, s)| match &**s {
        ActorState::Node(n) => Some((node_id(i), &n.node, &n.ghost)),
        ActorState::Client(_) => None,
    })
}

/// The acceptance history of the whole cluster.
pub fn history<P: Protocol>(state: &SystemState<P>) -> AcceptHistory {
    history_of(&state.actor_states)
}

/// [`history`] from the actors' states alone.
pub fn history_of(actors: &[Arc<ActorState>]) -> AcceptHistory {
    AcceptHistory::gather(nodes_of(actors).map(|(id, _, g)| (id, g)))
}

fn agreement<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    let h = history(state);
    let chosen: Vec<_> = h.chosen(model.config().q2()).collect();
    if model.config().is_register() {
        // One value per ballot.
        chosen.windows(2).all(|w| w[0].0 != w[1].0)
    } else {
        chosen.iter().map(|(_, v)| v).collect::<BTreeSet<_>>().len() <= 1
    }
}

fn validity<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    history(state)
        .all()
        .all(|(_, v, _)| model.config().is_proposed(&v))
}

fn learned_is_chosen<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    let q2 = model.config().q2();
    let h = history(state);
    let learners_ok = nodes(state).all(|(_, node, _)| {
        node.learned()
            .is_none_or(|p| h.count(p.ballot, p.value) >= q2)
    });
    if !learners_ok {
        return false;
    }
    if model.config().is_register() {
        return true;
    }
    let chosen: BTreeSet<Option<Value>> = h.chosen(q2).map(|(_, v)| v).collect();
    nodes(state).all(|(_, _, g)| match &g.reply {
        Some(Ok(Outcome::Chosen { value, .. })) => chosen.contains(&Some(*value)),
        _ => true,
    })
}

fn linearizable<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    state.history.is_linearizable()
}

fn value_chosen<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    history(state).chosen(model.config().q2()).next().is_some()
}

fn two_proposers_accept<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    nodes(state).filter(|(_, _, g)| g.reached_accept).count() >= 2
}

fn minority_value_recovered<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    let q2 = model.config().q2();
    let h = history(state);
    let chosen: Vec<_> = h.chosen(q2).collect();
    let recovered = h.all().any(|(b0, v0, count)| {
        count < q2
            && chosen
                .iter()
                .any(|(b, v)| *v == v0 && *b > b0 && b.node != b0.node)
    });
    recovered
}

/// Whether some node's proposer took the shortcut steps in `bits` ([`shortcut`]).
fn took<P: Protocol>(state: &SystemState<P>, bits: u8) -> bool {
    nodes(state).any(|(_, _, g)| g.shortcuts & bits != 0)
}

fn fast_write<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    took(state, shortcut::FAST_WRITE)
}

fn fast_write_fell_back<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    took(state, shortcut::WRITE_FELL_BACK)
}

fn fast_read<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    took(state, shortcut::FAST_READ)
}

fn read_fell_back<P: Protocol, M: Checked>(_: &M, state: &SystemState<P>) -> bool {
    took(state, shortcut::READ_FELL_BACK)
}

fn chosen_after_restart<P: Protocol, M: Checked>(model: &M, state: &SystemState<P>) -> bool {
    history(state).chosen_with_restarted(model.config().q2())
}
