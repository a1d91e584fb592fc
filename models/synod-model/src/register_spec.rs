//! The sequential specification of the register, written independently of the core: what one
//! register does with `Put`, `Delete`, `Cas`, `Read` (and `ProposeOnce`) when operations run one
//! at a time. The linearizability check compares the clients' concurrent history against it.
//!
//! A request that failed with `Busy` or `Exhausted` surely did not take effect: it is recorded
//! as [`SpecRet::NotApplied`], a step that is valid anywhere and changes nothing. A request
//! answered `Indeterminate`, or never answered, stays *in flight* forever: the tester may place
//! it anywhere after its invocation, or nowhere.

use crate::value::Value;
use stateright::semantics::SequentialSpec;
use synod_core::{Operation, Outcome, ReplyResult, RequestError};

/// The reference register: its current value (`None` = empty).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegisterSpec {
    value: Option<Value>,
}

/// What a client observed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SpecRet {
    /// The operation completed with this outcome.
    Completed(Outcome<Value>),
    /// The operation surely did not take effect (`Busy`, `Exhausted`).
    NotApplied,
}

impl SpecRet {
    /// What a client observed from a reply: `None` for `Indeterminate`, which stays in flight.
    pub fn of_reply(result: &ReplyResult<Value>) -> Option<SpecRet> {
        match result {
            Ok(outcome) => Some(SpecRet::Completed(outcome.clone())),
            Err(RequestError::Indeterminate) => None,
            Err(RequestError::Busy | RequestError::Exhausted { .. }) => Some(SpecRet::NotApplied),
        }
    }
}

impl SequentialSpec for RegisterSpec {
    type Op = Operation<Value>;
    type Ret = SpecRet;

    fn invoke(&mut self, op: &Operation<Value>) -> SpecRet {
        let previous = self.value;
        let outcome = match op {
            Operation::ProposeOnce(v) => {
                let value = *self.value.get_or_insert(*v);
                Outcome::Chosen {
                    value,
                    won: value == *v,
                }
            }
            Operation::Put(v) => {
                self.value = Some(*v);
                Outcome::Written { previous }
            }
            Operation::Delete => {
                self.value = None;
                Outcome::Written { previous }
            }
            Operation::Cas { expected, new } => {
                if previous == *expected {
                    self.value = Some(*new);
                    Outcome::Written { previous }
                } else {
                    Outcome::CasMismatch { current: previous }
                }
            }
            Operation::Read => Outcome::Read { value: previous },
        };
        SpecRet::Completed(outcome)
    }

    fn is_valid_step(&mut self, op: &Operation<Value>, ret: &SpecRet) -> bool {
        match ret {
            SpecRet::NotApplied => true,
            SpecRet::Completed(_) => &self.invoke(op) == ret,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_semantics() {
        let mut r = RegisterSpec::default();
        let done = |o| SpecRet::Completed(o);
        assert_eq!(
            r.invoke(&Operation::Read),
            done(Outcome::Read { value: None })
        );
        assert_eq!(
            r.invoke(&Operation::Cas {
                expected: None,
                new: 'a'
            }),
            done(Outcome::Written { previous: None })
        );
        assert_eq!(
            r.invoke(&Operation::Cas {
                expected: None,
                new: 'b'
            }),
            done(Outcome::CasMismatch { current: Some('a') })
        );
        assert_eq!(
            r.invoke(&Operation::Put('c')),
            done(Outcome::Written {
                previous: Some('a')
            })
        );
        assert_eq!(
            r.invoke(&Operation::ProposeOnce('d')),
            done(Outcome::Chosen {
                value: 'c',
                won: false
            })
        );
        assert_eq!(
            r.invoke(&Operation::Delete),
            done(Outcome::Written {
                previous: Some('c')
            })
        );
        assert!(r.is_valid_step(&Operation::Put('x'), &SpecRet::NotApplied));
        assert_eq!(
            r.invoke(&Operation::Read),
            done(Outcome::Read { value: None }),
            "a step that did not happen changes nothing"
        );
    }
}
