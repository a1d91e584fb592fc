//! Changing the value type of protocol data: the model's tiny values, the server's bytes and
//! trace files' strings are the same protocol over different `V`. Each type gets `map_value`,
//! which rebuilds it with every value passed through `f` and every ballot, id and shape kept.

use crate::{AcceptorState, Message, Operation, Outcome, Output, Proposal};

impl<V> Proposal<V> {
    /// The same proposal with its value mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> Proposal<W> {
        Proposal {
            ballot: self.ballot,
            value: self.value.map(f),
        }
    }
}

impl<V> AcceptorState<V> {
    /// The same state with its value mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> AcceptorState<W> {
        AcceptorState {
            promised: self.promised,
            accepted: self.accepted.map(|p| p.map_value(f)),
        }
    }
}

impl<V> Message<V> {
    /// The same message with its values mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> Message<W> {
        match self {
            Message::Prepare { ballot } => Message::Prepare { ballot },
            Message::Promise { ballot, accepted } => Message::Promise {
                ballot,
                accepted: accepted.map(|p| p.map_value(f)),
            },
            Message::Accept {
                ballot,
                value,
                next,
            } => Message::Accept {
                ballot,
                value: value.map(f),
                next,
            },
            Message::Accepted { ballot } => Message::Accepted { ballot },
            Message::Reject { ballot, promised } => Message::Reject { ballot, promised },
            Message::Commit { ballot, value } => Message::Commit {
                ballot,
                value: value.map(f),
            },
            Message::Query { request } => Message::Query { request },
            Message::Report { request, accepted } => Message::Report {
                request,
                accepted: accepted.map(|p| p.map_value(f)),
            },
            Message::Generation {
                generation,
                message,
            } => Message::Generation {
                generation,
                message: Box::new(message.map_value(f)),
            },
            Message::Stale { configuration } => Message::Stale { configuration },
        }
    }
}

impl<V> Operation<V> {
    /// The same operation with its values mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> Operation<W> {
        match self {
            Operation::ProposeOnce(v) => Operation::ProposeOnce(f(v)),
            Operation::Put(v) => Operation::Put(f(v)),
            Operation::Delete => Operation::Delete,
            Operation::Cas { expected, new } => Operation::Cas {
                expected: expected.map(f),
                new: f(new),
            },
            Operation::Read => Operation::Read,
        }
    }
}

impl<V> Outcome<V> {
    /// The same outcome with its values mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> Outcome<W> {
        match self {
            Outcome::Chosen { value, won } => Outcome::Chosen {
                value: f(value),
                won,
            },
            Outcome::Written { previous } => Outcome::Written {
                previous: previous.map(f),
            },
            Outcome::CasMismatch { current } => Outcome::CasMismatch {
                current: current.map(f),
            },
            Outcome::Read { value } => Outcome::Read {
                value: value.map(f),
            },
        }
    }
}

impl<V> Output<V> {
    /// The same output with its values mapped.
    pub fn map_value<W>(self, f: &impl Fn(V) -> W) -> Output<W> {
        match self {
            Output::Persist(state) => Output::Persist(state.map_value(f)),
            Output::Send { to, msg } => Output::Send {
                to,
                msg: msg.map_value(f),
            },
            Output::Broadcast { msg } => Output::Broadcast {
                msg: msg.map_value(f),
            },
            Output::Reply { request, result } => Output::Reply {
                request,
                result: result.map(|o| o.map_value(f)),
            },
            Output::SetTimer { timer, attempt } => Output::SetTimer { timer, attempt },
            Output::CancelTimer(timer) => Output::CancelTimer(timer),
            Output::Learned(p) => Output::Learned(p.map_value(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Ballot, NodeId, RequestId, Timer};

    #[test]
    fn mapping_keeps_shape_and_maps_every_value() {
        let b = Ballot::new(2, NodeId(1));
        let p = Proposal {
            ballot: b,
            value: Some(3u8),
        };
        let outputs = vec![
            Output::Persist(AcceptorState {
                promised: b,
                accepted: Some(p.clone()),
            }),
            Output::Send {
                to: NodeId(2),
                msg: Message::Promise {
                    ballot: b,
                    accepted: Some(p.clone()),
                },
            },
            Output::Broadcast {
                msg: Message::Accept {
                    ballot: b,
                    value: Some(4),
                    next: None,
                },
            },
            Output::Broadcast {
                msg: Message::Commit {
                    ballot: b,
                    value: None,
                },
            },
            Output::Reply {
                request: RequestId(1),
                result: Ok(Outcome::Chosen {
                    value: 5,
                    won: true,
                }),
            },
            Output::SetTimer {
                timer: Timer::Round,
                attempt: 1,
            },
            Output::CancelTimer(Timer::Backoff),
            Output::Learned(p),
        ];
        let f = |v: u8| v.to_string();
        let strings: Vec<Output<String>> =
            outputs.iter().cloned().map(|o| o.map_value(&f)).collect();
        let back: Vec<Output<u8>> = strings
            .into_iter()
            .map(|o| o.map_value(&|s: String| s.parse().unwrap()))
            .collect();
        assert_eq!(back, outputs);
        let op = Operation::Cas {
            expected: Some(1u8),
            new: 2,
        };
        assert_eq!(
            op.clone().map_value(&f),
            Operation::Cas {
                expected: Some("1".to_string()),
                new: "2".to_string()
            }
        );
        assert_eq!(
            Outcome::CasMismatch { current: Some(7u8) }.map_value(&f),
            Outcome::CasMismatch {
                current: Some("7".to_string())
            }
        );
    }
}
