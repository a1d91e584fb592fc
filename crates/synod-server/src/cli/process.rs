//! What every Synod binary does before its command runs: logs to stderr, command-line arguments
//! with an optional `--config` file expanded for the node subcommand, and a multi-threaded tokio
//! runtime to run the command on.
//!
//! Logging follows the usual conventions. The filter is `SYNOD_LOG`, else `RUST_LOG`, else
//! `info` (`SYNOD_LOG` wins when both are set; an empty variable counts as unset); a filter that
//! does not parse is an error at start-up naming the variable. The format is `text` (the
//! default) or `json` (one JSON object per line), from the global `--log-format` flag, else
//! `SYNOD_LOG_FORMAT`; the flag is passed on to child processes (`synod cluster`'s nodes) through
//! that variable. Colour only when stderr is a terminal and `NO_COLOR` is unset.

use std::ffi::OsString;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The filter variable of Synod's own (wins over [`RUST_LOG`]).
pub const SYNOD_LOG: &str = "SYNOD_LOG";
/// The conventional filter variable.
pub const RUST_LOG: &str = "RUST_LOG";
/// The log format variable: `text` or `json`.
pub const SYNOD_LOG_FORMAT: &str = "SYNOD_LOG_FORMAT";

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The log filter from the values of `SYNOD_LOG` and `RUST_LOG` (in that order of precedence;
/// empty values count as unset), default `info`. An invalid filter is an error naming the
/// variable it came from.
pub fn log_filter(synod_log: Option<&str>, rust_log: Option<&str>) -> anyhow::Result<EnvFilter> {
    let given = [(SYNOD_LOG, synod_log), (RUST_LOG, rust_log)]
        .into_iter()
        .find_map(|(name, value)| Some((name, value.filter(|v| !v.trim().is_empty())?)));
    let Some((name, text)) = given else {
        return Ok(EnvFilter::new("info"));
    };
    EnvFilter::builder().parse(text).map_err(|e| {
        anyhow::anyhow!(
            "invalid log filter in {name}={text:?}: {e} (expected e.g. \"info\", \"debug\" or \"synod_server::transport=debug,info\")"
        )
    })
}

/// The log format from the value of `SYNOD_LOG_FORMAT` (default text).
pub fn log_format(value: Option<&str>) -> anyhow::Result<LogFormat> {
    match value.map(str::trim) {
        None | Some("") | Some("text") => Ok(LogFormat::Text),
        Some("json") => Ok(LogFormat::Json),
        Some(other) => {
            anyhow::bail!("invalid {SYNOD_LOG_FORMAT}={other:?}: expected \"text\" or \"json\"")
        }
    }
}

fn var(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => anyhow::bail!("{name} is not valid UTF-8"),
    }
}

/// The value of the global `--log-format` flag in `args` (`--log-format json` or
/// `--log-format=json`, before any `--`), if it is there.
pub fn log_format_flag(args: &[OsString]) -> Option<String> {
    let mut args = args.iter().map(|a| a.to_string_lossy());
    while let Some(arg) = args.next() {
        if arg == "--" {
            return None;
        }
        if arg == "--log-format" {
            return Some(args.next().map_or_else(String::new, |v| v.into_owned()));
        }
        if let Some(value) = arg.strip_prefix("--log-format=") {
            return Some(value.to_owned());
        }
    }
    None
}

/// Installs the stderr logger configured by `--log-format` in `args` and the environment (see
/// the module docs).
fn init_logging(args: &[OsString]) -> anyhow::Result<()> {
    let filter = log_filter(var(SYNOD_LOG)?.as_deref(), var(RUST_LOG)?.as_deref())?;
    let format = match log_format_flag(args) {
        Some(flag) => {
            let format = log_format(Some(&flag)).map_err(|_| {
                anyhow::anyhow!("invalid --log-format {flag:?}: expected \"text\" or \"json\"")
            })?;
            // Child processes (a launcher's nodes) log the same way.
            std::env::set_var(SYNOD_LOG_FORMAT, &flag);
            format
        }
        None => log_format(var(SYNOD_LOG_FORMAT)?.as_deref())?,
    };
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(colour).init(),
        LogFormat::Json => builder.json().with_ansi(false).init(),
    }
    Ok(())
}

/// Sets up logging, expands a `--config` file for `node_subcommand`, and returns the arguments
/// to parse and the runtime to run the command on.
pub fn start(node_subcommand: &str) -> anyhow::Result<(Vec<OsString>, tokio::runtime::Runtime)> {
    let args: Vec<OsString> = std::env::args_os().collect();
    init_logging(&args)?;
    let args = super::expand_config_file(args, node_subcommand)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok((args, runtime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_format_flag_is_found_in_either_spelling_before_any_double_dash() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            log_format_flag(&args(&["synod", "--log-format", "json", "serve"])),
            Some("json".into())
        );
        assert_eq!(
            log_format_flag(&args(&["synod", "serve", "--log-format=text"])),
            Some("text".into())
        );
        assert_eq!(log_format_flag(&args(&["synod", "serve"])), None);
        assert_eq!(
            log_format_flag(&args(&["synod", "put", "--", "--log-format", "json"])),
            None,
            "after -- it is a value, not a flag"
        );
        assert_eq!(
            log_format_flag(&args(&["synod", "--log-format"])),
            Some(String::new()),
            "a missing value is an invalid format, not no flag"
        );
    }

    #[test]
    fn synod_log_wins_over_rust_log_and_info_is_the_default() {
        let shown = |synod, rust| log_filter(synod, rust).unwrap().to_string();
        assert_eq!(shown(None, None), "info");
        assert_eq!(shown(Some(""), Some("  ")), "info", "empty counts as unset");
        assert_eq!(shown(None, Some("debug")), "debug");
        assert_eq!(shown(Some("warn"), Some("debug")), "warn");
        let both = "synod_server::transport=debug,info";
        assert_eq!(
            shown(Some(""), Some(both)),
            EnvFilter::new(both).to_string()
        );
    }

    #[test]
    fn an_invalid_filter_is_an_error_naming_its_variable() {
        let err = log_filter(Some("synod_server=loud"), Some("debug"))
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("invalid log filter in SYNOD_LOG=\"synod_server=loud\": "),
            "{err}"
        );
        let err = log_filter(None, Some("[{")).unwrap_err().to_string();
        assert!(
            err.starts_with("invalid log filter in RUST_LOG=\"[{\": "),
            "{err}"
        );
        // A valid SYNOD_LOG hides an invalid RUST_LOG: only the filter in force is read.
        assert!(log_filter(Some("info"), Some("x=loud")).is_ok());
    }

    #[test]
    fn the_format_is_text_or_json() {
        assert_eq!(log_format(None).unwrap(), LogFormat::Text);
        assert_eq!(log_format(Some("json")).unwrap(), LogFormat::Json);
        assert_eq!(log_format(Some("text")).unwrap(), LogFormat::Text);
        let err = log_format(Some("yaml")).unwrap_err().to_string();
        assert_eq!(
            err,
            "invalid SYNOD_LOG_FORMAT=\"yaml\": expected \"text\" or \"json\""
        );
    }
}
