//! A minimal client of etcd's v3 HTTP/JSON gateway (`/v3/kv/range`, `/v3/kv/put`,
//! `/v3/kv/txn`), for running `synod-harness bench`'s workload against etcd.
//!
//! Keys and values travel base64-encoded, as the gateway requires. Reads are etcd's default
//! linearizable range requests (not `serializable`), so they go through the leader's read index
//! like Synod's reads go through a Paxos round. A CAS is a transaction comparing the value (or,
//! for "expected empty", the key's create revision with 0) and putting the new value on success.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use reqwest::Url;
use serde_json::{json, Value};
use std::time::Duration;

/// What a compare-and-set did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CasDone {
    /// The value matched and `new` was written.
    Written,
    /// Another value was there (`None`: the key does not exist).
    Mismatch(Option<String>),
}

/// A client of one etcd member.
#[derive(Clone, Debug)]
pub struct EtcdClient {
    base: Url,
    http: reqwest::Client,
}

impl EtcdClient {
    /// A client of the member at `endpoint` (e.g. `http://127.0.0.1:2379`).
    pub fn new(endpoint: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = Url::parse(endpoint)?;
        let http = reqwest::Client::builder().timeout(timeout).build()?;
        Ok(EtcdClient { base, http })
    }

    async fn call(&self, path: &str, body: Value) -> Result<Value, String> {
        let url = self.base.join(path).map_err(|_| "endpoint".to_owned())?;
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string())
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    "client_timeout".to_owned()
                } else if e.is_connect() {
                    "connect".to_owned()
                } else {
                    "transport".to_owned()
                }
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|_| "transport".to_owned())?;
        if !status.is_success() {
            return Err(format!("http_{}", status.as_u16()));
        }
        serde_json::from_slice(&bytes).map_err(|_| "decode".to_owned())
    }

    /// A linearizable read of `key`.
    pub async fn get(&self, key: &str) -> Result<Option<String>, String> {
        let answer = self
            .call("/v3/kv/range", json!({"key": B64.encode(key)}))
            .await?;
        Ok(first_value(&answer["kvs"]))
    }

    /// Writes `value` to `key`.
    pub async fn put(&self, key: &str, value: &str) -> Result<(), String> {
        self.call(
            "/v3/kv/put",
            json!({"key": B64.encode(key), "value": B64.encode(value)}),
        )
        .await
        .map(|_| ())
    }

    /// Writes `new` if the value of `key` is `expected` (`None` = the key does not exist); on a
    /// mismatch, reads the current value in the same transaction.
    pub async fn cas(
        &self,
        key: &str,
        expected: Option<&str>,
        new: &str,
    ) -> Result<CasDone, String> {
        let key64 = B64.encode(key);
        let compare = match expected {
            Some(v) => {
                json!({"key": key64, "target": "VALUE", "result": "EQUAL", "value": B64.encode(v)})
            }
            None => {
                json!({"key": key64, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
            }
        };
        let body = json!({
            "compare": [compare],
            "success": [{"request_put": {"key": key64, "value": B64.encode(new)}}],
            "failure": [{"request_range": {"key": key64}}],
        });
        let answer = self.call("/v3/kv/txn", body).await?;
        if answer["succeeded"].as_bool().unwrap_or(false) {
            return Ok(CasDone::Written);
        }
        let current = answer["responses"]
            .get(0)
            .map(|r| first_value(&r["response_range"]["kvs"]))
            .unwrap_or(None);
        Ok(CasDone::Mismatch(current))
    }
}

/// The value of the first key-value in an etcd `kvs` array, decoded.
/// The gateway omits an empty value (proto3 default), so a present key without one is `""`.
fn first_value(kvs: &Value) -> Option<String> {
    let kv = kvs.get(0)?;
    let bytes = match kv.get("value").and_then(Value::as_str) {
        Some(value) => B64.decode(value).unwrap_or_default(),
        None => Vec::new(),
    };
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_decoded_from_the_gateways_base64() {
        let kvs = json!([{"key": B64.encode("k"), "value": B64.encode("hello")}]);
        assert_eq!(first_value(&kvs), Some("hello".to_owned()));
        assert_eq!(first_value(&json!([])), None);
        assert_eq!(first_value(&Value::Null), None);
        // The gateway omits an empty value: the key exists, with "".
        assert_eq!(
            first_value(&json!([{"key": B64.encode("k")}])),
            Some(String::new())
        );
    }
}
