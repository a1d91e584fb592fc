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
//! | `GET /cluster` | — | 200 `{"node":N,"members":[1,2,3],"connected":[2,3],"forwarding":bool}` |
//! | `GET /metrics` | — | Prometheus text |
//!
//! Every key operation, reads included, is a Paxos round (a read often a one-round-trip one),
//! run at the key's home ([`Forwarder::run`]). Values in JSON are UTF-8 strings
//! (bytes that are not UTF-8 are shown with U+FFFD; `GET` returns exact bytes). Errors are JSON
//! `{"error": code, "detail": text}`: 400 bad input, 413 value over the size limit, 409 CAS
//! mismatch, 503 with `Retry-After` when no quorum answered (`unavailable`: surely not applied;
//! `timeout`: the request timeout passed first; `indeterminate`: the outcome is unknown;
//! `overloaded`: too many requests wait on the key; `stopped`: the node is failing).

use crate::forward::Forwarder;
use crate::wire::Failure;
use axum::body::Bytes as Body;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;
use synod_core::{NodeSet, Operation, Outcome, RequestError};

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
    let limit = config.max_value.saturating_mul(2).saturating_add(64 * 1024);
    Router::new()
        .route("/v1/kv/{key}", get(read).put(put).delete(delete))
        .route("/v1/kv/{key}/cas", post(cas))
        .route("/v1/kv/{key}/propose-once", post(propose_once))
        .route("/health", get(health))
        .route("/cluster", get(cluster))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn(move |request, next| {
            refuse_declared_oversize(limit, config.max_value, request, next)
        }))
        .with_state(Api { config, forwarder })
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

/// An error answer: bad input, or a request that failed (here or at its key's home).
#[derive(Debug)]
enum ApiError {
    BadInput(String),
    TooLarge(usize),
    Failed(Failure),
}

impl From<Failure> for ApiError {
    fn from(e: Failure) -> Self {
        ApiError::Failed(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        let (status, code, detail) = match self {
            ApiError::BadInput(detail) | ApiError::Failed(Failure::BadInput(detail)) => {
                (StatusCode::BAD_REQUEST, "bad_request", detail)
            }
            ApiError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("values are limited to {limit} bytes"),
            ),
            ApiError::Failed(e @ Failure::TooLarge { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
            }
            ApiError::Failed(Failure::Request(RequestError::Indeterminate)) => (
                unavailable,
                "indeterminate",
                "the outcome is unknown: the write took effect once or not at all (never twice); read the key to find out".into(),
            ),
            ApiError::Failed(Failure::Request(e @ RequestError::Exhausted { .. })) => {
                (unavailable, "unavailable", e.to_string())
            }
            ApiError::Failed(e @ (Failure::Request(RequestError::Busy) | Failure::QueueFull)) => {
                (unavailable, "overloaded", e.to_string())
            }
            ApiError::Failed(e @ Failure::Timeout { .. }) => (unavailable, "timeout", e.to_string()),
            ApiError::Failed(Failure::Stopped(why)) => (unavailable, "stopped", why),
        };
        let mut response = (status, Json(json!({"error": code, "detail": detail}))).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
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
        Outcome::CasMismatch { current } => (
            StatusCode::CONFLICT,
            Json(json!({"error": "cas_mismatch", "detail": "the current value differs from the expected one", "current": text(&current)})),
        )
            .into_response(),
        other => unexpected(other),
    }
}

fn unexpected(outcome: Outcome<Bytes>) -> Response {
    tracing::error!(?outcome, "outcome does not match its operation");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

async fn read(State(api): State<Api>, Path(key): Path<String>) -> Result<Response, ApiError> {
    let key = api.key(key)?;
    Ok(match api.run(key, Operation::Read).await? {
        Outcome::Read { value: Some(v) } => {
            ([(header::CONTENT_TYPE, "application/octet-stream")], v).into_response()
        }
        Outcome::Read { value: None } => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "not_found", "detail": "the key is empty"})),
        )
            .into_response(),
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

/// Who this node is and who its members are, so that a client can send each request to its
/// key's home (`home_of`) itself.
async fn cluster(State(api): State<Api>) -> Response {
    let ids = |set: NodeSet| set.iter().map(|m| m.0).collect::<Vec<u8>>();
    Json(json!({
        "node": api.forwarder.node().0,
        "members": ids(api.forwarder.members()),
        "connected": ids(api.forwarder.connected()),
        "forwarding": api.forwarder.config().enabled,
    }))
    .into_response()
}

async fn metrics(State(api): State<Api>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        api.forwarder.runtime().metrics().render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(e: ApiError) -> (u16, Option<String>, serde_json::Value) {
        let response = e.into_response();
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get(header::RETRY_AFTER)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, retry, serde_json::from_slice(&body).unwrap())
    }

    #[tokio::test]
    async fn unknown_outcomes_are_a_distinct_503() {
        let (status, retry, body) =
            answer(Failure::Request(RequestError::Indeterminate).into()).await;
        assert_eq!((status, retry.as_deref()), (503, Some("1")));
        assert_eq!(body["error"], "indeterminate");
        let (status, retry, body) =
            answer(Failure::Request(RequestError::Exhausted { attempts: 3 }).into()).await;
        assert_eq!((status, retry.as_deref()), (503, Some("1")));
        assert_eq!(body["error"], "unavailable");
        let (status, _, body) = answer(Failure::Timeout { after_ms: 5 }.into()).await;
        assert_eq!((status, body["error"].as_str()), (503, Some("timeout")));
        assert_eq!(
            body["detail"],
            "no quorum answered within 5 ms; a write may still take effect"
        );
        let (status, _, body) = answer(Failure::QueueFull.into()).await;
        assert_eq!((status, body["error"].as_str()), (503, Some("overloaded")));
        let (status, retry, body) = answer(ApiError::TooLarge(10)).await;
        assert_eq!(
            (status, retry, body["error"].as_str()),
            (413, None, Some("too_large"))
        );
        // A home's refusal of a forwarded request reads like the node's own.
        let (status, _, body) = answer(Failure::TooLarge { limit: 10 }.into()).await;
        assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));
        let (status, _, body) = answer(Failure::BadInput("keys must be".into()).into()).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_request")));
    }
}
