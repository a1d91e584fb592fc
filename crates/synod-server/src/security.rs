//! A node's security settings — peer mutual TLS, HTTPS (with optional client certificates) and
//! bearer tokens — as files named on the command line, loaded at start and reloaded from the same
//! files on request (`serve` reloads on SIGHUP), so certificates and tokens can be rotated
//! without a restart (docs/security.md).
//!
//! A reload is all or nothing: every file is read and checked first, and only if all of them are
//! good are the new configurations swapped in; otherwise the node keeps what it had and the
//! error is reported. Connections already open keep the TLS session they have; new connections
//! and new requests see the new certificates and tokens.

use crate::auth::{SharedTokens, TokenFileError, Tokens};
use crate::reloadable::Reloadable;
use crate::tls::{self, HttpTlsFiles, PeerTls, PeerTlsFiles, SharedPeerTls, TlsError};
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;
use tokio_rustls::TlsAcceptor;

/// Which files secure a node (all off by default: plain TCP, plain HTTP, no tokens).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecurityConfig {
    /// Mutual TLS between peers.
    pub peer_tls: Option<PeerTlsFiles>,
    /// HTTPS on the client port.
    pub http_tls: Option<HttpTlsFiles>,
    /// Bearer tokens required on the client API.
    pub token_file: Option<PathBuf>,
}

/// Why security material could not be (re)loaded.
#[derive(Debug, Error)]
pub enum SecurityError {
    /// Peer TLS.
    #[error("peer TLS: {0}")]
    Peer(TlsError),
    /// HTTPS.
    #[error("HTTPS: {0}")]
    Http(TlsError),
    /// Tokens.
    #[error(transparent)]
    Tokens(#[from] TokenFileError),
}

/// The loaded material, each piece replaceable under its users.
pub struct Security {
    config: SecurityConfig,
    peer: Option<SharedPeerTls>,
    http: Option<Arc<Reloadable<TlsAcceptor>>>,
    tokens: Option<SharedTokens>,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

struct Loaded {
    peer: Option<PeerTls>,
    http: Option<TlsAcceptor>,
    tokens: Option<Tokens>,
}

fn load(config: &SecurityConfig) -> Result<Loaded, SecurityError> {
    Ok(Loaded {
        peer: config
            .peer_tls
            .as_ref()
            .map(PeerTls::load)
            .transpose()
            .map_err(SecurityError::Peer)?,
        http: config
            .http_tls
            .as_ref()
            .map(tls::http_server_config)
            .transpose()
            .map_err(SecurityError::Http)?,
        tokens: config.token_file.as_deref().map(Tokens::load).transpose()?,
    })
}

impl Security {
    /// Loads every file `config` names.
    pub fn load(config: &SecurityConfig) -> Result<Self, SecurityError> {
        let loaded = load(config)?;
        Ok(Security {
            config: config.clone(),
            peer: loaded
                .peer
                .map(|p| SharedPeerTls(Arc::new(Reloadable::new(p)))),
            http: loaded.http.map(|h| Arc::new(Reloadable::new(h))),
            tokens: loaded.tokens.map(|t| Arc::new(Reloadable::new(t))),
        })
    }

    /// Peer TLS, for the transport.
    pub fn peer(&self) -> Option<SharedPeerTls> {
        self.peer.clone()
    }

    /// The HTTPS acceptor, for the API's listener.
    pub fn http(&self) -> Option<Arc<Reloadable<TlsAcceptor>>> {
        self.http.clone()
    }

    /// The tokens, for the API.
    pub fn tokens(&self) -> Option<SharedTokens> {
        self.tokens.clone()
    }

    /// Reads every file again and, if all are good, serves new connections and requests with
    /// them; returns what was reloaded, in words.
    pub fn reload(&self) -> Result<String, SecurityError> {
        let loaded = load(&self.config)?;
        let mut done = Vec::new();
        if let (Some(shared), Some(new)) = (&self.peer, loaded.peer) {
            shared.0.set(new);
            done.push("peer certificates");
        }
        if let (Some(shared), Some(new)) = (&self.http, loaded.http) {
            shared.set(new);
            done.push("HTTPS certificate");
        }
        if let (Some(shared), Some(new)) = (&self.tokens, loaded.tokens) {
            shared.set(new);
            done.push("tokens");
        }
        Ok(if done.is_empty() {
            "nothing to reload (no TLS, no tokens)".into()
        } else {
            format!("reloaded {}", done.join(", "))
        })
    }
}
