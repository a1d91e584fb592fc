//! The counterexample notation of docs/model.md, for any value type that displays itself:
//! ballots `[round,node]`, values `'v'` (`∅` for the empty register), proposals `'v'@[1,2]`,
//! messages `Accept [1,2] 'b' (and promise [2,2])`, and a node's state `promised [1,2], accepted
//! 'b'@[1,2], learned nothing`. Trace-replay divergences are told in it, so that what a replay
//! expected and got reads like the model's listings.

use crate::trace::NodeState;
use std::fmt::Display;
use synod_core::{Configuration, Message, NodeSet, Outcome, Output, Proposal, ReplyResult, Timer};

/// A register value: `'v'`, or `∅` for the empty register.
pub fn value<V: Display>(v: &Option<V>) -> String {
    v.as_ref().map_or("∅".to_owned(), |v| format!("'{v}'"))
}

/// A proposal: `'v'@[round,node]`.
pub fn proposal<V: Display>(p: &Proposal<V>) -> String {
    format!("{}@{}", value(&p.value), p.ballot)
}

/// A proposal or `nothing`.
fn maybe_proposal<V: Display>(p: Option<&Proposal<V>>) -> String {
    p.map_or("nothing".to_owned(), proposal)
}

/// A protocol message in one line.
pub fn message<V: Display>(m: &Message<V>) -> String {
    match m {
        Message::Prepare { ballot } => format!("Prepare {ballot}"),
        Message::Promise { ballot, accepted } => {
            format!(
                "Promise {ballot} (accepted {})",
                maybe_proposal(accepted.as_ref())
            )
        }
        Message::Accept {
            ballot,
            value: v,
            next: None,
        } => format!("Accept {ballot} {}", value(v)),
        Message::Accept {
            ballot,
            value: v,
            next: Some(next),
        } => format!("Accept {ballot} {} (and promise {next})", value(v)),
        Message::Accepted { ballot } => format!("Accepted {ballot}"),
        Message::Reject { ballot, promised } => format!("Reject {ballot} (promised {promised})"),
        Message::Commit { ballot, value: v } => format!("Commit {ballot} {}", value(v)),
        Message::Query { request } => format!("Query (read {})", request.0),
        Message::Report { request, accepted } => format!(
            "Report (read {}: accepted {})",
            request.0,
            maybe_proposal(accepted.as_ref())
        ),
        Message::Generation {
            generation,
            message: m,
        } => format!("g{generation}: {}", message(m)),
        Message::Stale { configuration: c } => format!("Stale ({})", configuration(c)),
    }
}

/// A set of nodes: `{1,2,4}`.
pub fn nodes(set: NodeSet) -> String {
    let ids: Vec<String> = set.iter().map(|n| n.to_string()).collect();
    format!("{{{}}}", ids.join(","))
}

/// A configuration: `g3 prepare {1,2,4}/2 accept {1,2,3,4}/3`.
pub fn configuration(c: &Configuration) -> String {
    format!(
        "g{} prepare {}/{} accept {}/{}",
        c.generation(),
        nodes(c.prepare()),
        c.q1(),
        nodes(c.accept()),
        c.q2()
    )
}

/// A reply to a client.
pub fn result<V: Display>(r: &ReplyResult<V>) -> String {
    match r {
        Ok(Outcome::Chosen { value: v, won }) => format!("chosen '{v}' (won: {won})"),
        Ok(Outcome::Written { previous }) => format!("written (previous {})", value(previous)),
        Ok(Outcome::CasMismatch { current }) => {
            format!("cas mismatch (current {})", value(current))
        }
        Ok(Outcome::Read { value: v }) => format!("read {}", value(v)),
        Err(e) => format!("error: {e}"),
    }
}

fn timer(t: &Timer) -> &'static str {
    match t {
        Timer::Round => "Round",
        Timer::Backoff => "Backoff",
    }
}

/// One output of a step.
pub fn output<V: Display>(o: &Output<V>) -> String {
    match o {
        Output::Persist(state) => format!(
            "persist promised {} accepted {}",
            state.promised,
            maybe_proposal(state.accepted.as_ref())
        ),
        Output::Send { to, msg } => format!("→ n{to}: {}", message(msg)),
        Output::Broadcast { msg } => format!("→ all: {}", message(msg)),
        Output::Reply { request, result: r } => {
            format!("reply to request {}: {}", request.0, result(r))
        }
        Output::SetTimer { timer: t, attempt } => {
            format!("set {} timer (attempt {attempt})", timer(t))
        }
        Output::CancelTimer(t) => format!("cancel {} timer", timer(t)),
        Output::Learned(p) => format!("learned {}", proposal(p)),
    }
}

/// A step's outputs, in order, separated by `; ` (`no outputs` when there are none).
pub fn outputs<V: Display>(os: &[Output<V>]) -> String {
    if os.is_empty() {
        return "no outputs".to_owned();
    }
    os.iter().map(output).collect::<Vec<_>>().join("; ")
}

/// A node's state: `promised [1,2], accepted 'b'@[1,2], learned nothing`.
pub fn node_state<V: Display>(s: &NodeState<V>) -> String {
    format!(
        "promised {}, accepted {}, learned {}",
        s.promised,
        maybe_proposal(s.accepted.as_ref()),
        maybe_proposal(s.learned.as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use synod_core::{Ballot, NodeId, RequestId};

    fn b(round: u64, node: u8) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    #[test]
    fn states_and_outputs_read_like_the_model_listings() {
        let state = NodeState {
            promised: b(3, 1),
            accepted: Some(Proposal {
                ballot: b(2, 1),
                value: Some("b".to_owned()),
            }),
            learned: None,
        };
        assert_eq!(
            node_state(&state),
            "promised [3,1], accepted 'b'@[2,1], learned nothing"
        );
        let outs: Vec<Output<String>> = vec![
            Output::Send {
                to: NodeId(2),
                msg: Message::Accept {
                    ballot: b(1, 1),
                    value: None,
                    next: Some(b(2, 1)),
                },
            },
            Output::Reply {
                request: RequestId(7),
                result: Ok(Outcome::Written {
                    previous: Some("a".into()),
                }),
            },
            Output::SetTimer {
                timer: Timer::Round,
                attempt: 1,
            },
        ];
        assert_eq!(
            outputs(&outs),
            "→ n2: Accept [1,1] ∅ (and promise [2,1]); reply to request 7: written (previous \
             'a'); set Round timer (attempt 1)"
        );
        assert_eq!(outputs::<String>(&[]), "no outputs");
    }
}
