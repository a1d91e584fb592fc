//! A Rust client for one node's HTTP API (used by the `synod` client commands and the tests).
//!
//! Each method is one HTTP request, so one Paxos operation on the server. Errors keep the
//! server's status and its `{"error", "detail"}` body, so a caller can tell "surely not applied"
//! (`unavailable`) from "outcome unknown" (`indeterminate`, `timeout`), and whether the same
//! request may be sent to another node ([`ClientError::may_try_elsewhere`]).

use crate::client_options::ClientOptions;
use bytes::Bytes;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The endpoint is not a valid base URL.
    #[error("invalid endpoint \"{0}\" (expected http://HOST:PORT)")]
    Endpoint(String),
    /// The key is not a key (empty); nothing was sent.
    #[error("{0}")]
    Key(String),
    /// The request did not get an HTTP answer (connection refused, timeout…). The message
    /// carries the cause, so the error has no separate source (a chain would repeat it).
    #[error("{}", describe_transport(.0))]
    Transport(reqwest::Error),
    /// The server answered with an error.
    #[error("{status}: {code}: {detail}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// The server's error code (`unavailable`, `indeterminate`, `timeout`, …).
        code: String,
        /// The server's explanation.
        detail: String,
        /// The `Retry-After` header, if any.
        retry_after: Option<String>,
    },
    /// The answer was not what the API promises.
    #[error("unexpected answer: {0}")]
    Decode(String),
}

impl From<reqwest::Error> for ClientError {
    fn from(e: reqwest::Error) -> Self {
        ClientError::Transport(e)
    }
}

/// Which kind of operation failed, for [`ClientError::may_try_elsewhere`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    /// `get`: changes nothing, so it may be repeated anywhere.
    Read,
    /// `put`, `delete`, `cas`, `propose-once`: must not run twice unless it surely did not run.
    Write,
}

/// The refusal of the empty key, with the rule.
pub const EMPTY_KEY: &str = "the key is empty: a key is 1 to 1024 bytes (any bytes)";

/// One line for a failed HTTP exchange: what went wrong, and the innermost cause.
fn describe_transport(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    let url = e.url().map_or_else(String::new, |u| format!("{u}: "));
    let what = if e.is_connect() {
        "cannot connect"
    } else if e.is_timeout() {
        "no answer within the timeout"
    } else {
        "request failed"
    };
    if std::ptr::addr_eq(cause, e as &dyn std::error::Error) {
        format!("{url}{what}")
    } else {
        format!("{url}{what} ({cause})")
    }
}

impl ClientError {
    /// Whether the request surely never reached a node: a connection that could not be made
    /// (refused, no route, name not resolved), or input refused before sending.
    pub fn not_sent(&self) -> bool {
        match self {
            ClientError::Transport(e) => e.is_connect(),
            ClientError::Endpoint(_) | ClientError::Key(_) => true,
            _ => false,
        }
    }

    /// Whether the operation surely did not take effect: it was never sent, the node refused it
    /// (a 4xx answer), or it answered `unavailable` (no quorum) or `overloaded` (the key's queue
    /// is full). `indeterminate`, `timeout`, `stopped` and a lost answer may have taken effect.
    pub fn surely_not_applied(&self) -> bool {
        match self {
            ClientError::Server {
                status: 503, code, ..
            } => matches!(code.as_str(), "unavailable" | "overloaded"),
            ClientError::Server { status, .. } => (400..500).contains(status),
            other => other.not_sent(),
        }
    }

    /// Whether the same request may be sent to another node of the cluster after this error.
    /// A write may, only when it surely did not take effect here and another node might do
    /// better: it was never sent (the connection failed), or the node answered `unavailable` or
    /// `overloaded`. Anything else — no answer in time, a connection lost after sending,
    /// `indeterminate`, `timeout` — might have applied it, and sending it again could apply it
    /// twice. A read changes nothing (at most it re-accepts the current value), so it may also
    /// move on after a timeout, a lost connection or any 503. Bad input (a 4xx, an empty key) is
    /// the same everywhere: never.
    pub fn may_try_elsewhere(&self, kind: OpKind) -> bool {
        match self {
            ClientError::Transport(e) => e.is_connect() || kind == OpKind::Read,
            ClientError::Server { status: 503, .. } if kind == OpKind::Read => true,
            ClientError::Server { status: 503, .. } => self.surely_not_applied(),
            ClientError::Server { .. }
            | ClientError::Key(_)
            | ClientError::Endpoint(_)
            | ClientError::Decode(_) => false,
        }
    }

    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Server { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error code, if it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Server { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// What a compare-and-set did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasOutcome {
    /// The new value was written; this was the value before.
    Written {
        /// The value replaced.
        previous: Option<String>,
    },
    /// Nothing was written; this is the current value.
    Mismatch {
        /// The current value.
        current: Option<String>,
    },
}

/// What a node says about its cluster (`GET /cluster`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ClusterInfo {
    /// The node's id.
    pub node: u8,
    /// Every member's id.
    pub members: Vec<u8>,
    /// The members the node has a live connection to.
    pub connected: Vec<u8>,
    /// Whether the node forwards requests to their key's home.
    pub forwarding: bool,
}

/// What a node says about itself (`GET /health`). Fields a node does not send are `None`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The node's id.
    #[serde(default)]
    pub node: Option<u8>,
    /// The node's process id (how a launcher tells the node it started from another one
    /// answering on the same port).
    #[serde(default)]
    pub pid: Option<u32>,
}

/// What `propose-once` chose.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Chosen {
    /// The chosen value (perhaps another proposer's).
    pub value: String,
    /// Whether it is the value this caller proposed.
    pub won: bool,
}

#[derive(Deserialize)]
struct Previous {
    previous: Option<String>,
}

#[derive(Deserialize)]
struct Mismatch {
    current: Option<String>,
}

/// The error code of Synod's answer for an empty key (`404 {"error": "not_found"}`).
const EMPTY_KEY_CODE: &str = "not_found";

/// The start of a body, for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 200;
    if text.is_empty() {
        return "(empty body)".into();
    }
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
    #[serde(default)]
    detail: String,
}

/// A client of one node.
#[derive(Clone, Debug)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
}

impl Client {
    /// A client of the node at `endpoint` (e.g. `http://127.0.0.1:8081`, or `localhost:8081`:
    /// without a scheme, `http://` is meant), giving up on any single HTTP request after
    /// `timeout`.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, ClientError> {
        Self::with_options(endpoint, timeout, &ClientOptions::default())
    }

    /// The same, over HTTPS with `options`' CA and client certificate, sending its token.
    pub fn with_options(
        endpoint: &str,
        timeout: Duration,
        options: &ClientOptions,
    ) -> Result<Self, ClientError> {
        let full = if endpoint.contains("://") {
            endpoint.to_owned()
        } else {
            format!("http://{endpoint}")
        };
        let base = Url::parse(&full).map_err(|_| ClientError::Endpoint(endpoint.to_owned()))?;
        if base.cannot_be_a_base() {
            return Err(ClientError::Endpoint(endpoint.to_owned()));
        }
        let mut builder = reqwest::Client::builder().timeout(timeout);
        if let Some(tls) = &options.tls {
            builder = builder.use_preconfigured_tls((**tls).clone());
        }
        if let Some(token) = &options.token {
            let mut value = reqwest::header::HeaderValue::try_from(format!("Bearer {token}"))
                .map_err(|_| ClientError::Key("the token is not a valid header value".into()))?;
            value.set_sensitive(true);
            let headers =
                reqwest::header::HeaderMap::from_iter([(reqwest::header::AUTHORIZATION, value)]);
            builder = builder.default_headers(headers);
        }
        let http = builder.build()?;
        Ok(Client { base, http })
    }

    /// The endpoint.
    pub fn endpoint(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new")
            .pop_if_empty()
            .extend(segments);
        url
    }

    fn kv(&self, key: &str, action: Option<&str>) -> Result<Url, ClientError> {
        if key.is_empty() {
            return Err(ClientError::Key(EMPTY_KEY.into()));
        }
        Ok(match action {
            Some(action) => self.url(&["v1", "kv", key, action]),
            None => self.url(&["v1", "kv", key]),
        })
    }

    /// Reads `key` (a linearizable read: a Paxos round). `None` = empty. A 404 is an empty key
    /// only when it is Synod's own answer for one (`{"error": "not_found"}`); any other 404 (not
    /// a Synod node, a wrong path prefix) is an error.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ClientError> {
        let response = self.http.get(self.kv(key, None)?).send().await?;
        if response.status() == StatusCode::NOT_FOUND {
            let text = response.text().await?;
            return match serde_json::from_str::<ErrorBody>(&text) {
                Ok(body) if body.error == EMPTY_KEY_CODE => Ok(None),
                _ => Err(ClientError::Decode(format!(
                    "404 without Synod's empty-key answer (is this a Synod node?): {}",
                    excerpt(&text)
                ))),
            };
        }
        Ok(Some(ok(response).await?.bytes().await?))
    }

    /// Writes `value` to `key`; returns the value it replaced.
    pub async fn put(
        &self,
        key: &str,
        value: impl Into<Bytes>,
    ) -> Result<Option<String>, ClientError> {
        let response = self
            .http
            .put(self.kv(key, None)?)
            .body(value.into())
            .send()
            .await?;
        Ok(json::<Previous>(ok(response).await?).await?.previous)
    }

    /// Empties `key`; returns the value it had.
    pub async fn delete(&self, key: &str) -> Result<Option<String>, ClientError> {
        let response = self.http.delete(self.kv(key, None)?).send().await?;
        Ok(json::<Previous>(ok(response).await?).await?.previous)
    }

    /// Writes `new` to `key` if its value is `expected` (`None` = empty).
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<CasOutcome, ClientError> {
        let body = serde_json::json!({"expected": expected, "new": new});
        let response = self
            .http
            .post(self.kv(key, Some("cas"))?)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        if response.status() == StatusCode::CONFLICT {
            let current = json::<Mismatch>(response).await?.current;
            return Ok(CasOutcome::Mismatch { current });
        }
        let previous = json::<Previous>(ok(response).await?).await?.previous;
        Ok(CasOutcome::Written { previous })
    }

    /// The seed's "set the cluster's name": proposes `value` for `key` unless a value is already
    /// chosen; returns the chosen value and whether it is ours.
    pub async fn propose_once(
        &self,
        key: &str,
        value: impl Into<Bytes>,
    ) -> Result<Chosen, ClientError> {
        let response = self
            .http
            .post(self.kv(key, Some("propose-once"))?)
            .body(value.into())
            .send()
            .await?;
        json(ok(response).await?).await
    }

    /// Whether the node is up and healthy, and who it is.
    pub async fn health(&self) -> Result<Health, ClientError> {
        json(ok(self.http.get(self.url(&["health"])).send().await?).await?).await
    }

    /// The node's id and its cluster's members.
    pub async fn cluster(&self) -> Result<ClusterInfo, ClientError> {
        json(ok(self.http.get(self.url(&["cluster"])).send().await?).await?).await
    }

    /// `GET path` (e.g. `/v1/cluster`, or with a query: `/v1/members?local=true`) as it came: the status and the body as text, whatever
    /// they are (for `synod status`, which judges the answer itself).
    pub async fn get_raw(&self, path: &str) -> Result<(u16, String), reqwest::Error> {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut url = self.url(&segments);
        url.set_query(query);
        let response = self.http.get(url).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// `POST path` with a JSON `body`, as it came back: the status and the body as text (for
    /// `synod member`, which judges the answer itself).
    pub async fn post_raw(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<(u16, String), reqwest::Error> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let response = self
            .http
            .post(self.url(&segments))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await?))
    }

    /// The node's metrics (Prometheus text).
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let response = ok(self.http.get(self.url(&["metrics"])).send().await?).await?;
        Ok(response.text().await?)
    }
}

/// Passes a success through; turns an error status into [`ClientError::Server`].
async fn ok(response: reqwest::Response) -> Result<reqwest::Response, ClientError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = response.text().await.unwrap_or_default();
    let (code, detail) = match serde_json::from_str::<ErrorBody>(&text) {
        Ok(body) => (body.error, body.detail),
        Err(_) => ("http".to_owned(), text),
    };
    Err(ClientError::Server {
        status: status.as_u16(),
        code,
        detail,
        retry_after,
    })
}

async fn json<T: for<'de> Deserialize<'de>>(response: reqwest::Response) -> Result<T, ClientError> {
    let body = response.bytes().await?;
    serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
}
