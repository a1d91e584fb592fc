//! Certificates for a cluster, made with rcgen: a CA, one certificate per node (naming
//! `synod-node-<id>`, good for serving and for dialling peers, and for the HTTPS port on the
//! host names given) and client certificates — what `synod cluster --tls` makes as throw-away
//! material in the cluster's data root, and `synod certs` for real deployments.
//!
//! A directory of certificates holds `ca.pem` and `ca-key.pem`, `node-<id>.pem` and
//! `node-<id>-key.pem`, `client-<name>.pem` and `client-<name>-key.pem`. Private keys are written
//! readable by their owner only. Keys are ECDSA P-256. Issuing into a directory that already
//! holds a CA signs with that CA (so a new node, or a renewed certificate, joins the same
//! cluster); without one a new CA is made.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use synod_core::NodeId;

/// How long certificates made here are valid by default, in days.
pub const DEFAULT_DAYS: u32 = 365;

/// What a certificate is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subject {
    /// Node `id`, also serving HTTPS as `hosts` (names or IP addresses).
    Node {
        /// The node.
        id: NodeId,
        /// Extra names of the node's HTTPS port (e.g. `localhost`, `127.0.0.1`).
        hosts: Vec<String>,
    },
    /// A client called `name`.
    Client(String),
}

impl Subject {
    /// The file name stem: `node-<id>` or `client-<name>`.
    pub fn stem(&self) -> String {
        match self {
            Subject::Node { id, .. } => format!("node-{}", id.0),
            Subject::Client(name) => format!("client-{name}"),
        }
    }
}

/// A certificate and its key, as files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

fn window(params: &mut CertificateParams, days: u32) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(i64::from(days));
}

fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

/// The CA in `dir`, made (valid for `days` × 10) if the directory holds none; `Ok(true)` if
/// it was made now.
pub fn ensure_ca(dir: &Path, cluster_id: &str, days: u32) -> anyhow::Result<bool> {
    let (cert, key) = (dir.join("ca.pem"), dir.join("ca-key.pem"));
    if cert.exists() && key.exists() {
        return Ok(false);
    }
    std::fs::create_dir_all(dir)?;
    let key_pair = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        format!("synod CA of cluster {cluster_id}"),
    );
    params.distinguished_name = name;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    window(&mut params, days.saturating_mul(10));
    let ca = params.self_signed(&key_pair)?;
    write(&key, &key_pair.serialize_pem(), true)?;
    write(&cert, &ca.pem(), false)?;
    Ok(true)
}

/// Issues a certificate for `subject` signed by the CA in `dir` (see [`ensure_ca`]), valid for
/// `days`, into `dir`; replaces an older one of the same subject.
pub fn issue(dir: &Path, subject: &Subject, days: u32) -> anyhow::Result<Issued> {
    let read = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.join(name).display()))
    };
    let ca_key = KeyPair::from_pem(&read("ca-key.pem")?)?;
    let ca = CertificateParams::from_ca_cert_pem(&read("ca.pem")?)?.self_signed(&ca_key)?;
    let (names, common, usage) = match subject {
        Subject::Node { id, hosts } => {
            let mut names = vec![crate::tls::node_name(*id)];
            names.extend(hosts.iter().cloned());
            let usage = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            (names, crate::tls::node_name(*id), usage)
        }
        Subject::Client(name) => (
            vec![format!("synod-client-{name}")],
            format!("synod-client-{name}"),
            vec![ExtendedKeyUsagePurpose::ClientAuth],
        ),
    };
    let mut params = CertificateParams::new(names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usage;
    params.use_authority_key_identifier_extension = true;
    window(&mut params, days);
    let key_pair = KeyPair::generate()?;
    let cert = params.signed_by(&key_pair, &ca, &ca_key)?;
    let issued = Issued {
        cert: dir.join(format!("{}.pem", subject.stem())),
        key: dir.join(format!("{}-key.pem", subject.stem())),
    };
    write(&issued.key, &key_pair.serialize_pem(), true)?;
    write(&issued.cert, &cert.pem(), false)?;
    Ok(issued)
}

/// The CA (made if missing) and a certificate for each of `nodes` (serving HTTPS as `hosts`
/// too) and for a client called `client`, in `dir`.
pub fn make_cluster(
    dir: &Path,
    cluster_id: &str,
    nodes: impl IntoIterator<Item = NodeId>,
    hosts: &[String],
    client: &str,
    days: u32,
) -> anyhow::Result<()> {
    ensure_ca(dir, cluster_id, days)?;
    for id in nodes {
        let hosts = hosts.to_vec();
        issue(dir, &Subject::Node { id, hosts }, days)?;
    }
    issue(dir, &Subject::Client(client.to_owned()), days)?;
    Ok(())
}
