//! Every property of a model judged at one state, for the Explorer: whether the property's own
//! condition (the one the checker evaluates, from [`crate::properties`]) holds there, and, for a
//! violation, what it read — `agreement: VIOLATED — 'a'@[1,1] and 'b'@[1,2] both chosen`.

use crate::counterexample::{fmt_proposal, fmt_result, fmt_value};
use crate::model::SynodModel;
use crate::properties::{history, SystemState};
use crate::Protocol;
use stateright::{Expectation, Model};
use std::fmt;

/// One property at one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Judgement {
    /// The property's name.
    pub name: &'static str,
    /// Always or sometimes.
    pub kind: Expectation,
    /// Whether its condition holds at the state.
    pub holds: bool,
    /// For a violated always-property: what the condition read.
    pub detail: Option<String>,
}

impl fmt::Display for Judgement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.kind, self.holds) {
            (Expectation::Sometimes, true) => write!(f, "{}: reached here", self.name),
            (Expectation::Sometimes, false) => write!(f, "{}: not reached here", self.name),
            (_, true) => write!(f, "{}: holds", self.name),
            (_, false) => match &self.detail {
                Some(detail) => write!(f, "{}: VIOLATED — {detail}", self.name),
                None => write!(f, "{}: VIOLATED", self.name),
            },
        }
    }
}

impl Judgement {
    /// Whether this is an always-property that does not hold.
    pub fn violated(&self) -> bool {
        !self.holds && self.kind != Expectation::Sometimes
    }
}

/// Every property of `model`, in report order, judged at `state`.
pub fn judge<P: Protocol>(model: &SynodModel<P>, state: &SystemState<P>) -> Vec<Judgement> {
    model
        .properties()
        .into_iter()
        .map(|p| {
            let holds = (p.condition)(model, state);
            let violated = !holds && p.expectation != Expectation::Sometimes;
            Judgement {
                name: p.name,
                kind: p.expectation,
                holds,
                detail: violated.then(|| what_it_read(model, state, p.name)),
            }
        })
        .collect()
}

/// Every proposal chosen at `state` (a phase-2 quorum accepted it at one ballot), as `'a'@[1,1]`.
pub fn chosen_proposals<P: Protocol>(model: &SynodModel<P>, state: &SystemState<P>) -> Vec<String> {
    history(state)
        .chosen(model.cfg.q2())
        .map(|(ballot, value)| format!("{}@{ballot}", fmt_value(&value)))
        .collect()
}

/// What property `name` reads at `state`, in the listing's notation.
fn what_it_read<P: Protocol>(model: &SynodModel<P>, state: &SystemState<P>, name: &str) -> String {
    let h = history(state);
    let chosen = chosen_proposals(model, state);
    let chosen_text = match chosen.as_slice() {
        [] => "nothing chosen".to_string(),
        [one] => format!("{one} chosen"),
        [a, b] => format!("{a} and {b} both chosen"),
        [rest @ .., last] => format!("{} and {last} all chosen", rest.join(", ")),
    };
    match name {
        "agreement" => chosen_text,
        "validity" => {
            let accepted: Vec<String> = h
                .all()
                .map(|(ballot, value, _)| format!("{}@{ballot}", fmt_value(&value)))
                .collect();
            format!("accepted {}", accepted.join(", "))
        }
        "learned is chosen" => {
            let mut said = Vec::new();
            for (i, actor) in state.actor_states.iter().enumerate() {
                if let crate::actor::ActorState::Node(n) = &**actor {
                    if let Some(p) = n.node.learned() {
                        said.push(format!("n{} learned {}", i + 1, fmt_proposal(p)));
                    }
                    if let Some(reply) = &n.ghost.reply {
                        said.push(format!("n{} replied {}", i + 1, fmt_result(reply)));
                    }
                }
            }
            format!("{}; {chosen_text}", said.join(", "))
        }
        "linearizable" => format!("client history {}", state.history.describe()),
        _ => chosen_text,
    }
}
