//! Paths of the Explorer: a path is the faithful model's initial-state index (always 0: the model
//! has one initial state) followed by one action index per step, each an index into the state's
//! actions **sorted** ([`choices`]) — stateright's own indices follow the network's hash-set
//! order, which changes from one process to the next, so a path `check` prints would open another
//! path in the Explorer. The same indices make the Explorer's `#/steps/0/…` URLs.

use crate::message::Action;
use crate::model::SynodModel;
use crate::properties::SystemState;
use crate::Protocol;
use stateright::{Model, Path};
use std::fmt;

/// Why indices do not name a path of the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathError {
    /// A component is not a number.
    NotAnIndex(String),
    /// The first index is not an initial state.
    NoInitialState(usize),
    /// Step `step` (1-based) names an action the state before it does not have.
    NoSuchAction {
        /// The step.
        step: usize,
        /// The index asked for.
        index: usize,
        /// How many actions the state has.
        choices: usize,
    },
    /// Step `step` names an action the model ignores at that state (it changes nothing).
    Ignored {
        /// The step.
        step: usize,
        /// The index asked for.
        index: usize,
    },
    /// A path of the checked model that the faithful model does not replay.
    NotFaithful(usize),
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::NotAnIndex(s) => {
                write!(f, "'{s}' is not an action index (a path is 0/i/j/…)")
            }
            PathError::NoInitialState(i) => {
                write!(f, "there is no initial state {i}: the model has one, 0")
            }
            PathError::NoSuchAction {
                step,
                index,
                choices,
            } => write!(
                f,
                "step {step}: there is no action {index} at this state (it has {choices}, 0 to {})",
                choices.saturating_sub(1)
            ),
            PathError::Ignored { step, index } => {
                write!(
                    f,
                    "step {step}: action {index} changes nothing at this state"
                )
            }
            PathError::NotFaithful(step) => {
                write!(f, "step {step} is not a step of the faithful model")
            }
        }
    }
}

impl std::error::Error for PathError {}

/// The actions of `model` at `state`, in the Explorer's (sorted) order.
pub fn choices<P: Protocol>(model: &SynodModel<P>, state: &SystemState<P>) -> Vec<Action> {
    let mut actions = Vec::new();
    model.actions(state, &mut actions);
    actions.sort_unstable();
    actions
}

/// Parses `0/1/3` (leading and trailing `/` allowed; empty means the initial state).
pub fn parse(text: &str) -> Result<Vec<usize>, PathError> {
    text.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| PathError::NotAnIndex(s.to_string())))
        .collect()
}

/// The states and actions that `indices` name in `model` (`indices[0]` the initial state).
pub fn replay<P: Protocol>(
    model: &SynodModel<P>,
    indices: &[usize],
) -> Result<Path<SystemState<P>, Action>, PathError> {
    let init_index = indices.first().copied().unwrap_or(0);
    let init = model
        .init_states()
        .into_iter()
        .nth(init_index)
        .ok_or(PathError::NoInitialState(init_index))?;
    let mut state = init.clone();
    let mut actions = Vec::new();
    for (k, &index) in indices.iter().enumerate().skip(1) {
        let all = choices(model, &state);
        let action = all.get(index).cloned().ok_or(PathError::NoSuchAction {
            step: k,
            index,
            choices: all.len(),
        })?;
        state = model
            .next_state(&state, action.clone())
            .ok_or(PathError::Ignored { step: k, index })?;
        actions.push(action);
    }
    Ok(Path::from_actions(model, init, &actions).expect("every action was just replayed"))
}

/// The indices of `path` (a path of the faithful model, as `check` prints) in `faithful`.
pub fn encode<P: Protocol>(
    faithful: &SynodModel<P>,
    path: &Path<SystemState<P>, Action>,
) -> Result<Vec<usize>, PathError> {
    let mut state = faithful
        .init_states()
        .into_iter()
        .next()
        .ok_or(PathError::NoInitialState(0))?;
    let mut indices = vec![0];
    for (k, action) in path.clone().into_actions().into_iter().enumerate() {
        let index = choices(faithful, &state)
            .iter()
            .position(|a| *a == action)
            .ok_or(PathError::NotFaithful(k + 1))?;
        state = faithful
            .next_state(&state, action)
            .ok_or(PathError::NotFaithful(k + 1))?;
        indices.push(index);
    }
    Ok(indices)
}

/// `0/1/3` for the indices `[0, 1, 3]`.
pub fn format(indices: &[usize]) -> String {
    let parts: Vec<String> = indices.iter().map(usize::to_string).collect();
    parts.join("/")
}

/// The URL that opens `indices` in an Explorer on `port`.
pub fn url(port: u16, indices: &[usize]) -> String {
    format!("http://127.0.0.1:{port}/#/steps/{}", format(indices))
}
