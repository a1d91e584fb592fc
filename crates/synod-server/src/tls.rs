//! TLS configurations built from PEM files: the peer transport's (mutual TLS 1.3, every node
//! named `synod-node-<id>` in its certificate), the HTTP API's (HTTPS, optionally requiring client
//! certificates) and the Rust client's.
//!
//! Everything uses rustls with the `ring` provider, named explicitly in every builder (no
//! process-wide default, no OpenSSL), and TLS 1.3 only. A node's name is a DNS name in the
//! certificate's subject alternative names: a node dialling node 3 requires the certificate it
//! is shown to name `synod-node-3`, and a node accepting a connection requires the certificate
//! it is shown to name the node the peer's handshake claims ([`certifies_node`]). Both sides
//! require certificates signed by the cluster's CA (`--peer-ca`).
//!
//! The loaded configurations sit behind a [`Reloadable`], so `serve` can swap them for new ones
//! read from the same files (on SIGHUP) without dropping connections: established connections
//! keep the configuration they started with, new ones take the new.

use crate::reloadable::Reloadable;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use synod_core::NodeId;
use thiserror::Error;

/// The DNS name a node's certificate carries: `synod-node-<id>`.
pub fn node_name(node: NodeId) -> String {
    format!("synod-node-{}", node.0)
}

/// Why TLS material could not be loaded.
#[derive(Debug, Error)]
pub enum TlsError {
    /// A file could not be read or holds no PEM object of the kind wanted.
    #[error("{what} {}: {detail}", .path.display())]
    File {
        /// What the file should hold (`certificate`, `private key`, `CA certificate`).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// rustls refused the material (a key that does not match its certificate, say).
    #[error("{0}")]
    Config(String),
}

/// The crypto provider every configuration here uses: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads every certificate in a PEM file (a chain, or a CA bundle).
pub fn load_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let file_error = |detail: String| TlsError::File {
        what,
        path: path.to_owned(),
        detail,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(file_error("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// Reads the private key in a PEM file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::File {
        what: "private key",
        path: path.to_owned(),
        detail: e.to_string(),
    })
}

/// The certificates of a CA file as trust roots.
pub fn load_roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path, "CA certificate")? {
        roots.add(cert).map_err(|e| TlsError::File {
            what: "CA certificate",
            path: path.to_owned(),
            detail: e.to_string(),
        })?;
    }
    Ok(Arc::new(roots))
}

fn config_error(e: impl std::fmt::Display) -> TlsError {
    TlsError::Config(e.to_string())
}

/// A certificate (chain) and its private key, as files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    /// PEM certificate chain, the node's own certificate first.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

impl CertFiles {
    fn load(&self) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
        Ok((load_certs(&self.cert, "certificate")?, load_key(&self.key)?))
    }
}

/// A TLS server configuration accepting TLS 1.3 only; `client_roots` set = a client certificate
/// signed by one of them is required.
fn server_config(
    own: &CertFiles,
    client_roots: Option<Arc<RootCertStore>>,
) -> Result<ServerConfig, TlsError> {
    let (certs, key) = own.load()?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?;
    let builder = match client_roots {
        Some(roots) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider())
                .build()
                .map_err(config_error)?,
        ),
        None => builder.with_no_client_auth(),
    };
    builder.with_single_cert(certs, key).map_err(config_error)
}

/// A TLS client configuration trusting `roots`, presenting `own` if given.
fn client_config(
    roots: Arc<RootCertStore>,
    own: Option<&CertFiles>,
) -> Result<ClientConfig, TlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(config_error)?
        .with_root_certificates(roots);
    match own {
        Some(own) => {
            let (certs, key) = own.load()?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(config_error)
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// Whether `cert` is valid for node `node`'s name ([`node_name`]). (Its chain to the CA was
/// checked by the TLS handshake.)
pub fn certifies_node(cert: &CertificateDer<'_>, node: NodeId) -> bool {
    let Ok(name) = ServerName::try_from(node_name(node)) else {
        return false;
    };
    webpki::EndEntityCert::try_from(cert)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
}

/// Peer TLS files: this node's certificate and key, and the cluster CA (`serve --peer-cert
/// --peer-key --peer-ca`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerTlsFiles {
    /// This node's certificate and key (its certificate names `synod-node-<id>`).
    pub own: CertFiles,
    /// The cluster CA's certificate(s): peers must present a certificate signed by one.
    pub ca: PathBuf,
}

/// The peer transport's TLS: one configuration for connections this node accepts (a client
/// certificate is required) and one for those it opens (its own certificate is presented).
#[derive(Clone)]
pub struct PeerTls {
    /// For inbound connections.
    pub acceptor: tokio_rustls::TlsAcceptor,
    /// For outbound connections.
    pub connector: tokio_rustls::TlsConnector,
}

impl PeerTls {
    /// Loads the files.
    pub fn load(files: &PeerTlsFiles) -> Result<Self, TlsError> {
        let roots = load_roots(&files.ca)?;
        let server = server_config(&files.own, Some(roots.clone()))?;
        let client = client_config(roots, Some(&files.own))?;
        Ok(PeerTls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
        })
    }

    /// The name node `peer`'s certificate must carry, as rustls wants it.
    pub fn server_name(peer: NodeId) -> ServerName<'static> {
        ServerName::try_from(node_name(peer)).expect("synod-node-<id> is a valid DNS name")
    }
}

/// The peer TLS a node runs with, shared by its transport's tasks and replaced on reload.
#[derive(Clone, Debug)]
pub struct SharedPeerTls(pub Arc<Reloadable<PeerTls>>);

impl PartialEq for SharedPeerTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedPeerTls {}

impl std::fmt::Debug for PeerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerTls")
    }
}

/// HTTPS files for the client API (`serve --http-cert --http-key [--http-client-ca]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTlsFiles {
    /// The API's certificate and key.
    pub own: CertFiles,
    /// If set, clients must present a certificate signed by this CA.
    pub client_ca: Option<PathBuf>,
}

/// The HTTPS server configuration.
pub fn http_server_config(files: &HttpTlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let roots = files.client_ca.as_deref().map(load_roots).transpose()?;
    let mut config = server_config(&files.own, roots)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A client configuration for HTTPS: trust the CA in `ca`, present `own` if given.
pub fn https_client_config(ca: &Path, own: Option<&CertFiles>) -> Result<ClientConfig, TlsError> {
    let mut config = client_config(load_roots(ca)?, own)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
