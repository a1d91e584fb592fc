//! `synod serve --config node.toml`: a node's flags kept in a TOML file.
//!
//! Every top-level key is a `serve` flag in snake_case (`round_timeout_ms = 200` is
//! `--round-timeout-ms=200`; `init = true` is `--init`; an on/off feature takes a boolean or
//! the word, `fast_paths = false` is `--fast-paths=off`), and `[peers]` maps node ids to peer
//! addresses. The file's settings are inserted before the command line's own flags, and a flag
//! given on the command line overrides the file's. Unknown keys are reported like unknown flags.
//!
//! ```toml
//! id = 1
//! cluster_id = "prod"
//! http = "10.0.0.1:8081"
//! data = "/var/lib/synod"
//! round_timeout_ms = 500
//!
//! [peers]
//! 1 = "10.0.0.1:7001"
//! 2 = "10.0.0.2:7001"
//! 3 = "10.0.0.3:7001"
//! ```

use anyhow::{bail, Context};
use std::ffi::OsString;

/// The flags that take `on` or `off` (a boolean in the file): `false` must say `off`, not be
/// left out as a false presence flag is — that would leave the feature on.
const SWITCHES: [&str; 3] = ["fast_paths", "forward", "check_addresses"];

/// Expands a `COMMAND … --config FILE …` command line into flags, where `command` is the
/// binary's serve command (`serve` for `synod`, `node` for `synod-harness`); other commands pass
/// through.
pub fn expand(args: Vec<OsString>, command: &str) -> anyhow::Result<Vec<OsString>> {
    let Some(serve) = args.iter().position(|a| a == command) else {
        return Ok(args);
    };
    let mut file = None;
    for (i, arg) in args.iter().enumerate().skip(serve + 1) {
        let arg = arg.to_string_lossy();
        if let Some(path) = arg.strip_prefix("--config=") {
            file = Some(path.to_owned());
        } else if arg == "--config" {
            let path = args.get(i + 1).context("--config needs a file")?;
            file = Some(path.to_string_lossy().into_owned());
        }
    }
    let Some(file) = file else { return Ok(args) };
    let text = std::fs::read_to_string(&file).with_context(|| format!("reading {file}"))?;
    let flags = flags(&text).with_context(|| format!("in config file {file}"))?;
    let mut expanded = args[..=serve].to_vec();
    expanded.extend(flags.into_iter().map(OsString::from));
    expanded.extend(args[serve + 1..].iter().cloned());
    Ok(expanded)
}

/// The flags a config file's text stands for.
fn flags(text: &str) -> anyhow::Result<Vec<String>> {
    let table: toml::Table = text.parse()?;
    let mut flags = Vec::new();
    for (key, value) in table {
        let flag = format!("--{}", key.replace('_', "-"));
        match (key.as_str(), value) {
            ("config", _) => bail!("a config file cannot name another config file"),
            ("peers", toml::Value::Table(peers)) => {
                let list: Vec<String> = peers
                    .into_iter()
                    .map(|(id, addr)| match addr {
                        toml::Value::String(addr) => Ok(format!("{id}={addr}")),
                        other => bail!("peer {id}: expected an address string, got {other}"),
                    })
                    .collect::<anyhow::Result<_>>()?;
                flags.push(format!("--peers={}", list.join(",")));
            }
            (key, toml::Value::Boolean(on)) if SWITCHES.contains(&key) => {
                flags.push(format!("{flag}={}", if on { "on" } else { "off" }));
            }
            (_, toml::Value::Boolean(true)) => flags.push(flag),
            (_, toml::Value::Boolean(false)) => {}
            (_, toml::Value::String(s)) => flags.push(format!("{flag}={s}")),
            (_, toml::Value::Integer(n)) => flags.push(format!("{flag}={n}")),
            (key, other) => bail!("{key}: unsupported value {other}"),
        }
    }
    Ok(flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_becomes_flags() {
        let text = r#"
            id = 2
            http = "127.0.0.1:8082"
            init = true
            round_timeout_ms = 200
            cache_limit = 50000
            fast_paths = false
            forward = "off"
            [peers]
            1 = "127.0.0.1:7001"
            2 = "127.0.0.1:7002"
        "#;
        let mut got = flags(text).unwrap();
        got.sort();
        assert_eq!(
            got,
            [
                "--cache-limit=50000",
                "--fast-paths=off",
                "--forward=off",
                "--http=127.0.0.1:8082",
                "--id=2",
                "--init",
                "--peers=1=127.0.0.1:7001,2=127.0.0.1:7002",
                "--round-timeout-ms=200",
            ]
        );
        assert!(flags("peers = [1, 2]").is_err());
        assert!(flags("id = [").is_err());
    }
}
