//! The node's command-line layer, shared by every binary that runs nodes: `serve` (one node)
//! and `cluster` (a local N-node cluster of child processes, also what `synod-harness bench
//! --cluster` measures).
//!
//! A binary that starts node processes starts them from itself: `synod cluster` runs
//! `synod serve`, and the test harness runs its own hidden `synod-harness node` — both
//! [`serve`], parsed from the same [`ServeArgs`]. A [`NodeCommand`] names that program and
//! subcommand, so no binary depends on another package's binary being built next to it.

mod cluster;
mod config_file;
mod error_line;
mod init_undo;
mod join;
mod parent_death;
mod process;
mod security_args;
mod serve;

pub use cluster::{run_cluster, ClusterArgs, LocalCluster};
pub use config_file::expand as expand_config_file;
pub use error_line::error_line;
pub use process::start;
pub use security_args::SecurityArgs;
pub use serve::{serve, ServeArgs, Switch, Tuning};

use std::ffi::OsString;
use std::path::PathBuf;

/// How to start one node process: a program and the arguments that make it [`serve`] (e.g.
/// `synod serve`); the node's own flags ([`ServeArgs`]) follow them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeCommand {
    /// The executable.
    pub program: PathBuf,
    /// The arguments before the node's flags (the subcommand).
    pub args: Vec<OsString>,
}

impl NodeCommand {
    /// The running executable with `subcommand`: a binary that starts nodes from itself.
    pub fn current_exe(subcommand: &str) -> std::io::Result<Self> {
        Ok(NodeCommand {
            program: std::env::current_exe()?,
            args: vec![subcommand.into()],
        })
    }

    /// A command that starts a node; the caller adds the node's flags.
    pub fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command.args(&self.args);
        command
    }
}
