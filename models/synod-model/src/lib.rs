//! # synod-model — an exhaustive stateright model of `synod-core`
//!
//! Every node actor delegates every event to the core's `Node` through a [`Protocol`] (the
//! shipped code is [`Correct`]), so a model check is a check of the code that ships. The model
//! adds only what a runtime adds — a network, timers, crashes with durable storage, clients —
//! and ghost history for the properties.
//!
//! * [`config`] — what to explore; [`script`] — register-mode client scripts.
//! * [`actor`] — node and client actors (core outputs → stateright commands).
//! * [`properties`] — agreement, validity, learned-is-chosen, linearizability, reachability.
//! * [`model`] — builds the stateright model; [`check`] — runs it and classifies the result;
//!   [`stop`] — the deadline and memory bound that end a check early (INCOMPLETE).
//! * [`counterexample`] — renders a path as a message-sequence listing and a core trace;
//!   [`notation`] — the one-line rendering of values, messages and actions it shares with the
//!   Explorer; [`sequence_diagram`] — a path as SVG (the model's `as_svg`).
//! * [`explorer`] — the Explorer's server (`synod-model explore`): [`state_view`], the compact
//!   state text; [`state_properties`], every property at one state; [`explorer_path`], paths as
//!   action indices.
//! * [`presets`] — named sets of larger proofs (`check --preset`).
//! * [`report`] — the verdicts as JSON records (`--json`); [`junit`] — the same as JUnit XML
//!   (`--junit`).
//! * [`symmetry`] — symmetry reduction over interchangeable nodes; [`quorum_transitions`] — a
//!   quorum's worth of votes delivered as one action.
//! * [`bugs`] — buggy test doubles that the checker must catch; [`chosen_protocol`] — the core
//!   or one double, chosen at run time as one type (`--bug`).
//! * [`walk`] — every reachable state, one by one, for tools and tests.
//! * [`trace_export`] — model paths as trace files; [`trace_check`] — trace files replayed in the model; [`step_outputs`] — a step's core outputs;
//!   [`path_search`] — the deterministic search and minimisation both exports find paths with.

pub mod actor;
pub mod bugs;
pub mod check;
pub mod chosen_protocol;
pub mod client_history;
pub mod config;
pub mod counterexample;
pub mod explorer;
pub mod explorer_path;
pub mod ghost;
pub mod junit;
pub mod membership;
pub mod message;
pub mod model;
pub mod notation;
pub mod path_search;
pub mod presets;
pub mod properties;
pub mod protocol;
pub mod quorum_transitions;
pub mod register_spec;
pub mod report;
pub mod script;
pub mod sequence_diagram;
pub mod state_properties;
pub mod state_view;
pub mod step_outputs;
pub mod stop;
pub mod symmetry;
pub mod trace_check;
pub mod trace_export;
pub mod value;
pub mod walk;

pub use config::{ConfigError, Mode, ModelConfig, NetworkKind};
pub use protocol::{Correct, Protocol};
pub use value::Value;
