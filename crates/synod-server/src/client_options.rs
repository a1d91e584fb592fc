//! How a client reaches a secured node: the CA that signed the nodes' HTTPS certificates, the
//! client's own certificate (when the nodes require one) and its bearer token — the `synod`
//! client's `--cacert`, `--cert`/`--key` and `--token` (or `SYNOD_CACERT`, `SYNOD_CERT`,
//! `SYNOD_KEY`, `SYNOD_TOKEN`). The files are read once, when the options are made.

use crate::tls::{https_client_config, CertFiles, TlsError};
use std::path::Path;
use std::sync::Arc;

/// TLS and token settings shared by every [`Client`](crate::Client) made with them.
#[derive(Clone, Default)]
pub struct ClientOptions {
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) token: Option<String>,
}

impl std::fmt::Debug for ClientOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientOptions")
            .field("tls", &self.tls.is_some())
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl ClientOptions {
    /// Trust the CA in `ca` for `https://` endpoints, presenting `own` if given.
    pub fn with_tls(mut self, ca: &Path, own: Option<&CertFiles>) -> Result<Self, TlsError> {
        self.tls = Some(Arc::new(https_client_config(ca, own)?));
        Ok(self)
    }

    /// Send `token` as `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }
}
