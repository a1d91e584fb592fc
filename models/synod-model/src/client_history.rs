//! The clients' history for the linearizability check, kept as stateright's auxiliary history
//! (`ActorModel`'s `H`) and updated only from envelopes: a client's `Request` leaving it is the
//! invocation, a `Reply` reaching it is the return.
//!
//! Each client is a "thread" of the tester. A request answered `Indeterminate` stays in flight
//! forever (it may take effect at any later time, or never); the client then continues as a new
//! thread (its *epoch* goes up), because a tester thread has one operation in flight at a time.

use crate::config::ModelConfig;
use crate::message::{request_owner, ModelMsg};
use crate::register_spec::{RegisterSpec, SpecRet};
use stateright::actor::Envelope;
use stateright::semantics::{ConsistencyTester, LinearizabilityTester};
use synod_core::RequestId;

/// A tester thread: (client, epoch).
pub type Thread = (u8, u8);

/// Register-mode history; empty and unused in consensus mode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientHistory {
    tester: LinearizabilityTester<Thread, RegisterSpec>,
    /// Per client: its current epoch and the request it waits for.
    clients: Vec<(u8, Option<RequestId>)>,
    /// Index of the first node that never receives requests. Constant over a run; kept here
    /// because stateright's symmetry representative is a plain function of the state.
    first_passive: u8,
}

impl ClientHistory {
    /// An empty history for `clients` clients, in a cluster whose nodes from index
    /// `first_passive` on never receive requests.
    pub fn new(clients: usize, first_passive: usize) -> Self {
        ClientHistory {
            tester: LinearizabilityTester::new(RegisterSpec::default()),
            clients: vec![(0, None); clients],
            first_passive: first_passive as u8,
        }
    }

    /// Index of the first node that never receives requests (the interchangeable ones follow).
    pub fn first_passive(&self) -> usize {
        self.first_passive as usize
    }

    /// Whether the recorded history is linearizable.
    pub fn is_linearizable(&self) -> bool {
        self.tester.serialized_history().is_some()
    }

    /// A client's request left it: the invocation.
    pub fn on_request(
        _cfg: &ModelConfig,
        history: &Self,
        env: Envelope<&ModelMsg>,
    ) -> Option<Self> {
        let ModelMsg::Request { request, op } = env.msg else {
            return None;
        };
        let (client, _) = request_owner(*request)?;
        let mut next = history.clone();
        let (epoch, waiting) = next.clients.get_mut(client)?;
        *waiting = Some(*request);
        let _ = next.tester.on_invoke((client as u8, *epoch), op.clone());
        Some(next)
    }

    /// A reply reached its client: the return (or, for `Indeterminate`, a new epoch).
    pub fn on_reply(_cfg: &ModelConfig, history: &Self, env: Envelope<&ModelMsg>) -> Option<Self> {
        let ModelMsg::Reply { request, result } = env.msg else {
            return None;
        };
        let (client, _) = request_owner(*request)?;
        if history.clients.get(client)?.1 != Some(*request) {
            return None;
        }
        let mut next = history.clone();
        let (epoch, waiting) = &mut next.clients[client];
        *waiting = None;
        let thread = (client as u8, *epoch);
        match SpecRet::of_reply(result) {
            Some(ret) => {
                let _ = next.tester.on_return(thread, ret);
            }
            None => *epoch += 1,
        }
        Some(next)
    }

    /// The serialized history, if linearizable (for counterexample messages).
    pub fn describe(&self) -> String {
        format!("{:?}", self.tester)
    }
}
