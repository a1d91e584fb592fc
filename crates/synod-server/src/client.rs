//! A Rust client for one node's HTTP API (used by the `synod` client commands and the tests).
//!
//! Each method is one HTTP request, so one Paxos operation on the server. Errors keep the
//! server's status and its `{"error", "detail"}` body, so a caller can tell "surely not applied"
//! (`unavailable`) from "outcome unknown" (`indeterminate`, `timeout`).

use bytes::Bytes;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use std::time::Duration;
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The endpoint is not a valid base URL.
    #[error("invalid endpoint {0:?}")]
    Endpoint(String),
    /// The request did not get an HTTP answer (connection refused, timeout…).
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
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

impl ClientError {
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
    /// A client of the node at `endpoint` (e.g. `http://127.0.0.1:8081`), giving up on any
    /// single HTTP request after `timeout`.
    pub fn new(endpoint: &str, timeout: Duration) -> Result<Self, ClientError> {
        let base = Url::parse(endpoint).map_err(|_| ClientError::Endpoint(endpoint.to_owned()))?;
        if base.cannot_be_a_base() {
            return Err(ClientError::Endpoint(endpoint.to_owned()));
        }
        let http = reqwest::Client::builder().timeout(timeout).build()?;
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

    fn kv(&self, key: &str, action: Option<&str>) -> Url {
        match action {
            Some(action) => self.url(&["v1", "kv", key, action]),
            None => self.url(&["v1", "kv", key]),
        }
    }

    /// Reads `key` (a linearizable read: a Paxos round). `None` = empty.
    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, ClientError> {
        let response = self.http.get(self.kv(key, None)).send().await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Ok(None);
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
            .put(self.kv(key, None))
            .body(value.into())
            .send()
            .await?;
        Ok(json::<Previous>(ok(response).await?).await?.previous)
    }

    /// Empties `key`; returns the value it had.
    pub async fn delete(&self, key: &str) -> Result<Option<String>, ClientError> {
        let response = self.http.delete(self.kv(key, None)).send().await?;
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
            .post(self.kv(key, Some("cas")))
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
            .post(self.kv(key, Some("propose-once")))
            .body(value.into())
            .send()
            .await?;
        json(ok(response).await?).await
    }

    /// Whether the node is up and healthy.
    pub async fn health(&self) -> Result<(), ClientError> {
        ok(self.http.get(self.url(&["health"])).send().await?).await?;
        Ok(())
    }

    /// The node's id and its cluster's members.
    pub async fn cluster(&self) -> Result<ClusterInfo, ClientError> {
        json(ok(self.http.get(self.url(&["cluster"])).send().await?).await?).await
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
