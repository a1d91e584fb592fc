//! `synod serve`'s security flags: peer mutual TLS, HTTPS with optional client certificates,
//! bearer tokens (docs/security.md). Each group is all or nothing, checked by clap.

use crate::security::SecurityConfig;
use crate::tls::{CertFiles, HttpTlsFiles, PeerTlsFiles};
use clap::Args;
use std::path::PathBuf;

/// TLS and token flags of `synod serve`.
#[derive(Args, Debug, Clone, Default)]
pub struct SecurityArgs {
    /// This node's peer certificate (PEM; its SAN names `synod-node-<id>`). With --peer-key and
    /// --peer-ca, every peer connection is mutual TLS 1.3 and plain-TCP peers are refused.
    #[arg(long, requires_all = ["peer_key", "peer_ca"])]
    pub peer_cert: Option<PathBuf>,
    /// The private key of --peer-cert (PEM).
    #[arg(long, requires_all = ["peer_cert", "peer_ca"])]
    pub peer_key: Option<PathBuf>,
    /// The cluster CA (PEM; several certificates while a CA is being rotated): peers must
    /// present a certificate it signed.
    #[arg(long, requires_all = ["peer_cert", "peer_key"])]
    pub peer_ca: Option<PathBuf>,
    /// Serve clients over HTTPS with this certificate (PEM), with --http-key.
    #[arg(long, requires = "http_key")]
    pub http_cert: Option<PathBuf>,
    /// The private key of --http-cert (PEM).
    #[arg(long, requires = "http_cert")]
    pub http_key: Option<PathBuf>,
    /// Require HTTPS clients to present a certificate signed by this CA (PEM).
    #[arg(long, requires = "http_cert")]
    pub http_client_ca: Option<PathBuf>,
    /// Require bearer tokens on the client API; the file lists their SHA-256 hashes with read
    /// or read-write access per key prefix (TOML, see docs/security.md).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

impl SecurityArgs {
    /// The files, as the server takes them.
    pub fn config(&self) -> SecurityConfig {
        let pair = |cert: &Option<PathBuf>, key: &Option<PathBuf>| {
            Some(CertFiles {
                cert: cert.clone()?,
                key: key.clone()?,
            })
        };
        SecurityConfig {
            peer_tls: pair(&self.peer_cert, &self.peer_key).and_then(|own| {
                Some(PeerTlsFiles {
                    own,
                    ca: self.peer_ca.clone()?,
                })
            }),
            http_tls: pair(&self.http_cert, &self.http_key).map(|own| HttpTlsFiles {
                own,
                client_ca: self.http_client_ca.clone(),
            }),
            token_file: self.token_file.clone(),
        }
    }

    /// The same flags as command-line arguments (for child processes).
    pub fn to_args(&self) -> Vec<std::ffi::OsString> {
        let mut args = Vec::new();
        let flags = [
            ("--peer-cert", &self.peer_cert),
            ("--peer-key", &self.peer_key),
            ("--peer-ca", &self.peer_ca),
            ("--http-cert", &self.http_cert),
            ("--http-key", &self.http_key),
            ("--http-client-ca", &self.http_client_ca),
            ("--token-file", &self.token_file),
        ];
        for (flag, value) in flags {
            if let Some(path) = value {
                args.push(flag.into());
                args.push(path.into());
            }
        }
        args
    }
}
