//! The `synod` binary's exit codes, one small set for every command, and the error that carries
//! one. Each command's `--help` lists the codes it uses (the texts below); docs/server.md has
//! the table.

use synod_server::{ClientError, FailoverError};

/// The command did what was asked.
pub const OK: u8 = 0;
/// The operation failed, or its outcome is unknown (the message says which); for `serve` and
/// `cluster`: a node failed to start or stopped on its own.
pub const FAILED: u8 = 1;
/// Bad usage: a bad flag, an empty key, an unreadable value file. Nothing was sent.
pub const USAGE: u8 = 2;
/// No endpoint could be reached: nothing was sent, the operation did not take effect.
pub const UNREACHABLE: u8 = 3;
/// A definite "no": `get` found the key empty, `cas` found another value.
pub const NO: u8 = 4;

/// The exit codes shared by the client commands.
macro_rules! client_codes {
    ($($extra:literal)?) => {
        concat!(
            "Exit codes:\n",
            "  0  done\n",
            "  1  failed, or the outcome is unknown: the message says which (an `indeterminate` \
             or `timeout` write may have taken effect: read the key)\n",
            "  2  usage error (bad flag, empty key, unreadable value); nothing was sent\n",
            "  3  no endpoint could be reached; nothing was sent, the operation did not take \
             effect\n",
            $($extra,)?
            "\nWith several --endpoints, a write moves to the next endpoint only when it surely \
             did not take effect (the connection could not be made, or the node answered \
             `unavailable` or `overloaded`); a read also after a timeout or any 503."
        )
    };
}

/// `synod get --help`.
pub const GET_HELP: &str = client_codes!("  4  the key is empty\n");
/// `synod cas --help`.
pub const CAS_HELP: &str =
    client_codes!("  4  mismatch: the current value is not the expected one\n");
/// `synod put|del|propose-once --help`.
pub const WRITE_HELP: &str = client_codes!();
/// `synod serve|cluster --help`.
pub const NODE_HELP: &str =
    "Exit codes:\n  0  stopped by Ctrl-C or SIGTERM\n  1  a node could not \
     start, or stopped (or, for `cluster`, exited) on its own; the message says why\n  2  usage \
     error (bad flag)";

/// An error with the exit code it ends the command with.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What to print.
    pub error: anyhow::Error,
}

impl Failure {
    /// A usage error.
    pub fn usage(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: USAGE,
            error: error.into(),
        }
    }

    /// A failed operation.
    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code: FAILED,
            error: error.into(),
        }
    }
}

impl From<FailoverError> for Failure {
    fn from(e: FailoverError) -> Self {
        let code = match e.last() {
            ClientError::Key(_) | ClientError::Endpoint(_) => USAGE,
            _ if e.unreachable() => UNREACHABLE,
            _ => FAILED,
        };
        Failure {
            code,
            error: e.into(),
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::failed(e)
    }
}
