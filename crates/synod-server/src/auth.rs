//! Bearer tokens for the client API: who may read or write which keys (`serve --token-file`).
//!
//! The token file is TOML, one `[[token]]` table per grant; it holds only the SHA-256 of each
//! token, never the token itself:
//!
//! ```toml
//! [[token]]
//! name = "billing"                 # for logs and people
//! sha256 = "9f86d081884c7d65…"      # hex SHA-256 of the token (`synod certs token` prints both)
//! access = "read-write"            # or "read"
//! prefix = "billing/"              # the keys it covers; "" = every key
//! ```
//!
//! A token may appear in several tables (several prefixes). Tokens are 256-bit random strings,
//! so a plain SHA-256 is enough to keep the file from being a list of secrets (nobody can guess
//! back a 256-bit value; a slow password hash would only slow every request down).
//!
//! With a token file, every request but `/health` and `/ready` (liveness probes, which tell
//! nothing but the node's id and readiness) needs `Authorization: Bearer <token>`: without a
//! known token the answer is 401 `unauthorized`; a key operation outside the token's prefixes,
//! or a write with a read-only token, is 403 `forbidden`; `/v1/cluster` and `/metrics` take any
//! known token. Both are decided before the request is run, so a refused request changes
//! nothing. Requests forwarded between nodes were authorized at the node the client reached.

use crate::api_error::error_response;
use crate::reloadable::Reloadable;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use thiserror::Error;

/// What a grant allows on its keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Reads only (`GET`).
    Read,
    /// Reads and writes.
    ReadWrite,
}

/// One `[[token]]` table.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    sha256: String,
    access: Access,
    prefix: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    token: Vec<Entry>,
}

/// What one token may do on keys under one prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The grant's name.
    pub name: String,
    /// Read, or read and write.
    pub access: Access,
    /// The keys it covers: those starting with these bytes.
    pub prefix: Vec<u8>,
}

/// Why a token file could not be loaded.
#[derive(Debug, Error)]
pub enum TokenFileError {
    /// Unreadable.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Not the format above.
    #[error("token file {path}: {detail}")]
    Format {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
}

/// The tokens a node accepts, by the SHA-256 of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    grants: HashMap<[u8; 32], Vec<Grant>>,
}

/// The token list a node runs with, replaced on reload.
pub type SharedTokens = Arc<Reloadable<Tokens>>;

/// What a request needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need<'a> {
    /// Nothing: `/health`, `/ready`.
    Nothing,
    /// Any known token: `/v1/cluster`, `/metrics`, unknown routes.
    AnyToken,
    /// To read this key.
    Read(&'a [u8]),
    /// To write this key.
    Write(&'a [u8]),
}

/// Why a request was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum Denied {
    /// No token, or an unknown one (401).
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A known token without the right (403).
    #[error("{0}")]
    Forbidden(String),
}

/// The hex SHA-256 of a token, as the token file holds it.
pub fn hash_token(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// A new random token: 32 random bytes in hex.
pub fn new_token() -> String {
    hex(&rand::random::<[u8; 32]>())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl Tokens {
    /// Parses a token file's text (`path` names it in errors).
    pub fn parse(text: &str, path: &str) -> Result<Self, TokenFileError> {
        let format = |detail: String| TokenFileError::Format {
            path: path.to_owned(),
            detail,
        };
        let file: File = toml::from_str(text).map_err(|e| format(e.message().to_owned()))?;
        let mut tokens = Tokens::default();
        for entry in file.token {
            let hash = unhex(&entry.sha256).ok_or_else(|| {
                format(format!(
                    "token {:?}: sha256 must be 64 hex digits (the SHA-256 of the token)",
                    entry.name
                ))
            })?;
            tokens.grants.entry(hash).or_default().push(Grant {
                name: entry.name,
                access: entry.access,
                prefix: entry.prefix.into_bytes(),
            });
        }
        Ok(tokens)
    }

    /// Reads and parses a token file.
    pub fn load(path: &Path) -> Result<Self, TokenFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// Whether `token` (the bearer token, if the request carried one) may do what `need` says.
    pub fn authorize(&self, token: Option<&str>, need: Need<'_>) -> Result<(), Denied> {
        if need == Need::Nothing {
            return Ok(());
        }
        let token = token.ok_or(Denied::Unauthenticated(
            "this node requires a bearer token (Authorization: Bearer <token>)",
        ))?;
        let hash: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let grants = self
            .grants
            .get(&hash)
            .ok_or(Denied::Unauthenticated("unknown token"))?;
        let (key, write) = match need {
            Need::Nothing | Need::AnyToken => return Ok(()),
            Need::Read(key) => (key, false),
            Need::Write(key) => (key, true),
        };
        let covering = grants.iter().filter(|g| key.starts_with(&g.prefix));
        if covering
            .clone()
            .any(|g| !write || g.access == Access::ReadWrite)
        {
            return Ok(());
        }
        let name = &grants[0].name;
        Err(Denied::Forbidden(if covering.count() > 0 {
            format!("token {name:?} may only read this key")
        } else {
            let prefixes: Vec<String> = grants
                .iter()
                .map(|g| format!("{:?}", String::from_utf8_lossy(&g.prefix)))
                .collect();
            format!(
                "token {name:?} covers only keys starting with {}",
                prefixes.join(" or ")
            )
        }))
    }
}

/// What a request needs, from its method and path (the key percent-decoded as the router
/// decodes it).
fn need_of(method: &Method, path: &str, key: &mut Vec<u8>) -> Option<bool> {
    let rest = path.strip_prefix("/v1/kv/")?;
    let raw = rest.split('/').next().unwrap_or(rest);
    key.extend(percent_encoding::percent_decode_str(raw));
    Some(*method != Method::GET && *method != Method::HEAD)
}

/// The middleware: refuses (401/403, `{"error","detail"}`) a request its token does not allow.
/// The token of an `Authorization: Bearer <token>` header value. The scheme's name is
/// case-insensitive (RFC 9110, 11.1: `bearer` and `BEARER` are `Bearer`); blanks around the token
/// are dropped. Any other scheme, or none, is no token.
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| token.trim())
}

pub async fn authorize(tokens: SharedTokens, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let mut key = Vec::new();
    let need = match need_of(request.method(), path, &mut key) {
        _ if path == "/health" || path == "/ready" => Need::Nothing,
        // Changing the members writes the cluster's own (reserved) membership record.
        _ if path == "/v1/members" && request.method() == Method::POST => {
            Need::Write(crate::members_record::MEMBERS_KEY)
        }
        Some(true) => Need::Write(&key),
        Some(false) => Need::Read(&key),
        None => Need::AnyToken,
    };
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    match tokens.get().authorize(token, need) {
        Ok(()) => next.run(request).await,
        Err(Denied::Unauthenticated(why)) => {
            let mut response =
                error_response(StatusCode::UNAUTHORIZED, "unauthorized", why.to_owned());
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            response
        }
        Err(Denied::Forbidden(why)) => error_response(StatusCode::FORBIDDEN, "forbidden", why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        let text = format!(
            r#"
            [[token]]
            name = "reader"
            sha256 = "{}"
            access = "read"
            prefix = ""

            [[token]]
            name = "a-writer"
            sha256 = "{}"
            access = "read-write"
            prefix = "a/"
            "#,
            hash_token("r-secret"),
            hash_token("a-secret")
        );
        Tokens::parse(&text, "tokens.toml").unwrap()
    }

    #[test]
    fn grants_are_checked_by_access_and_prefix() {
        let t = tokens();
        assert_eq!(t.authorize(Some("r-secret"), Need::Read(b"b/x")), Ok(()));
        assert!(matches!(
            t.authorize(Some("r-secret"), Need::Write(b"b/x")),
            Err(Denied::Forbidden(why)) if why.contains("may only read")
        ));
        assert_eq!(t.authorize(Some("a-secret"), Need::Write(b"a/x")), Ok(()));
        assert!(matches!(
            t.authorize(Some("a-secret"), Need::Read(b"b/x")),
            Err(Denied::Forbidden(why)) if why.contains("\"a/\"")
        ));
        assert!(matches!(
            t.authorize(Some("wrong"), Need::Read(b"a/x")),
            Err(Denied::Unauthenticated(_))
        ));
        assert!(matches!(
            t.authorize(None, Need::AnyToken),
            Err(Denied::Unauthenticated(_))
        ));
        assert_eq!(t.authorize(Some("a-secret"), Need::AnyToken), Ok(()));
        assert_eq!(t.authorize(None, Need::Nothing), Ok(()));
    }

    #[test]
    fn bad_token_files_are_refused_naming_the_problem() {
        let err = Tokens::parse(
            "[[token]]\nname = \"x\"\nsha256 = \"abc\"\naccess = \"read\"\nprefix = \"\"\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("64 hex digits"), "{err}");
        let err = Tokens::parse(
            "[[token]]\nname = \"x\"\nsha256 = \"abc\"\naccess = \"all\"\nprefix = \"\"\n",
            "t.toml",
        )
        .unwrap_err();
        assert!(err.to_string().contains("read-write"), "{err}");
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive_and_no_other_scheme_is_a_token() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("BEARER   abc \t"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
        assert_eq!(bearer_token("abc"), None);
    }

    #[test]
    fn the_key_is_decoded_as_the_router_decodes_it() {
        let mut key = Vec::new();
        assert_eq!(need_of(&Method::PUT, "/v1/kv/b%2Fx", &mut key), Some(true));
        assert_eq!(key, b"b/x");
        key.clear();
        assert_eq!(
            need_of(&Method::POST, "/v1/kv/a%2Fy/cas", &mut key),
            Some(true)
        );
        assert_eq!(key, b"a/y");
        key.clear();
        assert_eq!(need_of(&Method::GET, "/v1/kv/k", &mut key), Some(false));
        assert_eq!(need_of(&Method::GET, "/v1/cluster", &mut key), None);
    }
}
