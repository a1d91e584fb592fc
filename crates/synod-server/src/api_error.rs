//! One error format for every non-2xx answer of the HTTP API: a JSON body
//! `{"error": code, "detail": text}` with the right status (and `Retry-After: 1` on 503).
//!
//! The API's own errors are [`ApiError`]s. What axum answers by itself — a route that does not
//! exist (code `no_route`, never `not_found`, which means an empty key), a method a route does
//! not take (`method_not_allowed`; axum adds the `Allow` header after), an extractor's rejection (a key
//! that is not UTF-8: `bad_request`; a body over the limit: `too_large`) — is rewritten into the
//! same format by [`uniform_errors`], keeping axum's text as the detail.

use crate::wire::Failure;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use synod_core::RequestError;

/// The answer `{"error": code, "detail": detail}` with `status` (503s say `Retry-After: 1`).
pub fn error_response(status: StatusCode, code: &str, detail: String) -> Response {
    error_with(status, code, detail, serde_json::Map::new())
}

/// The same answer with more fields (e.g. a CAS mismatch's `current`).
pub fn error_with(
    status: StatusCode,
    code: &str,
    detail: String,
    mut fields: serde_json::Map<String, serde_json::Value>,
) -> Response {
    fields.insert("error".into(), code.into());
    fields.insert("detail".into(), detail.into());
    let mut response = (status, Json(serde_json::Value::Object(fields))).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// An error answer: bad input, or a request that failed (here or at its key's home).
#[derive(Debug)]
pub enum ApiError {
    /// The request is malformed (400).
    BadInput(String),
    /// A value over the limit, in bytes (413).
    TooLarge(usize),
    /// The request failed (503 mostly).
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
            ApiError::Failed(e @ Failure::Removed { .. }) => {
                (StatusCode::GONE, "removed", e.to_string())
            }
        };
        error_response(status, code, detail)
    }
}

/// The fallback of every path that is no route: 404 `no_route`.
pub async fn no_route(method: Method, uri: Uri) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        "no_route",
        format!("no such route: {method} {}", uri.path()),
    )
}

/// The error code of a status axum answered by itself.
fn code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => "bad_request",
        StatusCode::NOT_FOUND => "no_route",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// Rewrites every error answer that is not already `{"error","detail"}` JSON (axum's own: 405,
/// rejections of bad paths and bodies) into that format, keeping its status and its text as the
/// detail.
pub async fn uniform_errors(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || json {
        return response;
    }
    let text = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .map(|body| String::from_utf8_lossy(&body).trim().to_owned())
        .unwrap_or_default();
    let detail = match status {
        StatusCode::METHOD_NOT_ALLOWED => format!("{method} is not allowed on {path}"),
        _ if text.is_empty() => status.canonical_reason().unwrap_or("error").to_lowercase(),
        _ => text,
    };
    error_response(status, code(status), detail)
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
