//! The model's message type: the core's protocol messages between nodes, plus the client
//! traffic of register mode. Request ids pack the client and its sequence number so that a node
//! knows whom to answer and can ignore a duplicated request.

use crate::value::Value;
use stateright::actor::ActorModelAction;
use synod_core::{Operation, ReplyResult, RequestId, Timer};

/// A step of the model: a delivery, drop, timeout, crash or restart of these messages and the
/// core's timers.
pub type Action = ActorModelAction<ModelMsg, Timer, ()>;

/// The messages of the model: protocol messages between nodes, and client traffic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ModelMsg {
    /// A protocol message, exactly the core's type.
    Peer(synod_core::Message<Value>),
    /// Client → its node.
    Request {
        /// Packs the client and its sequence number, see [`request_id`].
        request: RequestId,
        /// What to do.
        op: Operation<Value>,
    },
    /// Node → client.
    Reply {
        /// The request answered.
        request: RequestId,
        /// The answer.
        result: ReplyResult<Value>,
    },
}

/// The request id of client `client`'s operation number `seq` (both 0-based).
pub fn request_id(client: usize, seq: usize) -> RequestId {
    RequestId((((client + 1) << 8) | seq) as u64)
}

/// The (client, seq) a request id packs, if it is a client request id.
pub fn request_owner(request: RequestId) -> Option<(usize, usize)> {
    let client = (request.0 >> 8) as usize;
    (client >= 1).then(|| (client - 1, (request.0 & 0xff) as usize))
}
