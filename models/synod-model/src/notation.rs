//! The notation of listings, the Explorer and the sequence diagram, one line per thing: values
//! (`'a'`, `∅`), proposals (`'a'@[1,1]`), messages (`Prepare [1,1]`), replies, proposer phases,
//! acceptor states, actors (`n1`, `client1`), envelopes and actions (`n1 → n3: Prepare [1,1]`).
//! Depends on nothing but the model's vocabulary, so that the model itself can render with it.

use crate::config::Value;
use crate::message::{Action, ModelMsg};
use stateright::actor::{ActorModelAction, Id};
use synod_core::{AcceptorState, Message, Outcome, Phase, Proposal, ReplyResult};

/// A proposal as `v@[round,node]` (`∅` for the empty register).
pub fn fmt_proposal(p: &Proposal<Value>) -> String {
    format!("{}@{}", fmt_value(&p.value), p.ballot)
}

/// A value as `'v'` (`∅` for the empty register).
pub fn fmt_value(v: &Option<Value>) -> String {
    v.map_or("∅".to_string(), |c| format!("'{c}'"))
}

/// A protocol message in one line.
pub fn fmt_msg(m: &Message<Value>) -> String {
    match m {
        Message::Prepare { ballot } => format!("Prepare {ballot}"),
        Message::Promise { ballot, accepted } => format!(
            "Promise {ballot} (accepted {})",
            accepted.as_ref().map_or("nothing".into(), fmt_proposal)
        ),
        Message::Accept {
            ballot,
            value,
            next: None,
        } => format!("Accept {ballot} {}", fmt_value(value)),
        Message::Accept {
            ballot,
            value,
            next: Some(next),
        } => format!("Accept {ballot} {} (and promise {next})", fmt_value(value)),
        Message::Accepted { ballot } => format!("Accepted {ballot}"),
        Message::Reject { ballot, promised } => format!("Reject {ballot} (promised {promised})"),
        Message::Commit { ballot, value } => format!("Commit {ballot} {}", fmt_value(value)),
        Message::Query { request } => format!("Query (read {})", request.0),
        Message::Report { request, accepted } => format!(
            "Report (read {}: accepted {})",
            request.0,
            accepted.as_ref().map_or("nothing".into(), fmt_proposal)
        ),
        // Membership change: the shared notation (`g2: Prepare [1,1]`, `Stale (g2 …)`).
        Message::Generation { .. } | Message::Stale { .. } => synod_check::notation::message(m),
    }
}

/// A reply's result in one line.
pub fn fmt_result(r: &ReplyResult<Value>) -> String {
    match r {
        Ok(Outcome::Chosen { value, won }) => format!("chosen '{value}' (won: {won})"),
        Ok(Outcome::Written { previous }) => format!("written (previous {})", fmt_value(previous)),
        Ok(Outcome::CasMismatch { current }) => {
            format!("cas mismatch (current {})", fmt_value(current))
        }
        Ok(Outcome::Read { value }) => format!("read {}", fmt_value(value)),
        Err(e) => format!("error: {e}"),
    }
}

/// A proposer's phase in one line.
pub fn fmt_phase(p: &Phase<Value>) -> String {
    match p {
        Phase::Idle => "idle".into(),
        Phase::Preparing { ballot, .. } => format!("preparing {ballot}"),
        Phase::Accepting { proposal, .. } => format!("accepting {}", fmt_proposal(proposal)),
        Phase::Reading { .. } => "reading".into(),
        Phase::Backoff => "backoff".into(),
    }
}

/// The name of actor `id`: `nX` for a node, `clientK` for a client.
pub fn who(model_nodes: usize, id: usize) -> String {
    if id < model_nodes {
        format!("n{}", id + 1)
    } else {
        format!("client{}", id - model_nodes + 1)
    }
}

/// A model message in one line: a protocol message, a client's request, or a reply.
pub fn fmt_model_msg(msg: &ModelMsg) -> String {
    match msg {
        ModelMsg::Peer(m) => fmt_msg(m),
        ModelMsg::Request { op, .. } => format!("request {}", crate::script::format_op(op)),
        ModelMsg::Reply { result, .. } => format!("reply: {}", fmt_result(result)),
    }
}

/// An envelope in one line: `n1 → n3: Prepare [1,1]`.
pub fn fmt_envelope(model_nodes: usize, src: Id, dst: Id, msg: &ModelMsg) -> String {
    format!(
        "{} → {}: {}",
        who(model_nodes, usize::from(src)),
        who(model_nodes, usize::from(dst)),
        fmt_model_msg(msg)
    )
}

/// An action in one line, as the listing numbers it (without what a crash kept).
pub fn fmt_action(model_nodes: usize, action: &Action) -> String {
    let n = model_nodes;
    match action {
        ActorModelAction::Deliver { src, dst, msg } => fmt_envelope(n, *src, *dst, msg),
        ActorModelAction::Drop(env) => {
            format!("LOST {}", fmt_envelope(n, env.src, env.dst, &env.msg))
        }
        ActorModelAction::Timeout(id, timer) => {
            format!("{}: {timer:?} timer fires", who(n, usize::from(*id)))
        }
        ActorModelAction::Crash(id) => format!("{} CRASHES", who(n, usize::from(*id))),
        ActorModelAction::Recover(id) => {
            format!(
                "{} restarts from its durable state",
                who(n, usize::from(*id))
            )
        }
        ActorModelAction::SelectRandom { .. } => "random choice".into(),
    }
}

/// An acceptor state as `promised [1,1], accepted 'a'@[1,1]`.
pub fn fmt_acceptor(state: &AcceptorState<Value>) -> String {
    format!(
        "promised {}, accepted {}",
        state.promised,
        state
            .accepted
            .as_ref()
            .map_or("nothing".into(), fmt_proposal)
    )
}
