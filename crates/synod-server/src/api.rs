//! The client API: HTTP/JSON over axum, on its own port.
//!
//! | route | body | success |
//! |---|---|---|
//! | `GET /v1/kv/{key}` | — | 200, the value's raw bytes (404 when the key is empty) |
//! | `PUT /v1/kv/{key}` | the value's raw bytes | 200 `{"previous": string\|null}` |
//! | `DELETE /v1/kv/{key}` | — | 200 `{"previous": string\|null}` |
//! | `POST /v1/kv/{key}/cas` | `{"expected": string\|null, "new": string}` | 200 `{"previous": …}`; 409 `{"error":"cas_mismatch","current": …}` |
//! | `POST /v1/kv/{key}/propose-once` | the value's raw bytes | 200 `{"value": string, "won": bool}` |
//! | `GET /health` | — | 200 `{"status":"ok","node":N,"pid":P}`: the process is alive (P is its process id) |
//! | `GET /ready` | — | 200 `{"ready":true,…}`; 503 `{"error":"not_ready","detail":why,…}` without a quorum of connected members, or when a member refuses this node |
//! | `GET /v1/cluster` (alias `/cluster`) | — | 200 `{"node":N,"members":[1,2,3],"connected":[2,3],"forwarding":bool,"ready":…,"membership":…,"peers":[…],"refused_handshakes":[…]}` |
//! | `GET /metrics` | — | Prometheus text |
//!
//! Every key operation, reads included, is a Paxos round (a read often a one-round-trip one),
//! run at the key's home ([`Forwarder::run`]). Values in JSON are UTF-8 strings
//! (bytes that are not UTF-8 are shown with U+FFFD; `GET` returns exact bytes). Every error is
//! JSON `{"error": code, "detail": text}` (`api_error`): 400 bad input, 404 `no_route`, 405,
//! 413 value over the size limit, 409 CAS mismatch, 503 with `Retry-After` when no quorum
//! answered (`unavailable`: surely not applied; `timeout`: the request timeout passed first;
//! `indeterminate`: the outcome is unknown; `overloaded`: too many requests wait on the key;
//! `stopped`: the node is failing; 401 `unauthorized` / 403 `forbidden` when the node requires
//! bearer tokens, see `auth`). Every request is logged at `debug` (method, path, key,
//! status, latency).

use crate::api_error::{self, error_response, error_with, ApiError};
use crate::auth::{self, SharedTokens};
use crate::forward::Forwarder;
use crate::members_api::{self, MembersApi};
use crate::wire::Failure;
use axum::body::Bytes as Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::{Duration, Instant};
use synod_core::{NodeSet, Operation, Outcome};

/// API limits and timeouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ApiConfig {
    /// Largest value accepted, in bytes.
    pub max_value: usize,
    /// Longest key accepted, in bytes.
    pub max_key: usize,
    /// How long a request waits for its outcome before answering 503 (the server hands it to
    /// the [`Forwarder`], which runs the requests).
    pub request_timeout: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            max_value: 1024 * 1024,
            max_key: 1024,
            request_timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
struct Api {
    config: ApiConfig,
    forwarder: Forwarder,
}

/// The compare-and-set request body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasRequest {
    /// The value the caller believes is current (`null` = empty).
    pub expected: Option<String>,
    /// The value to write on a match.
    pub new: String,
}

/// The router of the node whose requests `forwarder` runs.
pub fn router(config: ApiConfig, forwarder: Forwarder) -> Router {
    secured_router(config, forwarder, None)
}

/// The same, requiring bearer tokens from `tokens` when given (`auth`: 401/403 before the
/// request is run).
pub fn secured_router(
    config: ApiConfig,
    forwarder: Forwarder,
    tokens: Option<SharedTokens>,
) -> Router {
    let limit = config.max_value.saturating_mul(2).saturating_add(64 * 1024);
    let routes = Router::new()
        .route("/v1/kv/{key}", get(read).put(put).delete(delete))
        .route("/v1/kv/{key}/cas", post(cas))
        .route("/v1/kv/{key}/propose-once", post(propose_once))
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/v1/cluster", get(cluster))
        .route("/cluster", get(cluster))
        .route("/metrics", get(metrics))
        .merge(
            Router::new()
                .route(
                    "/v1/members",
                    get(members_api::list).post(members_api::change),
                )
                .with_state(MembersApi {
                    founding: forwarder.runtime().founding(),
                    forwarder: forwarder.clone(),
                }),
        )
        .fallback(api_error::no_route)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(move |request, next| {
            refuse_declared_oversize(limit, config.max_value, request, next)
        }));
    let routes = match tokens {
        Some(tokens) => routes.layer(middleware::from_fn(move |request, next| {
            auth::authorize(tokens.clone(), request, next)
        })),
        None => routes,
    };
    routes
        .layer(middleware::from_fn(api_error::uniform_errors))
        .layer(middleware::from_fn(log_request))
        .with_state(Api { config, forwarder })
}

/// Logs every request at `debug`: method, path, key (for key routes), status and latency.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let key = path
        .strip_prefix("/v1/kv/")
        .map(|rest| rest.split('/').next().unwrap_or(rest));
    tracing::debug!(
        %method,
        %path,
        key = %key.unwrap_or(""),
        status = response.status().as_u16(),
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// Answers 413 at once when a request's `Content-Length` already says its body is over `limit`,
/// before a byte of the body is read: the client learns its mistake without uploading it, and a
/// client that sent `Expect: 100-continue` gets the 413 instead of a `100 Continue`. (Bodies that
/// do not declare a length are still cut off at `limit` by `DefaultBodyLimit` while streaming.)
async fn refuse_declared_oversize(
    limit: usize,
    max_value: usize,
    request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit as u64 => ApiError::TooLarge(max_value).into_response(),
        _ => next.run(request).await,
    }
}

fn text(value: &Option<Bytes>) -> serde_json::Value {
    match value {
        Some(v) => serde_json::Value::String(String::from_utf8_lossy(v).into_owned()),
        None => serde_json::Value::Null,
    }
}

impl Api {
    fn key(&self, key: String) -> Result<Bytes, ApiError> {
        if key.is_empty() || key.len() > self.config.max_key {
            return Err(ApiError::BadInput(format!(
                "keys must be 1 to {} bytes",
                self.config.max_key
            )));
        }
        Ok(Bytes::from(key))
    }

    fn value(&self, value: Bytes) -> Result<Bytes, ApiError> {
        if value.len() > self.config.max_value {
            return Err(ApiError::TooLarge(self.config.max_value));
        }
        Ok(value)
    }

    /// Runs one operation as Paxos rounds at its key's home, waiting at most the request
    /// timeout.
    async fn run(&self, key: Bytes, op: Operation<Bytes>) -> Result<Outcome<Bytes>, ApiError> {
        Ok(self.forwarder.run(key, op).await?)
    }
}

fn written(outcome: Outcome<Bytes>) -> Response {
    match outcome {
        Outcome::Written { previous } => Json(json!({"previous": text(&previous)})).into_response(),
        Outcome::CasMismatch { current } => error_with(
            StatusCode::CONFLICT,
            "cas_mismatch",
            "the current value differs from the expected one".into(),
            serde_json::Map::from_iter([("current".to_owned(), text(&current))]),
        ),
        other => unexpected(other),
    }
}

fn unexpected(outcome: Outcome<Bytes>) -> Response {
    tracing::error!(?outcome, "outcome does not match its operation");
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal",
        "the outcome does not match the operation".into(),
    )
}

async fn read(State(api): State<Api>, Path(key): Path<String>) -> Result<Response, ApiError> {
    let key = api.key(key)?;
    Ok(match api.run(key, Operation::Read).await? {
        Outcome::Read { value: Some(v) } => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], v).into_response()
        }
        Outcome::Read { value: None } => error_response(
            StatusCode::NOT_FOUND,
            "not_found",
            "the key is empty".into(),
        ),
        other => unexpected(other),
    })
}

async fn put(
    State(api): State<Api>,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let (key, value) = (api.key(key)?, api.value(body)?);
    Ok(written(api.run(key, Operation::Put(value)).await?))
}

async fn delete(State(api): State<Api>, Path(key): Path<String>) -> Result<Response, ApiError> {
    let key = api.key(key)?;
    Ok(written(api.run(key, Operation::Delete).await?))
}

async fn cas(
    State(api): State<Api>,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let key = api.key(key)?;
    let request: CasRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadInput(format!(
            "expected {{\"expected\": string|null, \"new\": string}}: {e}"
        ))
    })?;
    let expected = request
        .expected
        .map(|v| api.value(Bytes::from(v)))
        .transpose()?;
    let new = api.value(Bytes::from(request.new))?;
    Ok(written(
        api.run(key, Operation::Cas { expected, new }).await?,
    ))
}

async fn propose_once(
    State(api): State<Api>,
    Path(key): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let (key, value) = (api.key(key)?, api.value(body)?);
    Ok(match api.run(key, Operation::ProposeOnce(value)).await? {
        Outcome::Chosen { value, won } => {
            Json(json!({"value": text(&Some(value)), "won": won})).into_response()
        }
        other => unexpected(other),
    })
}

async fn health(State(api): State<Api>) -> Response {
    match api.forwarder.runtime().failure() {
        None => Json(json!({
            "status": "ok",
            "node": api.forwarder.node().0,
            "pid": std::process::id(),
        }))
        .into_response(),
        Some(why) => ApiError::Failed(Failure::Stopped(why)).into_response(),
    }
}

/// Whether this node can serve requests now: 200, or 503 `not_ready` saying why (no quorum of
/// members connected both ways, or a member refuses this node's handshake).
async fn ready(State(api): State<Api>) -> Response {
    if let Some(why) = api.forwarder.runtime().failure() {
        return ApiError::Failed(Failure::Stopped(why)).into_response();
    }
    let configuration = api.forwarder.runtime().configuration();
    let readiness = api.forwarder.peer_status().readiness_in(&configuration);
    let facts = serde_json::Map::from_iter([
        ("ready".to_owned(), json!(readiness.ready)),
        ("node".to_owned(), json!(api.forwarder.node().0)),
        ("connected".to_owned(), json!(readiness.connected)),
        ("quorum".to_owned(), json!(readiness.quorum)),
    ]);
    match readiness.reason {
        None => Json(facts).into_response(),
        Some(reason) => error_with(StatusCode::SERVICE_UNAVAILABLE, "not_ready", reason, facts),
    }
}

/// Who this node is, who its members are and how it is linked to each (`GET /v1/cluster`, also
/// `/cluster`): enough for a client to send each request to its key's home (`home_of`) itself,
/// and for an operator (`synod status`) to see the cluster. `connected` lists the members this
/// node has a live connection to (the one requests are forwarded on); `peers[].connected` says
/// whether a member is connected both ways.
async fn cluster(State(api): State<Api>) -> Response {
    let ids = |set: NodeSet| set.iter().map(|m| m.0).collect::<Vec<u8>>();
    let status = api.forwarder.peer_status();
    let readiness = status.readiness_in(&api.forwarder.runtime().configuration());
    Json(json!({
        "node": api.forwarder.node().0,
        "members": ids(api.forwarder.members()),
        "connected": ids(api.forwarder.connected()),
        "forwarding": api.forwarder.config().enabled,
        "ready": readiness.ready,
        "not_ready": readiness.reason,
        "membership": status.membership(),
        "peers": status.members(),
        "refused_handshakes": status.strangers(),
    }))
    .into_response()
}

async fn metrics(State(api): State<Api>) -> Response {
    let mut text = api.forwarder.runtime().metrics().render();
    api.forwarder.peer_status().render_metrics(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
