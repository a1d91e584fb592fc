//! The membership-change model (docs/protocol.md, "Membership change"; docs/model.md): the
//! core's `Node`s, an **admin** that walks the steps of [`synod_core::plan`] — installing each
//! configuration node by node, in any interleaving, and running the catch-up before a step that
//! needs one — clients, crashes and the duplicating network, all interleaved.
//!
//! It is a model of its own, beside the fixed-membership one in [`crate::model`], because nodes
//! join during a run and every message carries a configuration generation. The checked model
//! has reductions of its own ([`reduction`]); trace export and check use it without them.
//!
//! * [`scenario`] — what to explore: the change, the clients, who may crash, the buggy doubles;
//! * [`state`] — the system state: nodes, network, clients, admin, ghost history;
//! * [`model`] — the actions and how each steps the core;
//! * [`reduction`] — what the checked model forgets after each action, and why it is sound;
//! * [`quorum`] — quorum transitions: the checked model delivers a quorum's votes in one action;
//! * [`properties`] — agreement, learned is chosen, linearizable, and each step reached;
//! * [`run`] — an exhaustive check with a verdict (PASS / FAIL / INCOMPLETE) and a listing;
//! * [`command`] — `synod-model membership`'s arguments, and a check's record for the reports;
//! * [`guided`] — a guided path through the replacement of a crashed member;
//! * [`trace`] — model actions as trace steps; [`trace_export`] — membership paths as trace
//!   files; [`trace_check`] — trace files with `install` steps replayed in this model.

pub mod command;
pub mod guided;
pub mod model;
pub mod properties;
pub mod quorum;
pub mod reduction;
pub mod run;
pub mod scenario;
pub mod state;
pub mod trace;
pub mod trace_check;
pub mod trace_export;

pub use model::MembershipModel;
pub use scenario::{MembershipBug, MembershipConfig, Scenario};
