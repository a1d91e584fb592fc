//! The HTTP side of membership change (docs/operations.md):
//!
//! * `GET /v1/members` — this node's configuration and address book, the membership record
//!   read through the cluster (its members with their addresses, the change in progress and
//!   its catch-up; `null` with the reason when no quorum answers within 2 s), the change
//!   running on this node with its progress (keys caught up / total), and the founding
//!   membership. A joining node (`serve --join`) uses the node's own configuration and
//!   addresses, not the record: while a dead member is replaced, the step that adds the new
//!   node may need the new node itself for a quorum.
//! * `POST /v1/members` with `{"add": {"id": 4, "addr": "127.0.0.1:7004"}}` or
//!   `{"remove": 3}` — runs the change on this node and answers when it is done (200 with the
//!   new membership) or stalled (503 `stalled`, saying how far it got; asking again resumes).
//!
//! With tokens, changing the members needs a read-write token that covers every key (the
//! membership record is a reserved key); reading them needs any token.

use crate::api_error::{error_response, ApiError};
use crate::forward::Forwarder;
use crate::members_record::MembersRecord;
use crate::membership::Membership;
use crate::reconfiguration::{ChangeError, Request};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::net::SocketAddr;
use synod_core::{Configuration, NodeId, NodeSet};

/// How long `GET /v1/members` waits for the membership record.
const RECORD_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// What `POST /v1/members` takes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum MembersChange {
    /// Add a member.
    Add {
        /// Its node id.
        id: u8,
        /// Its peer address.
        addr: SocketAddr,
    },
    /// Remove a member.
    Remove(u8),
}

/// The state the membership handlers share.
#[derive(Clone)]
pub struct MembersApi {
    /// The node's forwarder (its runtime, its reconfigurer).
    pub forwarder: Forwarder,
    /// The membership the cluster was founded with (a joining node records it).
    pub founding: Membership,
}

fn ids(set: NodeSet) -> Vec<u8> {
    set.iter().map(|n| n.0).collect()
}

fn configuration_json(c: &Configuration) -> Value {
    json!({
        "generation": c.generation(),
        "prepare": ids(c.prepare()),
        "q1": c.q1(),
        "accept": ids(c.accept()),
        "q2": c.q2(),
    })
}

fn record_json(record: &MembersRecord) -> Value {
    json!({
        "configuration": configuration_json(&record.configuration),
        "members": record.members().into_iter().map(|(id, addr)| json!({"id": id.0, "addr": addr})).collect::<Vec<_>>(),
        "addresses": record.addresses.iter().map(|(id, a)| (id.0.to_string(), json!(a))).collect::<serde_json::Map<_, _>>(),
        "since_catch_up": record.since_catch_up.iter().map(|c| c.generation()).collect::<Vec<_>>(),
        "change": record.change.as_ref().map(|c| json!({
            "target": ids(c.target),
            "catch_up": c.catch_up,
        })),
    })
}

/// What `GET /v1/members` takes: `?local=true` answers from this node alone, without reading
/// the record (what a joining node asks: the step that adds it may need it for a quorum).
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    /// Skip the record (no quorum read).
    #[serde(default)]
    pub local: bool,
}

/// `GET /v1/members`.
pub async fn list(State(api): State<MembersApi>, query: Query<ListQuery>) -> Response {
    let reconfigurer = api.forwarder.reconfigurer();
    let here = api.forwarder.runtime().configuration();
    // The record needs a quorum; without one the node still says what it runs itself.
    let (record, error) = if query.local {
        (None, Some("not read (?local=true)".to_owned()))
    } else {
        match tokio::time::timeout(RECORD_READ_TIMEOUT, reconfigurer.record()).await {
            Ok(Ok((record, _))) => (Some(record_json(&record)), None),
            Ok(Err(e)) => (None, Some(e.to_string())),
            Err(_) => (
                None,
                Some(format!(
                    "no quorum answered within {} ms",
                    RECORD_READ_TIMEOUT.as_millis()
                )),
            ),
        }
    };
    let addresses: serde_json::Map<String, Value> = api
        .forwarder
        .peers()
        .into_iter()
        .map(|(id, addr)| (id.0.to_string(), json!(addr.to_string())))
        .collect();
    Json(json!({
        "node": api.forwarder.node().0,
        "founding": api.founding,
        "configuration": configuration_json(&here),
        "addresses": addresses,
        "record": record,
        "record_error": error,
        "change": reconfigurer.progress(),
    }))
    .into_response()
}

/// `POST /v1/members`.
pub async fn change(
    State(api): State<MembersApi>,
    body: Result<Json<MembersChange>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let Json(body) = match body {
        Ok(body) => body,
        Err(e) => {
            return ApiError::BadInput(format!(
                "expected {{\"add\": {{\"id\": N, \"addr\": \"HOST:PORT\"}}}} or {{\"remove\": N}}: {e}"
            ))
            .into_response()
        }
    };
    let request = match body {
        MembersChange::Add { id, addr } if id < NodeId::LIMIT => Request::Add {
            id: NodeId(id),
            addr,
        },
        MembersChange::Remove(id) if id < NodeId::LIMIT => Request::Remove { id: NodeId(id) },
        _ => {
            return ApiError::BadInput(format!("node ids are below {}", NodeId::LIMIT))
                .into_response()
        }
    };
    match api
        .forwarder
        .reconfigurer()
        .change(request, &api.forwarder)
        .await
    {
        Ok(record) => Json(json!({"record": record_json(&record)})).into_response(),
        Err(e) => {
            let (status, code) = match &e {
                ChangeError::Invalid(_) | ChangeError::Plan(_) => {
                    (StatusCode::BAD_REQUEST, "bad_request")
                }
                ChangeError::Busy(_) => (StatusCode::CONFLICT, "busy"),
                ChangeError::Stalled(_) => (StatusCode::SERVICE_UNAVAILABLE, "stalled"),
                ChangeError::Stopped(_) => (StatusCode::SERVICE_UNAVAILABLE, "stopped"),
            };
            error_response(status, code, e.to_string())
        }
    }
}
