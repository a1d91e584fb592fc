//! Symmetry reduction (placeholder: identity).
use crate::properties::SystemState;
use crate::Protocol;

/// The representative of `state`'s symmetry class.
pub fn representative<P: Protocol>(state: &SystemState<P>) -> SystemState<P> {
    state.clone()
}
