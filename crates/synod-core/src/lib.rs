//! # synod-core — single-decree Paxos as pure state machines
//!
//! The Synod protocol (Lamport's *Part-Time Parliament*, the pattern *Paxos* of *Patterns of
//! Distributed Systems*) with no I/O, no clocks and no threads. The stateright model
//! (`synod-model`) and the production server (`synod-server`) both drive these types unchanged,
//! so a model check is a check of the code that ships.
//!
//! ## The roles
//!
//! * [`Ballot`] — the generation clock: `(round, node)`, ordered by round then node.
//! * [`Message`] — the only protocol message type, on the wire and in the model.
//! * the acceptor — the durable state [`AcceptorState`] `{promised, accepted}` and the two rules
//!   of the pattern's table (docs/pattern.md);
//! * the proposer — runs an [`Operation`] as rounds: prepare → promises → accept → accepts;
//! * the learner — learns what was chosen from a `Commit` or a phase-2 quorum of `Accepted`;
//! * [`Quorums`] — majority, or flexible `q1 + q2 > n`, checked at construction ([`Config`]);
//! * [`Node`] — one of each for one register, behind the step contract;
//! * [`Configuration`] — one generation of the acceptor set (prepare and accept sets with their
//!   quorum sizes), and [`plan`] — the steps of a membership change (docs/protocol.md).
//!
//! A runtime only needs [`Node`], its [`Config`], the messages and the step contract's types.
//! The roles themselves (`Acceptor`, `Proposer`, `Learner`, `Phase`, `Tally`) and the hooks a
//! model checker needs (renaming nodes for symmetry, forgetting dead state, reaching into the
//! proposer for buggy doubles) are public only with the `model` cargo feature, which
//! `synod-model` enables and a server never does.
//!
//! The tools that check these types — the trace file vocabulary, the linearizability checker and
//! the ghost oracle of what was chosen — live in the `synod-check` crate.
//!
//! ## The step contract
//!
//! A runtime feeds a [`Node`] one [`Input`] at a time (`on_message`, `on_request`, `on_timeout`,
//! or [`Node::step`] with a reusable buffer) and receives an **ordered** list of [`Output`]s:
//! `Persist`, `Send`, `Broadcast`, `Reply`, `SetTimer`, `CancelTimer`, `Learned`. It must carry
//! them out in order, and **make every `Persist` durable before it transmits any message that
//! comes after it** — in the same step's list or in a later step's. Batching many steps' persists
//! into one fsync (group commit) is allowed as long as their messages wait for it.
//!
//! Messages a node addresses to itself are delivered inline within the step, never output;
//! `Broadcast` means "every other member". Duplicated, reordered or lost messages are all
//! harmless to safety; timers only affect liveness.
//!
//! ```
//! use synod_core::{Config, Node, NodeId, Operation, Output, RequestId, Message};
//!
//! let members = [NodeId(1), NodeId(2), NodeId(3)];
//! let mut a = Node::<String>::new(Config::new(NodeId(1), members).unwrap());
//! let out = a.on_request(RequestId(1), Operation::ProposeOnce("alice".into()));
//! // Node 1 promised its own ballot: that state is persisted before the Prepare goes out.
//! let persist = out.iter().position(|o| matches!(o, Output::Persist(_))).unwrap();
//! let prepare = out.iter().position(|o| matches!(o, Output::Broadcast { msg: Message::Prepare { .. } })).unwrap();
//! assert!(persist < prepare);
//! ```

mod acceptor;
mod ballot;
mod cluster_spec;
mod config;
mod configuration;
mod learner;
mod membership;
mod message;
mod node;
mod operation;
mod proposer;
mod quorum;
#[cfg(feature = "model")]
mod relabel;
mod reservation;
mod step;
mod value_map;

pub use acceptor::AcceptorState;
#[cfg(feature = "model")]
pub use acceptor::{Acceptor, Verdict};
pub use ballot::{Ballot, NodeId};
pub use cluster_spec::{ClusterSpec, FastPaths, DEFAULT_MAX_ATTEMPTS};
pub use config::{Config, ConfigError};
pub use configuration::{quorums_meet, Configuration, MembershipError};
#[cfg(feature = "model")]
pub use learner::{Chosen, Learner};
pub use membership::{check_plan, check_plan_since, plan, plan_since, Step};
pub use message::{Message, Proposal};
pub use node::Node;
pub use operation::{Operation, Outcome, RequestError, RequestId};
#[cfg(feature = "model")]
pub use proposer::{Phase, Proposer};
#[cfg(feature = "model")]
pub use quorum::Tally;
pub use quorum::{majority, NodeSet, QuorumError, Quorums};
#[cfg(feature = "model")]
pub use relabel::Relabel;
pub use step::{Input, Output, ReplyResult, Timer};
