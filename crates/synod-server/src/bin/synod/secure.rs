//! The client commands' TLS and token flags (`--cacert`, `--cert`/`--key`, `--token`, or the
//! `SYNOD_CACERT`, `SYNOD_CERT`, `SYNOD_KEY`, `SYNOD_TOKEN` variables, as `--endpoints` has
//! `SYNOD_ENDPOINTS`).

use clap::Args;
use std::path::PathBuf;
use synod_server::{CertFiles, ClientOptions};

/// How the client proves itself to a secured cluster.
#[derive(Args, Debug, Clone)]
pub struct ClientSecurity {
    /// Trust this CA (PEM) for `https://` endpoints (`synod cluster --tls` prints its path).
    #[arg(long, env = "SYNOD_CACERT")]
    pub cacert: Option<PathBuf>,
    /// Present this client certificate (PEM) to nodes that require one; needs --key and
    /// --cacert.
    #[arg(long = "cert", env = "SYNOD_CERT", requires_all = ["client_key", "cacert"])]
    pub client_cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long = "key", env = "SYNOD_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Send this bearer token (prefer SYNOD_TOKEN: a flag shows in the process list).
    #[arg(long, env = "SYNOD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ClientSecurity {
    /// The options every client of this command uses.
    pub fn options(&self) -> anyhow::Result<ClientOptions> {
        let mut options = ClientOptions::default();
        if let Some(ca) = &self.cacert {
            let own = self
                .client_cert
                .clone()
                .zip(self.client_key.clone())
                .map(|(cert, key)| CertFiles { cert, key });
            options = options.with_tls(ca, own.as_ref())?;
        }
        if let Some(token) = &self.token {
            options = options.with_token(token.trim());
        }
        Ok(options)
    }
}
