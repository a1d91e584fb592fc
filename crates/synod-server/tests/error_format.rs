//! One error format: every non-2xx answer of the HTTP API, whatever class of route or mistake
//! caused it — a route that does not exist, a method a route does not take, a key that is not
//! UTF-8 or too long, a body over the limit (declared or streamed), a CAS body that is not JSON
//! or has the wrong types, an empty key, a CAS mismatch — is `{"error": code, "detail": text}`
//! JSON with the right status, and none of them starts a Paxos round or changes the value.

mod support;

use serde_json::Value;
use support::TestCluster;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One raw HTTP/1.1 exchange (`head` without the final blank line, then `body`): the status, the
/// headers (lower-case names) and the body.
async fn exchange(base: &str, head: &str, body: &[u8]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let authority = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(authority).await.unwrap();
    let request = format!("{head}\r\nHost: {authority}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    // The server may answer before it read the whole body, and close: that is fine.
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no answer to {head:?}: {answer:?}"));
    let head_text = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, answer[split + 4..].to_vec())
}

/// Asserts one error answer: `status`, JSON with `code` and a detail containing `detail`.
async fn assert_error(base: &str, head: &str, body: &[u8], status: u16, code: &str, detail: &str) {
    let (got, headers, answer) = exchange(base, head, body).await;
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(got, status, "{head}: {text}");
    let content_type = headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        content_type,
        Some("application/json"),
        "{head}: {headers:?}"
    );
    let json: Value =
        serde_json::from_slice(&answer).unwrap_or_else(|e| panic!("{head}: {e}: {text}"));
    assert_eq!(json["error"], code, "{head}: {json}");
    let got_detail = json["detail"].as_str().unwrap_or_default();
    assert!(got_detail.contains(detail), "{head}: {json}");
    if status == 405 {
        assert!(
            headers.iter().any(|(k, _)| k == "allow"),
            "a 405 says what is allowed: {headers:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_answer_is_json_with_the_right_status() {
    let cluster = TestCluster::start(1, &["--max-value-bytes=1024"]).await;
    let c1 = cluster.client(1);
    c1.put("k", "v").await.unwrap();
    let rounds = cluster.counter(1, "synod_rounds_started_total").await;
    let base = cluster.http(1);
    let cas = |body: &str| {
        (
            format!(
                "POST /v1/kv/k/cas HTTP/1.1\r\nContent-Length: {}",
                body.len()
            ),
            body.to_owned(),
        )
    };

    // Routes that do not exist, and methods a route does not take.
    assert_error(
        base,
        "GET /v1/nothing HTTP/1.1",
        b"",
        404,
        "no_route",
        "no such route: GET /v1/nothing",
    )
    .await;
    assert_error(base, "GET / HTTP/1.1", b"", 404, "no_route", "GET /").await;
    assert_error(
        base,
        "GET /v1/kv/ HTTP/1.1",
        b"",
        404,
        "no_route",
        "/v1/kv/",
    )
    .await;
    assert_error(
        base,
        "POST /v1/kv/k HTTP/1.1\r\nContent-Length: 0",
        b"",
        405,
        "method_not_allowed",
        "POST is not allowed on /v1/kv/k",
    )
    .await;
    assert_error(
        base,
        "DELETE /health HTTP/1.1",
        b"",
        405,
        "method_not_allowed",
        "DELETE is not allowed on /health",
    )
    .await;
    assert_error(
        base,
        "GET /v1/kv/k/cas HTTP/1.1",
        b"",
        405,
        "method_not_allowed",
        "GET is not allowed",
    )
    .await;

    // Keys: not UTF-8, too long.
    assert_error(
        base,
        "GET /v1/kv/%FF%FE HTTP/1.1",
        b"",
        400,
        "bad_request",
        "",
    )
    .await;
    let long = format!(
        "PUT /v1/kv/{} HTTP/1.1\r\nContent-Length: 1",
        "k".repeat(2000)
    );
    assert_error(
        base,
        &long,
        b"v",
        400,
        "bad_request",
        "keys must be 1 to 1024 bytes",
    )
    .await;

    // Bodies: over the value limit, declared far over the body limit, streamed over it.
    let big = vec![b'x'; 2000];
    assert_error(
        base,
        "PUT /v1/kv/k HTTP/1.1\r\nContent-Length: 2000",
        &big,
        413,
        "too_large",
        "values are limited to 1024 bytes",
    )
    .await;
    assert_error(
        base,
        "POST /v1/kv/k/propose-once HTTP/1.1\r\nContent-Length: 2000",
        &big,
        413,
        "too_large",
        "1024 bytes",
    )
    .await;
    assert_error(
        base,
        "PUT /v1/kv/k HTTP/1.1\r\nContent-Length: 1048576",
        b"",
        413,
        "too_large",
        "1024 bytes",
    )
    .await;
    let chunk = vec![b'x'; 100_000];
    let mut chunked = format!("{:x}\r\n", chunk.len()).into_bytes();
    chunked.extend_from_slice(&chunk);
    chunked.extend_from_slice(b"\r\n0\r\n\r\n");
    assert_error(
        base,
        "PUT /v1/kv/k HTTP/1.1\r\nTransfer-Encoding: chunked",
        &chunked,
        413,
        "too_large",
        "",
    )
    .await;

    // CAS bodies: not JSON, wrong types, a value over the limit.
    for (body, detail) in [
        (
            "{not json",
            "expected {\"expected\": string|null, \"new\": string}",
        ),
        (r#"{"expected": 1, "new": "x"}"#, "invalid type"),
        (r#"{"new": 5}"#, "invalid type"),
        (
            r#"{"expected": "v", "new": "x", "extra": 1}"#,
            "unknown field",
        ),
    ] {
        let (head, body) = cas(body);
        assert_error(base, &head, body.as_bytes(), 400, "bad_request", detail).await;
    }
    let (head, body) =
        cas(&serde_json::json!({"expected": "v", "new": "x".repeat(2000)}).to_string());
    assert_error(base, &head, body.as_bytes(), 413, "too_large", "1024 bytes").await;

    assert_eq!(
        cluster.counter(1, "synod_rounds_started_total").await,
        rounds,
        "no bad request started a Paxos round"
    );

    // Answers of the protocol: an empty key (`not_found`, unlike a route's `no_route`) and a
    // CAS mismatch, which also carries the current value.
    assert_error(
        base,
        "GET /v1/kv/empty HTTP/1.1",
        b"",
        404,
        "not_found",
        "the key is empty",
    )
    .await;
    let (head, body) = cas(r#"{"expected": "other", "new": "x"}"#);
    assert_error(base, &head, body.as_bytes(), 409, "cas_mismatch", "differs").await;
    let (_, _, answer) = exchange(base, &head, body.as_bytes()).await;
    assert_eq!(
        serde_json::from_slice::<Value>(&answer).unwrap()["current"],
        "v"
    );
    assert_eq!(
        c1.get("k").await.unwrap().as_deref(),
        Some(&b"v"[..]),
        "nothing changed"
    );
}
