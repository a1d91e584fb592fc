//! The core outputs of one model step, recomputed by stepping a copy of the node the step acts
//! on — the same `Protocol::step` the node actor runs. Trace export writes them as a step's
//! expected outputs, and trace validation compares them with a trace's expectations.

use crate::actor::{ActorState, SynodActor, PROPOSE_REQUEST};
use crate::config::{node_id, ModelConfig, Value};
use crate::message::Action;
use crate::message::{request_owner, ModelMsg};
use crate::model::SynodModel;
use crate::properties::SystemState;
use crate::Protocol;
use stateright::actor::ActorModelAction;
use synod_core::{AcceptorState, Input, Node, Operation, Output};

/// The outputs the core produces for `action` taken in `before`, or `None` when the action is
/// not a node event (a reply reaching a client, a duplicated client request, a random choice).
/// Drops, crashes and restarts produce no outputs.
pub fn step_outputs<P: Protocol>(
    model: &SynodModel<P>,
    before: &SystemState<P>,
    action: &Action,
) -> Option<Vec<Output<Value>>> {
    let (index, input) = match action {
        ActorModelAction::Deliver { src, dst, msg } => {
            let input = match msg {
                ModelMsg::Peer(m) => Input::Message {
                    from: node_id(usize::from(*src)),
                    msg: m.clone(),
                },
                ModelMsg::Request { request, op } => {
                    let (client, seq) = request_owner(*request)?;
                    let ActorState::Node(n) = &**before.actor_states.get(usize::from(*dst))? else {
                        return None;
                    };
                    if n.ghost.requests_seen & (1u64 << (client * 8 + seq)) != 0 {
                        return None;
                    }
                    Input::Request {
                        request: *request,
                        op: op.clone(),
                    }
                }
                ModelMsg::Reply { .. } => return None,
            };
            (usize::from(*dst), input)
        }
        ActorModelAction::Timeout(id, timer) => (usize::from(*id), Input::Timeout(*timer)),
        ActorModelAction::Drop(_) | ActorModelAction::Crash(_) | ActorModelAction::Recover(_) => {
            return Some(Vec::new())
        }
        ActorModelAction::SelectRandom { .. } => return None,
    };
    let (ActorState::Node(n), Some(SynodActor::Node { protocol, .. })) = (
        &**before.actor_states.get(index)?,
        model.actors.actors.get(index),
    ) else {
        return None;
    };
    let mut node = n.node.clone();
    let mut outputs = Vec::new();
    protocol.step(&mut node, input, &mut outputs);
    Some(outputs)
}

/// The outputs of consensus proposer `index`'s initial `ProposeOnce` (taken in `on_start`,
/// before the model's first state).
pub fn initial_request_outputs<P: Protocol>(
    model: &SynodModel<P>,
    index: usize,
) -> Option<Vec<Output<Value>>> {
    let Some(SynodActor::Node {
        protocol, config, ..
    }) = model.actors.actors.get(index)
    else {
        return None;
    };
    let mut node = Node::restart(*config, AcceptorState::default());
    let mut outputs = Vec::new();
    protocol.step(
        &mut node,
        Input::Request {
            request: PROPOSE_REQUEST,
            op: Operation::ProposeOnce(ModelConfig::proposal_of(index)),
        },
        &mut outputs,
    );
    Some(outputs)
}
