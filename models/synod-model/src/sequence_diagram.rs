//! The sequence diagram of a path as SVG (the model's `as_svg`, and the Explorer's diagram): one
//! timeline per actor (`n1`, `n2`, …, `client1`, …), one row per step, an arrow from the step
//! that sent a message to the step that delivered it, labelled in short (`Prepare [1,1]`,
//! `Accept [1,2] 'b'`), and a dot for a timer, crash or restart. The columns are as wide as the
//! longest label, so no label is cut off.

use crate::message::Action;
use crate::message::ModelMsg;
use crate::notation::{fmt_model_msg, fmt_proposal, fmt_value, who};
use crate::properties::SystemState;
use crate::Protocol;
use stateright::actor::{ActorModelAction, Envelope};
use stateright::Path;
use std::collections::HashMap;
use std::fmt::Write;
use synod_core::Message;

/// Approximate width of one character of the diagram's 12 px monospace font.
const CHAR_PX: usize = 8;
/// Height of one step's row.
const ROW_PX: usize = 32;

/// A message as a diagram label: the ballot and value it carries, little else.
pub fn label(msg: &ModelMsg) -> String {
    match msg {
        ModelMsg::Peer(Message::Promise { ballot, accepted }) => match accepted {
            Some(p) => format!("Promise {ballot} {}", fmt_proposal(p)),
            None => format!("Promise {ballot}"),
        },
        ModelMsg::Peer(Message::Accept {
            ballot,
            value,
            next: Some(next),
        }) => format!("Accept {ballot} {} +{next}", fmt_value(value)),
        ModelMsg::Peer(Message::Reject { ballot, promised }) => {
            format!("Reject {ballot} <{promised}")
        }
        other => fmt_model_msg(other),
    }
}

/// What a step that is not a delivery shows next to its dot.
fn event(action: &Action) -> Option<(usize, String)> {
    match action {
        ActorModelAction::Timeout(id, timer) => {
            Some((usize::from(*id), format!("{timer:?} timer")))
        }
        ActorModelAction::Crash(id) => Some((usize::from(*id), "CRASH".into())),
        ActorModelAction::Recover(id) => Some((usize::from(*id), "restart".into())),
        ActorModelAction::Drop(env) => {
            Some((usize::from(env.src), format!("LOST {}", label(&env.msg))))
        }
        _ => None,
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&#39;")
}

/// The diagram of `path`, whose nodes are the first `model_nodes` actors.
pub fn svg<P: Protocol>(model_nodes: usize, path: &Path<SystemState<P>, Action>) -> String {
    let steps = path.clone().into_vec();
    let actors = path.last_state().actor_states.len();
    let mut labels: Vec<String> = Vec::new();
    for (_, action) in &steps {
        match action {
            Some(ActorModelAction::Deliver { msg, .. }) => labels.push(label(msg)),
            Some(other) => labels.extend(event(other).map(|(_, l)| l)),
            None => {}
        }
    }
    let longest = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    // A label is written `N. label`: room for a two-digit step number.
    let column = ((longest + 4) * CHAR_PX + 24).max(90);
    let x = |actor: usize| 40 + actor * column;
    let y = |row: usize| 30 + row * ROW_PX;
    let width = x(actors.saturating_sub(1)) + column;
    let height = y(steps.len()) + 10;
    let mut out = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' \
         viewBox='0 0 {width} {height}' font-family='monospace' font-size='12'>\
         <defs><marker id='arrow' markerWidth='10' markerHeight='8' refX='10' refY='4' \
         orient='auto'><polygon points='0 0, 10 4, 0 8' fill='#e7ecef'/></marker></defs>"
    );
    for a in 0..actors {
        let _ = write!(
            out,
            "<line x1='{0}' y1='{1}' x2='{0}' y2='{2}' stroke='#888' stroke-dasharray='4 3'/>\
             <text x='{0}' y='14' text-anchor='middle' fill='#f2e27a'>{3}</text>",
            x(a),
            y(0) - 8,
            height,
            who(model_nodes, a)
        );
    }
    // When each envelope was first in flight (0: in the initial state).
    let mut sent: HashMap<Envelope<ModelMsg>, usize> = HashMap::new();
    for (row, (state, action)) in steps.iter().enumerate() {
        for e in state.network.iter_all() {
            sent.entry(e.to_cloned_msg()).or_insert(row);
        }
        let Some(action) = action else { continue };
        let at = row + 1;
        match action {
            ActorModelAction::Deliver { src, dst, msg } => {
                let envelope = Envelope {
                    src: *src,
                    dst: *dst,
                    msg: msg.clone(),
                };
                let from = sent.get(&envelope).copied().unwrap_or(row);
                let (x1, y1, x2, y2) = (x(usize::from(*src)), y(from), x(usize::from(*dst)), y(at));
                let _ = write!(
                    out,
                    "<line x1='{x1}' y1='{y1}' x2='{x2}' y2='{y2}' stroke='#e7ecef' \
                     marker-end='url(#arrow)'/>\
                     <text x='{}' y='{}' text-anchor='{}' fill='#e7ecef'>{}. {}</text>",
                    // Beside the arrowhead, on the sender's side: one step per row, so labels
                    // never share a line.
                    if x1 <= x2 { x2 - 12 } else { x2 + 12 },
                    y2 - 5,
                    if x1 <= x2 { "end" } else { "start" },
                    at,
                    escape(&label(msg))
                );
            }
            other => {
                if let Some((actor, text)) = event(other) {
                    let _ = write!(
                        out,
                        "<circle cx='{0}' cy='{1}' r='5' fill='#f2e27a'/>\
                         <text x='{2}' y='{3}' fill='#f2e27a'>{4}. {5}</text>",
                        x(actor),
                        y(at),
                        x(actor) + 9,
                        y(at) + 4,
                        at,
                        escape(&text)
                    );
                }
            }
        }
    }
    out.push_str("</svg>");
    out
}
