//! Fuzz target: the HTTP API with bearer tokens (`serve --token-file`, issue 19). A token file
//! as the server loads it holds a read-only token for every key and a read-write token for the
//! prefix `a/`. Each input is one request with a fuzzed `Authorization` header (missing,
//! malformed, another scheme, an unknown token, a good token — with keys in and out of its
//! prefix — or raw bytes) and either a key operation on a fuzzed key or a fuzzed path.
//!
//! Invariants:
//! * never a panic, never a 500;
//! * a request without a token good for it is answered 401 (no known token, with
//!   `WWW-Authenticate: Bearer`) or 403 (known token, no right), in the JSON error format, and
//!   changes nothing: it never reaches the node (its request counters stay put) and the key
//!   reads back the same through the same router (with the read token) before and after;
//! * for key operations, which of 401 / 403 / allowed is exactly what docs/security.md says;
//! * a request that is let through is answered as a node without tokens answers it: every
//!   such request is also sent, without the header, to a second node that runs no token file
//!   and has been sent the same requests, and both must give the same status (and, for a
//!   read, the same value).

#![no_main]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use synod_server::{hash_token, Tokens};
use synod_server_fuzz::{scratch_dir, Node, METHODS};

const READER: &str = "fuzz-reader-2f6e1c0b9d8a7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const WRITER: &str = "fuzz-writer-a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

struct Nodes {
    /// Runs with the token file.
    secured: Node,
    /// Runs without one, and is sent the requests the first one lets through.
    open: Node,
}

fn nodes() -> &'static Nodes {
    static NODES: OnceLock<Nodes> = OnceLock::new();
    NODES.get_or_init(|| {
        let path = scratch_dir("http-auth").join("tokens.toml");
        let text = format!(
            "[[token]]\nname = \"reader\"\nsha256 = \"{}\"\naccess = \"read\"\nprefix = \"\"\n\n\
             [[token]]\nname = \"a-writer\"\nsha256 = \"{}\"\naccess = \"read-write\"\nprefix = \"a/\"\n",
            hash_token(READER),
            hash_token(WRITER)
        );
        std::fs::write(&path, text).unwrap();
        let tokens = Tokens::load(&path).expect("the token file loads");
        Nodes {
            secured: Node::start(Some(tokens)),
            open: Node::start(None),
        }
    })
}

const SUFFIXES: [&str; 4] = ["", "/cas", "/propose-once", "/x"];

const PREFIXES: [&[u8]; 4] = [b"", b"a/", b"b/", b"a"];

/// Who the `Authorization` header makes the request's sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    /// Nobody: no header, a malformed one, another scheme, an unknown token.
    Nobody,
    Reader,
    Writer,
    /// Raw header bytes holding a good token somewhere: not predicted.
    Unclear,
}

/// The header (`None`: none) and who it makes the sender.
fn authorization(selector: u8, raw: &[u8]) -> (Option<Vec<u8>>, Who) {
    let bearer = |token: &str| Some(format!("Bearer {token}").into_bytes());
    match selector % 12 {
        0 => (None, Who::Nobody),
        1 => (bearer(READER), Who::Reader),
        2 => (bearer(WRITER), Who::Writer),
        // Surrounding blanks are trimmed from the token.
        3 => (
            Some(format!("Bearer   {WRITER} \t").into_bytes()),
            Who::Writer,
        ),
        // Unknown tokens: the raw bytes as a token, a good token with a byte more or less.
        4 => {
            let mut header = b"Bearer ".to_vec();
            header.extend_from_slice(raw);
            // A header value with bytes beyond ASCII is no token at all.
            let who = match std::str::from_utf8(raw) {
                Ok(text) if text.is_ascii() && text.trim() == READER => Who::Reader,
                Ok(text) if text.is_ascii() && text.trim() == WRITER => Who::Writer,
                _ => Who::Nobody,
            };
            (Some(header), who)
        }
        5 => (bearer(&WRITER[..WRITER.len() - 1]), Who::Nobody),
        6 => (bearer(&format!("{READER}0")), Who::Nobody),
        // Other schemes and malformed headers.
        7 => (Some(format!("Basic {WRITER}").into_bytes()), Who::Nobody),
        // The scheme's name is case-insensitive.
        8 => (Some(format!("bearer {WRITER}").into_bytes()), Who::Writer),
        9 => (Some(format!("Bearer{WRITER}").into_bytes()), Who::Nobody),
        10 => (Some(WRITER.as_bytes().to_vec()), Who::Nobody),
        _ => {
            let text = String::from_utf8_lossy(raw);
            let who = if text.contains(READER) || text.contains(WRITER) {
                Who::Unclear
            } else {
                Who::Nobody
            };
            (Some(raw.to_vec()), who)
        }
    }
}

fn percent_encode(key: &[u8]) -> String {
    let mut out = String::new();
    for &b in key {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn request(
    method: &Method,
    uri: &str,
    header: Option<&[u8]>,
    body: &[u8],
) -> Option<Request<Body>> {
    let mut builder = Request::builder().method(method.clone()).uri(uri);
    if let Some(value) = header {
        builder = builder.header(header::AUTHORIZATION, value);
    }
    builder.body(Body::from(body.to_vec())).ok()
}

fn read_back(node: &Node, uri_key: &str) -> (StatusCode, Vec<u8>) {
    let header = format!("Bearer {READER}");
    let request = request(
        &Method::GET,
        &format!("/v1/kv/{uri_key}"),
        Some(header.as_bytes()),
        b"",
    )
    .expect("a read of an encoded key is a valid request");
    let (response, body) = node.send(request);
    (response.status(), body)
}

fuzz_target!(|data: &[u8]| {
    let [m, selector, mode, rest @ ..] = data else {
        return;
    };
    let method = &METHODS[usize::from(*m) % METHODS.len()];
    let mut parts = rest.splitn(3, |&b| b == b'\n');
    let target = parts.next().unwrap_or_default();
    let raw_header = parts.next().unwrap_or_default();
    let body = parts.next().unwrap_or_default();
    let (header, who) = authorization(*selector, raw_header);

    // The request: a key operation on a key we know, or any path.
    let key_op = mode & 1 == 0;
    let (uri, key) = if key_op {
        let mut key = PREFIXES[usize::from(mode >> 1) % PREFIXES.len()].to_vec();
        key.extend_from_slice(target);
        let encoded = percent_encode(&key);
        let suffix = SUFFIXES[usize::from(mode >> 3) % SUFFIXES.len()];
        (format!("/v1/kv/{encoded}{suffix}"), Some((key, encoded)))
    } else {
        let Ok(path) = std::str::from_utf8(target) else {
            return;
        };
        (format!("/{}", path.trim_start_matches('/')), None)
    };
    let Some(secured_request) = request(method, &uri, header.as_deref(), body) else {
        return;
    };
    let path = secured_request.uri().path().to_owned();

    // What docs/security.md says the answer is: Some(status) for a refusal, None to let it
    // through, or unknown.
    let refused = StatusCode::UNAUTHORIZED;
    let forbidden = StatusCode::FORBIDDEN;
    let expected: Option<Option<StatusCode>> = if path == "/health" || path == "/ready" {
        Some(None)
    } else {
        match (who, &key) {
            (Who::Nobody, _) => Some(Some(refused)),
            (Who::Unclear, _) | (_, None) => None,
            (Who::Reader, Some(_)) if *method == Method::GET || *method == Method::HEAD => {
                Some(None)
            }
            (Who::Reader, Some(_)) => Some(Some(forbidden)),
            (Who::Writer, Some((key, _))) if key.starts_with(b"a/") => Some(None),
            (Who::Writer, Some(_)) => Some(Some(forbidden)),
        }
    };

    let Nodes { secured, open } = nodes();
    let before_value = key.as_ref().map(|(_, encoded)| read_back(secured, encoded));
    let before_work = secured.work_done();
    let (response, answer) = secured.send(secured_request);
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {uri}");
    let denied = status == refused || status == forbidden;
    if let Some(expected) = expected {
        match expected {
            Some(want) => assert_eq!(status, want, "{method} {uri} as {who:?}"),
            None => assert!(!denied, "{method} {uri} as {who:?}: {status}"),
        }
    }

    if denied {
        // Refused before it ran: the JSON error (no body at all for HEAD), nothing done,
        // nothing changed.
        if *method != Method::HEAD {
            let error: serde_json::Value =
                serde_json::from_slice(&answer).expect("a refusal is the JSON error format");
            let want = if status == refused {
                "unauthorized"
            } else {
                "forbidden"
            };
            assert_eq!(error["error"], want, "{method} {uri}");
            assert!(error["detail"].is_string(), "{method} {uri}");
        }
        if status == refused {
            assert_eq!(
                response
                    .headers()
                    .get(header::WWW_AUTHENTICATE)
                    .map(|v| v.as_bytes()),
                Some(&b"Bearer"[..]),
                "{method} {uri}"
            );
        }
        assert_eq!(
            secured.work_done(),
            before_work,
            "{method} {uri} as {who:?} ran"
        );
        if let (Some((_, encoded)), Some(before)) = (&key, before_value) {
            assert_eq!(
                read_back(secured, encoded),
                before,
                "{method} {uri} as {who:?}"
            );
        }
    } else {
        // Let through: answered as without tokens.
        let open_request = request(method, &uri, None, body).expect("built once already");
        let (open_response, open_answer) = open.send(open_request);
        assert_eq!(status, open_response.status(), "{method} {uri} as {who:?}");
        if *method == Method::GET && status == StatusCode::OK && key.is_some() {
            assert_eq!(answer, open_answer, "{method} {uri}");
        }
    }
});
