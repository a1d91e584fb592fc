//! What every Synod binary does before its command runs: logs to stderr filtered by `SYNOD_LOG`
//! (default `info`), command-line arguments with an optional `--config` file expanded for the
//! node subcommand, and a multi-threaded tokio runtime to run the command on.

use std::ffi::OsString;

/// Sets up logging, expands a `--config` file for `node_subcommand`, and returns the arguments
/// to parse and the runtime to run the command on.
pub fn start(node_subcommand: &str) -> anyhow::Result<(Vec<OsString>, tokio::runtime::Runtime)> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SYNOD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = super::expand_config_file(std::env::args_os().collect(), node_subcommand)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok((args, runtime))
}
