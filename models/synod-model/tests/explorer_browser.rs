//! From `check` to the Explorer in a real browser: `check --bug accept-below-promise` prints the
//! `explore` command and the URL of its counterexample; this test runs that command on a free
//! 127.0.0.1 port, opens the URL in headless Chromium (`--dump-dom` once the page's scripts have
//! run) and asserts the rendered page shows the compact state and agreement violated at that
//! state. Without Chromium the test is skipped loudly — unless `CI` is set, where it fails
//! (`.ci/run` installs Debian's `chromium`).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_synod-model");

/// A child process killed when dropped (so a failing assertion leaves no server behind).
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `command`, killing it after `limit`: its output, or an error saying it hung.
fn run_bounded(mut command: Command, limit: Duration) -> Result<Output, String> {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let mut child = Running(child);
    let started = Instant::now();
    while child.0.try_wait().map_err(|e| e.to_string())?.is_none() {
        if started.elapsed() > limit {
            return Err(format!("{command:?} still running after {limit:?}: killed"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Running(inner) = &mut child;
    let mut out = Output {
        status: inner.wait().map_err(|e| e.to_string())?,
        stdout: Vec::new(),
        stderr: Vec::new(),
    };
    use std::io::Read;
    if let Some(mut s) = inner.stdout.take() {
        let _ = s.read_to_end(&mut out.stdout);
    }
    if let Some(mut s) = inner.stderr.take() {
        let _ = s.read_to_end(&mut out.stderr);
    }
    Ok(out)
}

/// The line of `text` that starts with `prefix`, without it.
fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line {prefix:?} in\n{text}"))
        .trim()
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        Command::new(name)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// `check`'s counterexample: the printed `explore` flags (without the port) and the URL's path.
fn printed_counterexample() -> (Vec<String>, String) {
    let out = Command::new(BIN)
        .args(["check", "--bug", "accept-below-promise", "--traces"])
        .arg(std::env::temp_dir().join("synod-explorer-browser-traces"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "{text}");
    let after = text
        .split("counterexample to 'agreement':")
        .nth(1)
        .expect(&text);
    let command = line_after(after, "explore:");
    let url = line_after(after, "open:");
    let flags: Vec<String> = command
        .strip_prefix("synod-model explore ")
        .and_then(|f| f.strip_suffix("--port 3000"))
        .unwrap_or_else(|| panic!("not an explore command: {command}"))
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let path = url
        .strip_prefix("http://127.0.0.1:3000/")
        .unwrap_or_else(|| panic!("not an Explorer URL: {url}"));
    (flags, path.to_string())
}

/// Starts `explore` with `flags` on a free port, awaiting (by polling) until it accepts.
fn explore(flags: &[String]) -> (Running, u16) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(BIN)
        .arg("explore")
        .args(flags)
        .args(["--port", &port.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Running(child);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            server.0.try_wait().unwrap().is_none(),
            "explore exited before serving"
        );
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "explore not serving after 30 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (server, port)
}

#[test]
fn a_counterexample_printed_by_check_opens_in_a_browser_at_its_violating_state() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but chromium is not installed (.ci/run installs it)"
        );
        eprintln!(
            "\n\n*** SKIPPED: the Explorer's browser test needs chromium \
             (apt-get install -y chromium); CI runs it ***\n\n"
        );
        return;
    };
    let (flags, path) = printed_counterexample();
    assert!(path.starts_with("#/steps/0/"), "{path}");
    let (_server, port) = explore(&flags);
    let url = format!("http://127.0.0.1:{port}/{path}");
    let profile = std::env::temp_dir().join(format!("synod-explorer-chromium-{port}"));
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(&url);
    let out = run_bounded(command, Duration::from_secs(90)).unwrap();
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for shown in [
        // The properties, judged at this state, in the state text and in the list.
        "agreement: VIOLATED — 'a'@[1,1] and 'b'@[1,2] both chosen",
        "<li class=\"violated\">agreement: VIOLATED",
        // The compact state: one line per node, the network, the chosen proposals.
        "n3 promised [1,2] accepted – proposer idle learned –",
        "network (",
        "chosen: 'a'@[1,1], 'b'@[1,2]",
        // The configuration it runs.
        "protocol   accept-below-promise",
        // The sequence diagram.
        "<svg",
    ] {
        assert!(
            dom.contains(shown),
            "{shown:?} not on the page {url}:\n{dom}"
        );
    }
    assert!(
        dom.contains("<div id=\"error\"></div>"),
        "the page shows an error:\n{dom}"
    );
}

#[test]
fn every_example_check_prints_ends_with_the_explore_command_and_its_url() {
    let out = Command::new(BIN)
        .args(["check", "--examples", "--mode", "register"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let listings: Vec<&str> = text.split("\nexample of '").skip(1).collect();
    assert!(listings.len() >= 3, "{text}");
    for listing in listings {
        let command = line_after(listing, "explore:");
        assert_eq!(
            command, "synod-model explore --mode register --port 3000",
            "{listing}"
        );
        let url = line_after(listing, "open:");
        assert!(
            url.starts_with("http://127.0.0.1:3000/#/steps/0/"),
            "{listing}"
        );
    }
}
