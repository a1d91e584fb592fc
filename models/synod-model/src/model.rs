//! The stateright [`SynodModel`] of a [`ModelConfig`]: stateright's `ActorModel` of our actors,
//! wrapped so that every successor state is **normalized** before it is hashed.
//!
//! Normalization removes only information that can never influence the future, so the explored
//! system is the same, with fewer duplicate states:
//!
//! * stateright 0.31's duplicating network records the last delivered envelope in the state
//!   (so that two deliveries that change nothing still look different). Nothing reads it: it is
//!   cleared.
//! * A protocol reply (`Promise`, `Accepted`, `Reject`, `Commit`) whose delivery is a no-op,
//!   to a node that can no longer crash, stays a no-op forever (see `is_dead`): it is removed
//!   from the network, where it would only make otherwise identical states differ.
//! * A crashed node's volatile state is dead until its restart, which rebuilds the node from its
//!   durable storage alone: the crashed node's state is replaced by what its restart would find.
//!
//! Loss on a duplicating network is not explored as separate `Drop` steps: there a message that
//! is never delivered (again) is exactly a lost message, the properties do not look at the
//! network, and timers fire at any time anyway — so every node state reachable with drops is
//! reachable without them ([`ModelConfig::explores_drops`]).
//!
//! The wrapper delegates everything else (actions, transitions, Explorer rendering) to
//! `ActorModel`, and carries the properties of [`crate::properties`].

use crate::actor::{actors, ActorState, NodeState, SynodActor};
use crate::client_history::ClientHistory;
use crate::config::node_id;
use crate::config::{ConfigError, ModelConfig, NetworkKind};
use crate::message::ModelMsg;
use crate::properties::{properties_for, SystemState};
use crate::Protocol;
use stateright::actor::{ActorModel, ActorModelAction, Envelope, LossyNetwork, Network};
use stateright::{Model, Path, Property};
use std::sync::Arc;
use synod_core::{Input, Message, Node, Timer};

/// The model: the configuration and the actor model it builds.
#[derive(Clone)]
pub struct SynodModel<P: Protocol> {
    /// What is being checked.
    pub cfg: ModelConfig,
    /// The underlying stateright actor model (its own property list is empty).
    pub actors: ActorModel<SynodActor<P>, ModelConfig, ClientHistory>,
}

/// The model of `cfg`, with every node stepping through `protocol`.
pub fn build<P: Protocol>(cfg: &ModelConfig, protocol: P) -> Result<SynodModel<P>, ConfigError> {
    let actors = actors(cfg, &protocol)?;
    let network = match cfg.network {
        NetworkKind::UnorderedDuplicating => Network::new_unordered_duplicating([]),
        NetworkKind::UnorderedNonDuplicating => Network::new_unordered_nonduplicating([]),
        NetworkKind::Ordered => Network::new_ordered([]),
    };
    let model = ActorModel::new(
        cfg.clone(),
        ClientHistory::new(cfg.client_count(), cfg.proposer_count()),
    )
    .actors(actors)
    .init_network(network)
    .lossy_network(if cfg.explores_drops() {
        LossyNetwork::Yes
    } else {
        LossyNetwork::No
    })
    .max_crashes(cfg.crashes)
    .record_msg_out(ClientHistory::on_request)
    .record_msg_in(ClientHistory::on_reply);
    Ok(SynodModel {
        cfg: cfg.clone(),
        actors: model,
    })
}

/// The crash budget: at most `cfg.crashes` crashes in the whole run (crashes so far = restarts
/// plus nodes down now). Crashes are for nodes; a crashed client would only be a slow one, which
/// the network already models, so those states are not explored.
fn within_crash_budget<P: Protocol>(cfg: &ModelConfig, state: &SystemState<P>) -> bool {
    let mut crashes = 0usize;
    for (s, crashed) in state.actor_states.iter().zip(&state.crashed) {
        match &**s {
            ActorState::Node(n) => crashes += n.ghost.restarts as usize + usize::from(*crashed),
            ActorState::Client(_) if *crashed => return false,
            ActorState::Client(_) => {}
        }
    }
    crashes <= cfg.crashes
}

impl<P: Protocol> SynodModel<P> {
    /// Drops what cannot influence the future (see the module docs).
    pub fn normalize(&self, mut state: SystemState<P>) -> SystemState<P> {
        let settled: Vec<bool> = (0..state.actor_states.len())
            .map(|i| self.never_restarts(&state, i))
            .collect();
        match &mut state.network {
            Network::UnorderedDuplicating(set, last) => {
                *last = None;
                let dead: Vec<_> = set
                    .iter()
                    .filter(|e| self.is_dead(&state.actor_states, &settled, e))
                    .cloned()
                    .collect();
                for e in dead {
                    set.remove(&e);
                }
            }
            Network::UnorderedNonDuplicating(multiset) => {
                let dead: Vec<_> = multiset
                    .keys()
                    .filter(|e| self.is_dead(&state.actor_states, &settled, e))
                    .cloned()
                    .collect();
                for e in dead {
                    multiset.remove(&e);
                }
            }
            Network::Ordered(_) => {}
        }
        for i in 0..state.crashed.len() {
            if !state.crashed[i] {
                continue;
            }
            let (ActorState::Node(stale), Some(Some(storage))) =
                (&*state.actor_states[i], state.actor_storages.get(i))
            else {
                continue;
            };
            let dormant = NodeState {
                node: Node::restart(*stale.node.config(), storage.durable.clone()),
                durable: storage.durable.clone(),
                ghost: storage.ghost.clone(),
            };
            if dormant != *stale {
                state.actor_states[i] = Arc::new(ActorState::Node(dormant));
            }
        }
        state
    }
}

impl<P: Protocol> SynodModel<P> {
    /// Whether node `i` can never crash and restart again (its volatile state then only moves
    /// forward: ballots and learned proposals only grow, tallies only gain voters).
    fn never_restarts(&self, state: &SystemState<P>, i: usize) -> bool {
        if state.crashed.get(i).copied().unwrap_or(true) {
            return false;
        }
        if self.cfg.crashes == 0 {
            return true;
        }
        let used: usize = state
            .actor_states
            .iter()
            .zip(&state.crashed)
            .map(|(s, crashed)| match &**s {
                ActorState::Node(n) => n.ghost.restarts as usize + usize::from(*crashed),
                ActorState::Client(_) => 0,
            })
            .sum();
        used >= self.cfg.crashes
    }

    /// Whether `env` is a reply-side protocol message (`Promise`, `Accepted`, `Reject`,
    /// `Commit`) whose delivery to a node that never restarts changes nothing now — and
    /// therefore never will: each is ignored only for a ballot the proposer has left for good,
    /// a voter already counted, or a proposal no newer than what was learned. Such an envelope
    /// can only make otherwise identical states look different. The check runs the real
    /// protocol step, so it follows the code rather than a description of it.
    fn is_dead(
        &self,
        actors: &[Arc<ActorState>],
        settled: &[bool],
        env: &Envelope<ModelMsg>,
    ) -> bool {
        let ModelMsg::Peer(msg) = &env.msg else {
            return false;
        };
        if matches!(msg, Message::Prepare { .. } | Message::Accept { .. }) {
            return false;
        }
        let dst = usize::from(env.dst);
        let (Some(true), Some(ActorState::Node(n)), Some(SynodActor::Node { protocol, .. })) = (
            settled.get(dst).copied(),
            actors.get(dst).map(|a| &**a),
            self.actors.actors.get(dst),
        ) else {
            return false;
        };
        let mut node = n.node.clone();
        let mut out = Vec::new();
        protocol.step(
            &mut node,
            Input::Message {
                from: node_id(usize::from(env.src)),
                msg: msg.clone(),
            },
            &mut out,
        );
        out.is_empty() && node == n.node
    }
}

impl<P: Protocol> Model for SynodModel<P> {
    type State = SystemState<P>;
    type Action = ActorModelAction<crate::message::ModelMsg, Timer, ()>;

    fn init_states(&self) -> Vec<Self::State> {
        self.actors
            .init_states()
            .into_iter()
            .map(|s| self.normalize(s))
            .collect()
    }

    fn actions(&self, state: &Self::State, actions: &mut Vec<Self::Action>) {
        self.actors.actions(state, actions)
    }

    fn next_state(&self, last: &Self::State, action: Self::Action) -> Option<Self::State> {
        self.actors
            .next_state(last, action)
            .map(|s| self.normalize(s))
    }

    fn format_action(&self, action: &Self::Action) -> String {
        self.actors.format_action(action)
    }

    fn format_step(&self, last: &Self::State, action: Self::Action) -> Option<String> {
        self.actors.format_step(last, action)
    }

    fn as_svg(&self, path: Path<Self::State, Self::Action>) -> Option<String> {
        self.actors.as_svg(path)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        properties_for::<P>(&self.cfg)
            .into_iter()
            .map(|(expectation, name, condition)| Property {
                expectation,
                name,
                condition,
            })
            .collect()
    }

    fn within_boundary(&self, state: &Self::State) -> bool {
        within_crash_budget::<P>(&self.cfg, state)
    }
}
