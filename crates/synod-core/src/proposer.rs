//! The proposer: runs one client operation as a sequence of rounds (attempts).
//!
//! One round at a time: take the next ballot from the generation clock → prepare → quorum of
//! promises from distinct nodes → apply the operation to the highest-ballot accepted value →
//! accept → (the learner sees the accept quorum) → report the outcome. A reject above our ballot
//! or a round timeout fails the round; the next attempt, after a backoff, takes a higher ballot.
//! Attempts are bounded by configuration.
//!
//! **Retrying a write is subtle.** An attempt that failed *after* sending Accept may still take
//! effect later: a later round that finds its value as the highest accepted one builds on it
//! (the seed's "alice", accepted by a minority, could have been recovered that way). Applying the
//! operation again on top of it would apply it twice. So every failed phase-2 proposal that
//! carries the request's *effect* is kept as **uncertain**, and each later phase-1 quorum decides
//! its fate:
//!
//! 1. an uncertain proposal above every ballot the quorum reports can never take effect (every
//!    accept quorum meets this promise quorum, and all of it promised above it): it is forgotten;
//!    when none is left, the operation is applied afresh;
//! 2. if the highest report is one of them — not necessarily the latest, which may have missed
//!    this quorum while an earlier one reached it — it is proposed again unchanged, with its
//!    original outcome;
//! 3. if someone else's proposal is reported above one of them, whether ours took effect is
//!    unknowable. If applying the operation afresh would change nothing *and* report the outcome
//!    every uncertain proposal would have reported, the answer is the same either way and the
//!    round goes on with it. A `ProposeOnce` otherwise finishes the other proposal unchanged (the
//!    seed's Athens proposes "elanor" at T7) and answers [`RequestError::Indeterminate`]; any other
//!    operation gives up with `Indeterminate` at once.
//!
//! A proposal that re-proposes the current value unchanged (a `Read`, a `Cas` that does not match,
//! a `ProposeOnce` that finds a value) carries no effect: whether or not it is ever chosen, the
//! register's values are the same, so it is never kept as uncertain and the operation may be
//! applied afresh later. No operation is exempt from these rules: a `ProposeOnce` that re-applied
//! on an empty register after its own value was chosen and then deleted would set it twice.
//!
//! **Shortcuts** (docs/protocol.md), when the cluster's [`FastPaths`] turn them on:
//!
//! * a one-round-trip write: every `Accept` carries the proposer's next ballot, and while a
//!   phase-1 quorum's promise of it holds ([`Reservation`]) the next request skips phase 1;
//! * a one-round-trip read: a `Read` first sends `Query` and answers as soon as a read quorum
//!   reports the *same* accepted proposal ([`Quorums::read`]).
//!
//! A shortcut round that fails (a different report, a `Reject`, a timeout) falls back to a full
//! round at once, in the same attempt: a stale shortcut costs one round, never an attempt. A
//! failed one-round-trip write is uncertain like any failed phase 2 — even when enough
//! acceptors refused it that it can never be chosen *at its ballot*, the acceptors that did
//! accept it may report it to a later phase 1, which then builds on it (the deterministic
//! simulation found exactly that when such a write was forgotten as "lost": it was applied
//! twice).
//!
//! This type holds no I/O and sends nothing itself: [`crate::Node`] wires its answers to messages.

use crate::quorum::Tally;
use crate::reservation::Reservation;
use crate::{
    Ballot, FastPaths, NodeId, Operation, Outcome, Proposal, Quorums, ReplyResult, RequestError,
    RequestId,
};

/// Where the proposer is in its current request.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase<V> {
    /// No request.
    Idle,
    /// Phase 1: collecting promises for `ballot`.
    Preparing {
        /// This round's ballot.
        ballot: Ballot,
        /// Distinct promisers so far.
        promises: Tally,
        /// The highest-ballot accepted proposal reported so far.
        highest: Option<Proposal<V>>,
    },
    /// Phase 2: `proposal` was sent for acceptance; `answer` is reported if it is chosen.
    Accepting {
        /// What was proposed.
        proposal: Proposal<V>,
        /// What the caller is told when it is chosen: the operation's outcome, or
        /// `Indeterminate` for a round that only finishes another proposal (module docs, rule 3).
        answer: ReplyResult<V>,
        /// Whether the proposal carries the request's effect (changes the register, or proposes
        /// again an uncertain proposal that did): kept as uncertain if the round fails.
        effect: bool,
    },
    /// The one-round-trip read: `Query` was sent; collecting reports of one accepted proposal.
    Reading {
        /// The proposal every report so far named (the first report sets it).
        reported: Option<Proposal<V>>,
        /// Distinct reporters so far, towards a read quorum.
        reports: Tally,
    },
    /// Between attempts, waiting for the backoff timer.
    Backoff,
}

/// A request in progress: where its round is, and the request. Boxed in [`Proposer`], and
/// absent between requests, so that an idle register (the server caches one per key) carries
/// only a pointer for it. Its fields compare, order and hash as the proposer's `phase` and
/// `pending` did side by side (no round is the idle phase, the lowest), so model states are the
/// same.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Round<V> {
    /// Never [`Phase::Idle`]: an idle proposer has no round.
    phase: Phase<V>,
    pending: Pending<V>,
}

/// The request being worked on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Pending<V> {
    request: RequestId,
    op: Operation<V>,
    attempt: u32,
    /// Every proposal of this request that failed after reaching phase 2 and carries its effect,
    /// with its outcome, in ballot order (any of them may yet take effect until a phase-1 quorum
    /// rules it out).
    uncertain: Vec<(Proposal<V>, Outcome<V>)>,
    /// The round in progress is a shortcut (a one-round-trip write or read): if it fails, a full
    /// round follows at once, in the same attempt.
    shortcut: bool,
}

/// How a request's first round starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Start<V> {
    /// A full round: send `Prepare` for this ballot.
    Prepare(Ballot),
    /// A one-round-trip write: phase 1 is already done, send this `Accept`.
    Accept(Proposed<V>),
    /// A one-round-trip read: send `Query` for the request.
    Query(RequestId),
}

/// A proposal to send for acceptance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proposed<V> {
    /// The proposal.
    pub proposal: Proposal<V>,
    /// The proposer's next ballot, for acceptors to promise with it (one-round-trip writes).
    pub next: Option<Ballot>,
}

/// What a read report led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReadStep<V> {
    /// Not enough equal reports yet (or the report was stale or duplicate).
    Wait,
    /// A read quorum reported one proposal: answer the caller.
    Done(RequestId, ReplyResult<V>),
    /// Reports differ: run a full round now (the caller asks [`Proposer::retry`] for its ballot).
    Fallback,
}

/// What a promise led to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PromiseStep<V> {
    /// Not enough promises yet (or the promise was stale or duplicate).
    Wait,
    /// Phase 1 is complete: send `Accept` for this proposal.
    Propose(Proposed<V>),
    /// The request cannot go on; answer the caller with this error.
    GiveUp(RequestId, RequestError),
}

/// What a failed round leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoundFailure {
    /// Wait for the backoff timer, then run attempt `next_attempt`.
    Retry {
        /// The attempt that will run after the backoff.
        next_attempt: u32,
    },
    /// No attempts left: answer the caller with this error.
    GiveUp(RequestId, RequestError),
    /// A shortcut round failed: run a full round now, in the same attempt (the caller asks
    /// [`Proposer::retry`] for its ballot).
    Fallback,
}

/// One proposer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Proposer<V> {
    id: NodeId,
    quorums: Quorums,
    max_attempts: u32,
    /// The generation clock: the highest round of any ballot seen anywhere. Only the round is
    /// kept: the next ballot is `Ballot::next_above` of it, which reads nothing else.
    generation: u64,
    /// The request in progress and its phase; `None` when idle.
    round: Option<Box<Round<V>>>,
    fast: FastPaths,
    /// Promises of the next ballot gathered from the last `Accept`'s answers.
    reserved: Option<Reservation<V>>,
}

impl<V: Clone + PartialEq> Proposer<V> {
    /// An idle proposer for node `id`, taking the shortcuts in `fast`.
    pub fn new(id: NodeId, quorums: Quorums, max_attempts: u32, fast: FastPaths) -> Self {
        Proposer {
            id,
            quorums,
            max_attempts,
            generation: 0,
            round: None,
            fast,
            reserved: None,
        }
    }

    #[cfg(feature = "model")]
    /// The current phase.
    pub fn phase(&self) -> &Phase<V> {
        self.current_phase()
    }

    #[cfg(feature = "model")]
    /// The generation clock's reading: the highest round seen in any ballot (own or others').
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The current attempt (1-based), if a request is in progress.
    pub fn attempt(&self) -> Option<u32> {
        self.pending().map(|p| p.attempt)
    }

    /// The request in progress and its operation, if any.
    pub fn request(&self) -> Option<(RequestId, &Operation<V>)> {
        self.pending().map(|p| (p.request, &p.op))
    }

    fn pending(&self) -> Option<&Pending<V>> {
        self.round.as_deref().map(|r| &r.pending)
    }

    fn pending_mut(&mut self) -> Option<&mut Pending<V>> {
        self.round.as_deref_mut().map(|r| &mut r.pending)
    }

    /// The current phase: [`Phase::Idle`] without a round.
    fn current_phase(&self) -> &Phase<V> {
        self.round.as_ref().map_or(&Phase::Idle, |r| &r.phase)
    }

    /// Moves the request in progress to `phase`.
    fn set_phase(&mut self, phase: Phase<V>) {
        self.round
            .as_deref_mut()
            .expect("a phase belongs to a request")
            .phase = phase;
    }

    /// Advances the generation clock to the round of a ballot seen in any message.
    pub fn observe(&mut self, ballot: Ballot) {
        self.generation = self.generation.max(ballot.round);
    }

    #[cfg(feature = "model")]
    /// Whether the current request (if any) will start no further round: there is none, or its
    /// last attempt is running. The generation clock is read only when a round starts, so until
    /// the next request it is dead state.
    pub fn starts_no_more_rounds(&self) -> bool {
        self.round.as_deref().is_none_or(|r| {
            let p = &r.pending;
            p.attempt >= self.max_attempts && !p.shortcut && !matches!(r.phase, Phase::Backoff)
        })
    }

    #[cfg(feature = "model")]
    /// Resets the generation clock to zero when it is dead state: no round of the current request
    /// is left to start ([`Self::starts_no_more_rounds`]). Only for a node that will never take
    /// another request either, such as a model checker's node whose script is over; a server
    /// never calls it.
    pub fn forget_clock(&mut self) {
        if self.starts_no_more_rounds() {
            self.generation = 0;
            // Read when a request begins, and by `on_reject` while one runs (an echo of our
            // own next ballot is ignored): dead once no request is left.
            if self.round.is_none() {
                self.reserved = None;
            }
        }
    }

    #[cfg(feature = "model")]
    /// Takes the uncertain proposals of the current request out of the proposer, in ballot
    /// order. **Unsafe** with [`Self::restore_uncertain`]: only for the model checker's buggy
    /// double of the retry rule that re-applied a `ProposeOnce` freely
    /// (`synod-model`'s `bugs::RetryReappliesOnce`), which hides them while a phase-1 quorum
    /// completes.
    pub fn take_uncertain(&mut self) -> Vec<(Proposal<V>, Outcome<V>)> {
        self.pending_mut()
            .map(|p| std::mem::take(&mut p.uncertain))
            .unwrap_or_default()
    }

    #[cfg(feature = "model")]
    /// Puts back proposals taken by [`Self::take_uncertain`], before any recorded since.
    pub fn restore_uncertain(&mut self, mut earlier: Vec<(Proposal<V>, Outcome<V>)>) {
        if let Some(p) = self.pending_mut() {
            earlier.append(&mut p.uncertain);
            p.uncertain = earlier;
        }
    }

    /// Takes a new request and starts its first round: a full round, or a shortcut (module
    /// docs). `floor` is the node's own promise, which a new ballot must exceed (it survives
    /// crashes, so a restarted proposer never reuses a ballot).
    pub fn begin(
        &mut self,
        request: RequestId,
        op: Operation<V>,
        floor: Ballot,
    ) -> Result<Start<V>, RequestError> {
        self.begin_with(request, op, floor, true)
    }

    /// Takes a membership change's catch-up of this register: a `Read` that runs a full round —
    /// never the one-round-trip read, never a reserved ballot (which is dropped) — so that its
    /// answer means the current value was accepted again, at a new ballot of this node's
    /// generation, by a phase-2 quorum of its configuration (docs/protocol.md, "The
    /// catch-up"). Returns the round's ballot.
    pub fn begin_catch_up(
        &mut self,
        request: RequestId,
        floor: Ballot,
    ) -> Result<Ballot, RequestError> {
        self.drop_reservation();
        match self.begin_with(request, Operation::Read, floor, false)? {
            Start::Prepare(ballot) => Ok(ballot),
            Start::Accept(_) | Start::Query(_) => {
                unreachable!("a catch-up takes no shortcut")
            }
        }
    }

    fn begin_with(
        &mut self,
        request: RequestId,
        op: Operation<V>,
        floor: Ballot,
        shortcuts: bool,
    ) -> Result<Start<V>, RequestError> {
        self.check_invariants();
        if self.round.is_some() {
            return Err(RequestError::Busy);
        }
        let read = matches!(op, Operation::Read);
        self.round = Some(Box::new(Round {
            // Set by every branch below.
            phase: Phase::Idle,
            pending: Pending {
                request,
                op,
                attempt: 1,
                uncertain: Vec::new(),
                shortcut: false,
            },
        }));
        let start = if shortcuts && read && self.fast.reads {
            self.set_shortcut();
            self.set_phase(Phase::Reading {
                reported: None,
                reports: Tally::new(self.quorums.read()),
            });
            Start::Query(request)
        } else if let Some((ballot, base)) =
            shortcuts.then(|| self.take_reservation(floor)).flatten()
        {
            // Phase 1 of the reserved ballot is complete, and its highest report is `base`.
            self.set_shortcut();
            self.set_phase(Phase::Preparing {
                ballot,
                promises: Tally::new(self.quorums.q1()),
                highest: None,
            });
            match self.choose_proposal(ballot, Some(base)) {
                PromiseStep::Propose(proposed) => Start::Accept(proposed),
                // A new request has no uncertain proposal, so phase 1 always leads to a proposal.
                PromiseStep::Wait | PromiseStep::GiveUp(..) => {
                    unreachable!("a fresh request always proposes after phase 1")
                }
            }
        } else {
            Start::Prepare(self.start_round(floor))
        };
        self.check_invariants();
        Ok(start)
    }

    /// Takes the reservation if it is usable now: its ballot and phase 1's highest report. An
    /// unusable one is dropped (its ballot is behind what this node has seen).
    fn take_reservation(&mut self, floor: Ballot) -> Option<(Ballot, Proposal<V>)> {
        let reserved = self.reserved.take()?;
        let (ballot, base) = reserved.usable(self.generation, floor)?;
        Some((ballot, base.clone()))
    }

    fn set_shortcut(&mut self) {
        if let Some(p) = self.pending_mut() {
            p.shortcut = true;
        }
    }

    /// Counts the votes of later rounds with `quorums` (a newly installed configuration's);
    /// the caller ends the round in progress.
    pub(crate) fn set_quorums(&mut self, quorums: Quorums) {
        self.quorums = quorums;
    }

    /// Forgets the one-round-trip reservation (the own acceptor did not promise its ballot, or
    /// a new configuration was installed).
    pub fn drop_reservation(&mut self) {
        self.reserved = None;
    }

    /// Counts `from`'s `Accepted(ballot)` as a promise of the reserved next ballot, if it
    /// answers the proposal that carried it.
    pub fn on_accepted(&mut self, from: NodeId, ballot: Ballot) {
        if let Some(r) = self.reserved.as_mut() {
            r.on_accepted(from, ballot);
        }
    }

    /// Counts `from`'s report of its accepted proposal for the read `request`.
    pub fn on_report(
        &mut self,
        from: NodeId,
        request: RequestId,
        accepted: Option<Proposal<V>>,
    ) -> ReadStep<V> {
        self.check_invariants();
        let Some(round) = self.round.as_deref_mut() else {
            return ReadStep::Wait;
        };
        let Phase::Reading { reported, reports } = &mut round.phase else {
            return ReadStep::Wait;
        };
        let pending = &round.pending;
        if pending.request != request || reports.voters().contains(from) {
            return ReadStep::Wait;
        }
        if reports.voters().is_empty() {
            *reported = accepted;
        } else if *reported != accepted {
            // Not one proposal: what is chosen and current is unknown. Ask with a full round.
            round.phase = Phase::Backoff;
            self.check_invariants();
            return ReadStep::Fallback;
        }
        if !reports.add(from) {
            return ReadStep::Wait;
        }
        // A read quorum accepted one proposal: it is chosen, and nothing chosen before the read
        // began is above it (every phase-2 quorum meets this one).
        let value = reported.take().and_then(|p| p.value);
        let (_, outcome) = pending.op.apply(value.as_ref());
        let request = pending.request;
        self.finish();
        self.check_invariants();
        ReadStep::Done(request, Ok(outcome))
    }

    /// The backoff is over: starts the next attempt's round, returning its ballot.
    pub fn retry(&mut self, floor: Ballot) -> Option<Ballot> {
        self.check_invariants();
        if !matches!(self.current_phase(), Phase::Backoff) {
            return None;
        }
        let ballot = self.start_round(floor);
        self.check_invariants();
        Some(ballot)
    }

    fn start_round(&mut self, floor: Ballot) -> Ballot {
        if let Some(p) = self.pending_mut() {
            p.shortcut = false;
        }
        let seen = Ballot::new(self.generation.max(floor.round), self.id);
        let ballot = Ballot::next_above(seen, self.id);
        check_new_ballot(ballot, self.generation, floor);
        self.generation = ballot.round;
        self.set_phase(Phase::Preparing {
            ballot,
            promises: Tally::new(self.quorums.q1()),
            highest: None,
        });
        ballot
    }

    /// Counts a promise from `from` for `ballot`, reporting `accepted`.
    pub fn on_promise(
        &mut self,
        from: NodeId,
        ballot: Ballot,
        accepted: Option<Proposal<V>>,
    ) -> PromiseStep<V> {
        self.check_invariants();
        let Some(Round {
            phase:
                Phase::Preparing {
                    ballot: current,
                    promises,
                    highest,
                },
            ..
        }) = self.round.as_deref_mut()
        else {
            return PromiseStep::Wait;
        };
        if *current != ballot || promises.voters().contains(from) {
            return PromiseStep::Wait;
        }
        if let Some(reported) = accepted {
            if highest.as_ref().is_none_or(|h| reported.ballot > h.ballot) {
                *highest = Some(reported);
            }
        }
        if !promises.add(from) {
            return PromiseStep::Wait;
        }
        let highest = highest.take();
        let step = self.choose_proposal(ballot, highest);
        self.check_invariants();
        step
    }

    /// Phase 1 is complete: decide what to propose (see the module docs on uncertain writes).
    fn choose_proposal(&mut self, ballot: Ballot, highest: Option<Proposal<V>>) -> PromiseStep<V> {
        debug_assert_eq!(
            self.current_ballot(),
            Some(ballot),
            "proposer invariant: the proposal's ballot is the round's ballot"
        );
        let pending = self.pending_mut().expect("a round runs only for a request");
        let highest_ballot = highest.as_ref().map(|h| h.ballot);
        let current = highest.and_then(|h| h.value);
        // Rule 1: an uncertain proposal above everything this quorum reports can never take
        // effect now (every accept quorum meets this promise quorum, all promised above it).
        pending
            .uncertain
            .retain(|(earlier, _)| Some(earlier.ballot) <= highest_ballot);
        let (fresh, fresh_outcome) = pending.op.apply(current.as_ref());
        let fresh_changes = fresh != current;
        let ours = pending
            .uncertain
            .iter()
            .find(|(earlier, _)| Some(earlier.ballot) == highest_ballot);
        let (value, answer, effect) = if pending.uncertain.is_empty() {
            (fresh, Ok(fresh_outcome), fresh_changes)
        } else if let Some((earlier, outcome)) = ours {
            // Rule 2: the highest is one of our own proposals: it may take effect, so keep it.
            (earlier.value.clone(), Ok(outcome.clone()), true)
        } else if !fresh_changes && pending.uncertain.iter().all(|(_, o)| *o == fresh_outcome) {
            // Rule 3, same answer either way: ours took effect with this outcome, or it never
            // will and the operation, applied now, changes nothing and reports the same.
            (fresh, Ok(fresh_outcome), false)
        } else if matches!(pending.op, Operation::ProposeOnce(_)) {
            // Rule 3, a `ProposeOnce`: finish the other proposal unchanged, then say that ours
            // may or may not have taken effect.
            (current, Err(RequestError::Indeterminate), false)
        } else {
            // Rule 3: someone else's proposal sits above one of ours that may take effect.
            let request = pending.request;
            self.finish();
            return PromiseStep::GiveUp(request, RequestError::Indeterminate);
        };
        let proposal = Proposal { ballot, value };
        let next = (self.fast.writes && ballot.round < u64::MAX)
            .then(|| Ballot::next_above(ballot, self.id));
        self.reserved =
            next.map(|next| Reservation::new(next, proposal.clone(), self.quorums.q1()));
        self.set_phase(Phase::Accepting {
            proposal: proposal.clone(),
            answer,
            effect,
        });
        PromiseStep::Propose(Proposed { proposal, next })
    }

    /// The learner saw `ballot` chosen. If it is this proposer's current proposal, the request
    /// is complete: returns the request and the outcome to report.
    pub fn on_chosen(&mut self, ballot: Ballot) -> Option<(RequestId, ReplyResult<V>)> {
        self.check_invariants();
        let Phase::Accepting {
            proposal, answer, ..
        } = self.current_phase()
        else {
            return None;
        };
        if proposal.ballot != ballot {
            return None;
        }
        let answer = answer.clone();
        let request = self.finish()?;
        self.check_invariants();
        Some((request, answer))
    }

    /// An acceptor refused `ballot` because it promised `promised`. Fails the current round
    /// if `ballot` is its ballot and `promised` is above it; a reject that only echoes our own
    /// ballot back (a duplicated Prepare) or our own reserved next ballot (a duplicated `Accept`
    /// reaching an acceptor that already accepted it and promised the next) is ignored.
    pub fn on_reject(&mut self, ballot: Ballot, promised: Ballot) -> Option<RoundFailure> {
        self.check_invariants();
        self.observe(promised);
        let own_reservation = self.reserved.as_ref().is_some_and(|r| r.next() == promised);
        if promised <= ballot || self.current_ballot() != Some(ballot) || own_reservation {
            return None;
        }
        let failure = self.fail_round();
        self.check_invariants();
        failure
    }

    /// The round timer fired: fails the current round, if one is running.
    pub fn on_round_timeout(&mut self) -> Option<RoundFailure> {
        self.check_invariants();
        if matches!(self.current_phase(), Phase::Idle | Phase::Backoff) {
            return None;
        }
        let failure = self.fail_round();
        self.check_invariants();
        failure
    }

    /// The ballot of the round in progress, if any.
    pub fn current_ballot(&self) -> Option<Ballot> {
        match self.current_phase() {
            Phase::Preparing { ballot, .. } => Some(*ballot),
            Phase::Accepting { proposal, .. } => Some(proposal.ballot),
            Phase::Idle | Phase::Reading { .. } | Phase::Backoff => None,
        }
    }

    fn fail_round(&mut self) -> Option<RoundFailure> {
        let round = self.round.as_deref_mut()?;
        let phase = std::mem::replace(&mut round.phase, Phase::Backoff);
        let pending = &mut round.pending;
        if let Phase::Accepting {
            proposal,
            answer: Ok(outcome),
            effect: true,
        } = phase
        {
            pending.uncertain.push((proposal, outcome));
        }
        if pending.shortcut {
            pending.shortcut = false;
            return Some(RoundFailure::Fallback);
        }
        if pending.attempt < self.max_attempts {
            pending.attempt += 1;
            return Some(RoundFailure::Retry {
                next_attempt: pending.attempt,
            });
        }
        let error = if !pending.uncertain.is_empty() {
            RequestError::Indeterminate
        } else {
            RequestError::Exhausted {
                attempts: pending.attempt,
            }
        };
        let request = pending.request;
        self.finish();
        Some(RoundFailure::GiveUp(request, error))
    }

    fn finish(&mut self) -> Option<RequestId> {
        self.round.take().map(|r| r.pending.request)
    }

    /// The proposer's invariants (debug builds), checked on entry to and exit from every method
    /// that moves it between phases:
    ///
    /// * a request is pending exactly when the phase is not `Idle`, and its attempt is in range;
    /// * a `Preparing` round has not yet reached its phase-1 quorum (a complete one moves on);
    /// * an `Accepting` round that only finishes another proposal carries no effect;
    /// * the uncertain proposals are in strictly increasing ballot order, all below the ballot
    ///   of the round in progress (below the saturated round `u64::MAX`, which only a forged
    ///   message reaches and where ballots repeat: see [`Ballot::next_above`]).
    fn check_invariants(&self) {
        let Some(round) = self.round.as_deref() else {
            return;
        };
        debug_assert!(
            !matches!(round.phase, Phase::Idle),
            "proposer invariant: a request is pending exactly when the phase is not Idle"
        );
        let pending = &round.pending;
        debug_assert!(
            (1..=self.max_attempts.max(1)).contains(&pending.attempt),
            "proposer invariant: the attempt is within 1..=max_attempts"
        );
        match &round.phase {
            Phase::Preparing { promises, .. } => debug_assert!(
                !promises.reached(),
                "proposer invariant: a Preparing round has not reached its quorum"
            ),
            Phase::Accepting { answer, effect, .. } => debug_assert!(
                answer.is_ok() || !effect,
                "proposer invariant: a round that only finishes another proposal has no effect"
            ),
            Phase::Reading { reports, .. } => debug_assert!(
                !reports.reached() && pending.shortcut,
                "proposer invariant: a Reading round is a shortcut short of its read quorum"
            ),
            Phase::Idle | Phase::Backoff => {}
        }
        check_uncertain(&pending.uncertain, self.current_ballot());
    }
}

/// A new round's ballot is above everything the proposer has seen: its generation clock and
/// the floor (its own acceptor's promise). The saturated round `u64::MAX` cannot be exceeded
/// (see [`Ballot::next_above`]) and is exempt.
fn check_new_ballot(ballot: Ballot, generation: u64, floor: Ballot) {
    debug_assert!(
        ballot.round == u64::MAX || (ballot.round > generation && ballot > floor),
        "proposer invariant: a new ballot is above the generation clock and the floor"
    );
}

/// The uncertain proposals are in strictly increasing ballot order, all below the ballot of the
/// round in progress (if any). Ballots at the saturated round `u64::MAX` are exempt.
fn check_uncertain<V>(uncertain: &[(Proposal<V>, Outcome<V>)], current: Option<Ballot>) {
    let below = |a: Ballot, b: Ballot| a < b || b.round == u64::MAX;
    debug_assert!(
        uncertain
            .windows(2)
            .all(|w| below(w[0].0.ballot, w[1].0.ballot)),
        "proposer invariant: uncertain proposals are in strictly increasing ballot order"
    );
    debug_assert!(
        current.is_none_or(|current| uncertain.iter().all(|(p, _)| below(p.ballot, current))),
        "proposer invariant: uncertain proposals are below the current round's ballot"
    );
}
#[cfg(feature = "model")]
impl<V: Clone> crate::Relabel for Proposer<V> {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Proposer {
            id: map(self.id),
            quorums: self.quorums,
            max_attempts: self.max_attempts,
            generation: self.generation,
            fast: self.fast,
            reserved: self.reserved.as_ref().map(|r| r.relabel(map)),
            round: self.round.as_deref().map(|r| {
                let p = &r.pending;
                Box::new(Round {
                    phase: r.phase.relabel(map),
                    pending: Pending {
                        request: p.request,
                        op: p.op.clone(),
                        attempt: p.attempt,
                        shortcut: p.shortcut,
                        uncertain: p
                            .uncertain
                            .iter()
                            .map(|(proposal, outcome)| (proposal.relabel(map), outcome.clone()))
                            .collect(),
                    },
                })
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(round: u64, node: u8) -> Ballot {
        Ballot::new(round, NodeId(node))
    }

    fn written(ballot: Ballot) -> (Proposal<u8>, Outcome<u8>) {
        (
            Proposal {
                ballot,
                value: Some(1),
            },
            Outcome::Written { previous: None },
        )
    }

    #[test]
    fn the_invariants_hold_through_a_round_and_a_retry() {
        let mut p =
            Proposer::<u8>::new(NodeId(1), Quorums::majority(3).unwrap(), 3, FastPaths::NONE);
        let Start::Prepare(first) = p.begin(RequestId(1), Operation::Put(1), b(4, 2)).unwrap()
        else {
            panic!("classic rounds start with a prepare");
        };
        assert!(first > b(4, 2));
        assert!(matches!(
            p.on_reject(first, b(9, 3)),
            Some(RoundFailure::Retry { next_attempt: 2 })
        ));
        let second = p.retry(b(4, 2)).unwrap();
        assert!(second > b(9, 3), "above the generation clock");
        p.check_invariants();
        // The saturated round is exempt: ballots there repeat without tripping a check.
        check_new_ballot(b(u64::MAX, 1), u64::MAX, b(u64::MAX, 3));
        check_uncertain(
            &[written(b(u64::MAX, 1)), written(b(u64::MAX, 1))],
            Some(b(u64::MAX, 1)),
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "proposer invariant: a new ballot is above the generation clock")]
    fn a_ballot_below_the_generation_clock_is_caught() {
        check_new_ballot(b(3, 1), 5, Ballot::ZERO);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "proposer invariant: uncertain proposals are in strictly increasing")]
    fn uncertain_proposals_out_of_order_are_caught() {
        check_uncertain(&[written(b(2, 1)), written(b(1, 1))], None);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "proposer invariant: uncertain proposals are below the current")]
    fn an_uncertain_proposal_at_the_current_ballot_is_caught() {
        check_uncertain(&[written(b(1, 1)), written(b(2, 1))], Some(b(2, 1)));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "proposer invariant: a request is pending exactly when")]
    fn a_request_in_the_idle_phase_is_caught() {
        let mut p =
            Proposer::<u8>::new(NodeId(1), Quorums::majority(3).unwrap(), 3, FastPaths::NONE);
        p.begin(RequestId(1), Operation::Read, Ballot::ZERO)
            .unwrap();
        p.set_phase(Phase::Idle);
        p.check_invariants();
    }
}
