//! Client scripts for register mode, in a compact text form for the command line:
//! clients separated by `;`, operations by `,` — `put:a`, `delete`, `read`, `cas:a:b`
//! (expect `a`, write `b`; `-` means the empty register), `once:a` (`ProposeOnce`).
//!
//! `put:a,read;cas:-:b` is two clients: the first writes `a` then reads, the second writes `b`
//! if the register is still empty.

use crate::value::Value;
use synod_core::Operation;
use thiserror::Error;

/// A script that could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("bad operation {0:?}: expected put:V, delete, read, cas:V|-:V or once:V (V one letter)")]
pub struct ScriptError(pub String);

/// Parses `put:a,read;cas:-:b` into one operation list per client.
pub fn parse_scripts(text: &str) -> Result<Vec<Vec<Operation<Value>>>, ScriptError> {
    text.split(';')
        .map(|client| client.split(',').map(|op| parse_op(op.trim())).collect())
        .collect()
}

fn parse_value(text: &str, whole: &str) -> Result<Value, ScriptError> {
    let mut chars = text.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphanumeric() => Ok(c),
        _ => Err(ScriptError(whole.to_string())),
    }
}

fn parse_op(text: &str) -> Result<Operation<Value>, ScriptError> {
    let parts: Vec<&str> = text.split(':').collect();
    match parts.as_slice() {
        ["put", v] => Ok(Operation::Put(parse_value(v, text)?)),
        ["once", v] => Ok(Operation::ProposeOnce(parse_value(v, text)?)),
        ["delete"] => Ok(Operation::Delete),
        ["read"] => Ok(Operation::Read),
        ["cas", expected, new] => Ok(Operation::Cas {
            expected: if *expected == "-" {
                None
            } else {
                Some(parse_value(expected, text)?)
            },
            new: parse_value(new, text)?,
        }),
        _ => Err(ScriptError(text.to_string())),
    }
}

/// The text form of one operation (inverse of the parser).
pub fn format_op(op: &Operation<Value>) -> String {
    match op {
        Operation::ProposeOnce(v) => format!("once:{v}"),
        Operation::Put(v) => format!("put:{v}"),
        Operation::Delete => "delete".into(),
        Operation::Read => "read".into(),
        Operation::Cas { expected, new } => {
            format!("cas:{}:{new}", expected.map_or('-', |e| e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_round_trip() {
        let text = "put:a,read;cas:-:b,delete;once:c,cas:a:d";
        let scripts = parse_scripts(text).unwrap();
        assert_eq!(scripts.len(), 3);
        assert_eq!(scripts[0], vec![Operation::Put('a'), Operation::Read]);
        assert_eq!(
            scripts[1][0],
            Operation::Cas {
                expected: None,
                new: 'b'
            }
        );
        let back: Vec<String> = scripts
            .iter()
            .map(|s| s.iter().map(format_op).collect::<Vec<_>>().join(","))
            .collect();
        assert_eq!(back.join(";"), text);
    }

    #[test]
    fn bad_operations_are_errors() {
        assert!(parse_scripts("put:ab").is_err());
        assert!(parse_scripts("write:a").is_err());
        assert!(parse_scripts("cas:a").is_err());
        assert!(parse_scripts("").is_err());
    }
}
