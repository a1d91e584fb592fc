//! An error as one line for people: each cause of its chain once. Many error types spell their
//! cause into their own message *and* return it as their `source` (e.g. `cannot listen on ADDR:
//! {source}`), so printing the chain as such repeats it (`…: Address already in use: Address
//! already in use`). Every binary prints its final error with [`error_line`].

/// `context: cause: cause`, skipping a cause whose text the line already ends with or holds.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot listen on 127.0.0.1:7001: {source}")]
    struct Bind {
        source: std::io::Error,
    }

    #[test]
    fn a_cause_spelled_into_its_error_is_printed_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let error = anyhow::Error::new(Bind { source: io }).context("node 1 cannot start");
        assert_eq!(
            error_line(&error),
            "node 1 cannot start: cannot listen on 127.0.0.1:7001: Address already in use"
        );
        // Plain chains keep every link.
        let plain = anyhow::anyhow!("inner").context("middle").context("outer");
        assert_eq!(error_line(&plain), "outer: middle: inner");
    }
}
