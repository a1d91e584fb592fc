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
//! * [`Acceptor`] — the durable state `{promised, accepted}` and the two rules of the seed's table.
//! * [`Proposer`] — runs an [`Operation`] as rounds: prepare → promises → accept → accepts.
//! * [`Learner`] — learns what was chosen from a `Commit` or a phase-2 quorum of `Accepted`.
//! * [`Quorums`] — majority, or flexible `q1 + q2 > n`, checked at construction.
//! * [`Node`] — one of each for one register, behind the step contract.
//! * [`trace`] — the trace file vocabulary.
//! * [`linearizability`] — a checker of register histories (Wing–Gong with Lowe's memoisation).
//! * [`oracle`] — the ghost definition of *chosen*, for model checks and simulations.
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
mod config;
mod learner;
pub mod linearizability;
mod message;
mod node;
mod operation;
pub mod oracle;
pub mod proposer;
mod quorum;
mod relabel;
mod step;
pub mod trace;
mod value_map;

pub use acceptor::{Acceptor, AcceptorState, Verdict};
pub use ballot::{Ballot, NodeId};
pub use config::{Config, ConfigError, DEFAULT_MAX_ATTEMPTS};
pub use learner::{Chosen, Learner};
pub use message::{Message, Proposal};
pub use node::Node;
pub use operation::{Operation, Outcome, RequestError, RequestId};
pub use proposer::{Phase, Proposer};
pub use quorum::{NodeSet, QuorumError, Quorums, Tally};
pub use relabel::Relabel;
pub use step::{Input, Output, ReplyResult, Timer};
