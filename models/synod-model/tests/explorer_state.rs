//! The Explorer's JSON endpoints, over HTTP from an in-process server, without a browser: the
//! compact state text (its size and content, properties judged at the state, the step's changes
//! and dropped envelopes), stepping back along a counterexample, the full `Debug` text, the
//! diagram's labels, and clear errors for bad paths.

use serde_json::Value as Json;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use synod_model::bugs::AcceptBelowPromise;
use synod_model::check::{self, CheckOptions};
use synod_model::explorer::{serve, Explorer};
use synod_model::explorer_path;
use synod_model::{model, ModelConfig, Protocol};

/// Starts an Explorer of `cfg` with `protocol` on a free port; returns the port.
fn start<P: Protocol>(cfg: &ModelConfig, protocol: P) -> u16 {
    let name = protocol.name();
    let model = model::build(cfg, protocol).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || serve(listener, Explorer::new(&model, name)));
    port
}

/// `GET url` → (status code, body).
fn get(port: u16, url: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(stream, "GET {url} HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn json(port: u16, url: &str) -> Json {
    let (status, body) = get(port, url);
    assert_eq!(status, 200, "{url}: {body}");
    serde_json::from_str(&body).unwrap()
}

fn view(port: u16, path: &str) -> String {
    json(port, &format!("/.state/{path}"))["view"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The indices of the counterexample `check --bug accept-below-promise` prints.
fn counterexample() -> Vec<usize> {
    let cfg = ModelConfig::consensus(3, 2, 1);
    let built = model::build(&cfg, AcceptBelowPromise).unwrap();
    let report = check::run(built.clone(), &CheckOptions::default(), |_| {});
    let path = report
        .results
        .into_iter()
        .find(|r| r.name == "agreement")
        .and_then(|r| r.path)
        .expect("agreement fails");
    explorer_path::encode(&built.faithful(), &path).unwrap()
}

#[test]
fn the_initial_state_is_one_line_per_node_and_envelope() {
    let port = start(&ModelConfig::consensus(3, 2, 1), synod_model::Correct);
    let text = view(port, "0");
    println!("{text}");
    assert!(
        text.chars().count() < 600,
        "{} characters",
        text.chars().count()
    );
    for line in [
        "initial state",
        "n1 promised [1,1] accepted – proposer preparing [1,1] learned – timers Round",
        "n3 promised [0,0] accepted – proposer idle learned –",
        "network (4):",
        "  n2 → n3: Prepare [1,2]",
        "chosen: nothing",
        "agreement: holds",
        "value chosen: not reached here",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "{line:?} missing from\n{text}"
        );
    }
    let status = json(port, "/.status");
    let configuration = status["configuration"].as_str().unwrap();
    assert!(configuration.contains("nodes      3"), "{configuration}");
    assert_eq!(status["protocol"], "correct");
}

#[test]
fn a_counterexample_state_judges_agreement_there_and_a_step_back_holds() {
    let port = start(&ModelConfig::consensus(3, 2, 1), AcceptBelowPromise);
    let indices = counterexample();
    let at = explorer_path::format(&indices);
    let state = json(port, &format!("/.state/{at}"));
    let text = state["view"].as_str().unwrap();
    println!("{text}");
    assert!(
        text.chars().count() < 1500,
        "{} characters",
        text.chars().count()
    );
    assert!(
        text.contains("agreement: VIOLATED — 'a'@[1,1] and 'b'@[1,2] both chosen"),
        "{text}"
    );
    assert!(text.contains("chosen: 'a'@[1,1], 'b'@[1,2]"), "{text}");
    assert!(text.contains("   ⇒ n"), "the step's changes: {text}");
    let agreement = &state["properties"][0];
    assert_eq!(agreement["name"], "agreement");
    assert_eq!(agreement["violated"], true);
    // One step back, agreement still holds: the last step's Accept broke it.
    let back = explorer_path::format(&indices[..indices.len() - 1]);
    assert!(view(port, &back).contains("agreement: holds"));
    // The path's steps are listed with links to every prefix, as `check` numbers them.
    let steps = state["steps"].as_array().unwrap();
    assert_eq!(steps.len(), indices.len() - 1);
    assert_eq!(steps.last().unwrap()["path"], at.as_str());
    let svg = state["svg"].as_str().unwrap();
    assert!(svg.contains(">1. Prepare [1,"), "{svg}");
    assert!(svg.contains("Accept [1,2] &#39;b&#39;"), "{svg}");
}

#[test]
fn a_four_step_state_shows_its_changes_and_what_the_reduction_dropped() {
    let port = start(&ModelConfig::consensus(3, 2, 1), AcceptBelowPromise);
    let indices = counterexample();
    let four = explorer_path::format(&indices[..5]);
    let text = view(port, &four);
    println!("{text}");
    assert!(
        text.chars().count() < 1500,
        "{} characters",
        text.chars().count()
    );
    assert!(text.starts_with("step 4: n3 → "), "{text}");
    assert!(text.contains("   ⇒ n"), "{text}");
    assert!(
        text.contains("   dropped (can no longer matter): "),
        "{text}"
    );
}

#[test]
fn the_full_debug_text_stays_available() {
    let port = start(&ModelConfig::consensus(3, 2, 1), synod_model::Correct);
    let (status, debug) = get(port, "/.debug/0");
    assert_eq!(status, 200);
    assert!(
        debug.contains("actor_states") && debug.contains("storages"),
        "{debug}"
    );
    assert!(debug.len() > 5 * view(port, "0").len());
}

#[test]
fn bad_paths_are_clear_errors() {
    let port = start(&ModelConfig::consensus(3, 2, 1), synod_model::Correct);
    let (status, body) = get(port, "/.state/0/x");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("'x' is not an action index"), "{body}");
    let (status, body) = get(port, "/.state/0/99");
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("step 1: there is no action 99 at this state"),
        "{body}"
    );
    let (status, body) = get(port, "/.state/1");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no initial state 1"), "{body}");
    let (status, body) = get(port, "/.nothing");
    assert_eq!(status, 404, "{body}");
}
