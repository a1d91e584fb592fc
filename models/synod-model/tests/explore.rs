//! `synod-model explore` on a port that is taken is an error naming the address (exit 3, the
//! code for errors that `check --help` lists), not a panic of the Explorer's server.

use std::process::Command;

#[test]
fn a_busy_port_is_an_error_not_a_panic() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port();
    let out = Command::new(env!("CARGO_BIN_EXE_synod-model"))
        .args(["explore", "--port", &port.to_string()])
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains(&format!("cannot serve the Explorer on 127.0.0.1:{port}")),
        "{err}"
    );
    assert!(err.contains("Address already in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_help_lists_every_exit_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_synod-model"))
        .args(["--help"])
        .output()
        .expect("the binary runs");
    let help = String::from_utf8_lossy(&out.stdout);
    for code in [
        "0 = all PASS",
        "1 = FAIL",
        "2 = INCOMPLETE",
        "3 = an invalid configuration",
    ] {
        assert!(help.contains(code), "{code:?} missing from:\n{help}");
    }
}
