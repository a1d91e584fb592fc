//! `synod certs` (a CA and node and client certificates for a real deployment) and `synod token`
//! (a new bearer token and its token-file entry): the operator's side of docs/security.md.

use anyhow::Context;
use clap::{Args, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use synod_core::NodeId;
use synod_server::{
    ensure_ca, hash_token, issue, new_token, Subject, DEFAULT_CLUSTER_ID, DEFAULT_DAYS,
};

/// `synod certs` options.
#[derive(Args, Debug)]
pub struct CertsArgs {
    /// Directory of the CA and certificates (made if missing). A CA already there
    /// (`ca.pem`, `ca-key.pem`) signs the new certificates; otherwise a new CA is made.
    #[arg(long)]
    pub dir: PathBuf,
    /// Issue node certificates for these ids (`1,2,3`): `node-<id>.pem` naming
    /// `synod-node-<id>`, for peers and HTTPS.
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<u8>,
    /// Also name these hosts (names or IP addresses) in the node certificates, for HTTPS
    /// clients (`--hosts node1.example,10.0.0.1`).
    #[arg(long, value_delimiter = ',')]
    pub hosts: Vec<String>,
    /// Issue client certificates with these names (`client-<name>.pem`), for
    /// `serve --http-client-ca`.
    #[arg(long, value_delimiter = ',')]
    pub clients: Vec<String>,
    /// The cluster id (written into a new CA's name).
    #[arg(long, default_value = DEFAULT_CLUSTER_ID)]
    pub cluster_id: String,
    /// Validity of the new certificates, in days (a new CA gets ten times as long).
    #[arg(long, default_value_t = DEFAULT_DAYS)]
    pub days: u32,
}

/// Makes the CA if missing and issues the certificates asked for, naming each file written.
pub fn certs(args: CertsArgs) -> anyhow::Result<()> {
    if ensure_ca(&args.dir, &args.cluster_id, args.days)? {
        println!("new CA: {}", args.dir.join("ca.pem").display());
    }
    let nodes = args.nodes.iter().map(|&id| Subject::Node {
        id: NodeId(id),
        hosts: args.hosts.clone(),
    });
    let clients = args.clients.iter().cloned().map(Subject::Client);
    for subject in nodes.chain(clients) {
        let issued = issue(&args.dir, &subject, args.days)
            .with_context(|| format!("issuing {}", subject.stem()))?;
        println!("{} (key {})", issued.cert.display(), issued.key.display());
    }
    Ok(())
}

/// What a token may do.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum AccessArg {
    /// Reads only.
    Read,
    /// Reads and writes.
    ReadWrite,
}

/// `synod token` options.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// A name for the token (shown in refusals and logs).
    #[arg(long)]
    pub name: String,
    /// What it may do.
    #[arg(long, value_enum)]
    pub access: AccessArg,
    /// The keys it covers: those starting with PREFIX ("" = every key).
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// Append the entry to this token file (otherwise it is printed on stderr).
    #[arg(long)]
    pub append: Option<PathBuf>,
}

/// Makes a token: the token itself on stdout, its hashed entry appended to the file (or on
/// stderr).
pub fn token(args: TokenArgs) -> anyhow::Result<()> {
    let token = new_token();
    let access = match args.access {
        AccessArg::Read => "read",
        AccessArg::ReadWrite => "read-write",
    };
    let entry = format!(
        "\n[[token]]\nname = {:?}\nsha256 = \"{}\"\naccess = \"{access}\"\nprefix = {:?}\n",
        args.name,
        hash_token(&token),
        args.prefix
    );
    match &args.append {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut file| file.write_all(entry.as_bytes()))
            .with_context(|| format!("appending to {}", path.display()))?,
        None => eprint!("{entry}"),
    }
    println!("{token}");
    Ok(())
}
