//! Ghost state: what the model remembers about the past so that properties can speak about it.
//! None of it influences the protocol; the core never sees it.
//!
//! The key record is every acceptance ever made ([`AcceptRecord`]), because *chosen* is defined
//! on history, not on the present: a value is chosen when a phase-2 quorum accepted it **at one
//! ballot** (TLA+'s `Voting.tla`). "A majority currently holds v" is not the definition — at the
//! seed's T7 three nodes hold elanor at two different ballots.

use crate::value::Value;
use std::collections::BTreeMap;
use synod_core::{Ballot, NodeId, ReplyResult};

/// One acceptance by one acceptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AcceptRecord {
    /// The ballot accepted at.
    pub ballot: Ballot,
    /// The value accepted.
    pub value: Option<Value>,
    /// Whether the acceptor had crashed and restarted before accepting.
    pub after_restart: bool,
}

/// A node's ghost state. It is saved with the durable state, so a crash does not erase history.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ghost {
    /// Every acceptance this node's acceptor made, in order.
    pub accepts: Vec<AcceptRecord>,
    /// Whether this node's proposer ever sent an `Accept` (reached phase 2).
    pub reached_accept: bool,
    /// How many times this node restarted after a crash.
    pub restarts: u8,
    /// Consensus mode: the reply to this node's `ProposeOnce`, if one was given.
    pub reply: Option<ReplyResult<Value>>,
    /// Register mode: the client requests this node has already taken (bit `client * 8 + seq`),
    /// so that a duplicated request message is not run twice.
    pub requests_seen: u64,
    /// The one-round-trip shortcuts this node's proposer took, and how they ended (bits of
    /// [`shortcut`]); never set with classic rounds, so it adds no state to those checks.
    pub shortcuts: u8,
}

/// What a proposer's shortcuts did (the bits of [`Ghost::shortcuts`]), for the fast paths'
/// sometimes properties.
pub mod shortcut {
    /// A request took the one-round-trip write: the step that took it sent an `Accept` (so no
    /// `Prepare` of that ballot was ever sent for it).
    pub const FAST_WRITE: u8 = 1;
    /// A one-round-trip write failed (rejections or a timeout) and a full round started at once.
    pub const WRITE_FELL_BACK: u8 = 2;
    /// A read was answered from `Query` / `Report` alone.
    pub const FAST_READ: u8 = 4;
    /// A one-round-trip read failed (a different report or a timeout) and a full round started.
    pub const READ_FELL_BACK: u8 = 8;
}

/// The acceptors of one proposal, each with whether it accepted after a restart.
type Voters = Vec<(NodeId, bool)>;

/// Who accepted what at which ballot, gathered from every node's ghost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcceptHistory {
    votes: BTreeMap<(Ballot, Option<Value>), Voters>,
}

impl AcceptHistory {
    /// Gathers the records of `ghosts` (one per node, with its id).
    pub fn gather<'a>(ghosts: impl IntoIterator<Item = (NodeId, &'a Ghost)>) -> Self {
        let mut votes: BTreeMap<_, Voters> = BTreeMap::new();
        for (node, ghost) in ghosts {
            for r in &ghost.accepts {
                let voters = votes.entry((r.ballot, r.value)).or_default();
                if let Some(v) = voters.iter_mut().find(|(n, _)| *n == node) {
                    v.1 |= r.after_restart;
                } else {
                    voters.push((node, r.after_restart));
                }
            }
        }
        AcceptHistory { votes }
    }

    /// How many distinct acceptors accepted `value` at `ballot`.
    pub fn count(&self, ballot: Ballot, value: Option<Value>) -> usize {
        self.votes.get(&(ballot, value)).map_or(0, Vec::len)
    }

    /// Every proposal accepted by at least `q2` acceptors at one ballot: the chosen ones.
    pub fn chosen(&self, q2: usize) -> impl Iterator<Item = (Ballot, Option<Value>)> + '_ {
        self.votes
            .iter()
            .filter(move |(_, voters)| voters.len() >= q2)
            .map(|(k, _)| *k)
    }

    /// Whether `(ballot, value)` is chosen with some acceptor of its quorum accepting after a
    /// restart.
    pub fn chosen_with_restarted(&self, q2: usize) -> bool {
        self.votes
            .values()
            .any(|voters| voters.len() >= q2 && voters.iter().any(|(_, restarted)| *restarted))
    }

    /// Every accepted proposal, with its number of acceptors.
    pub fn all(&self) -> impl Iterator<Item = (Ballot, Option<Value>, usize)> + '_ {
        self.votes
            .iter()
            .map(|((b, v), voters)| (*b, *v, voters.len()))
    }
}
