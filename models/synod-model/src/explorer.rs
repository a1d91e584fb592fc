//! The Explorer's server (`synod-model explore`): a small HTTP server on `std::net`, serving one
//! page (`explorer.html`) and three JSON/text endpoints over the faithful model. Paths are
//! [`crate::explorer_path`] indices, as in the page's `#/steps/0/…` URLs.
//!
//! * `GET /.status` — the configuration being explored, the protocol, the properties.
//! * `GET /.state/0/i/j…` — the state at the end of that path: the compact view
//!   ([`crate::state_view`]), every property judged there, the path's steps, the next actions,
//!   the sequence diagram.
//! * `GET /.debug/0/i/j…` — the same state as stateright's full `Debug` text.
//!
//! Why not stateright's own Explorer: it shows each state as its `Debug` text (13 kB for the
//! initial state), judges properties by whether a discovery's path passes through the state rather
//! than at the state, and numbers actions in hash-set order, which differs between processes, so
//! no path `check` prints could be opened in it. The page is served from memory; requests are GET
//! only, one thread each, answered with `Connection: close`.

use crate::counterexample::{fmt_action, step_line};
use crate::explorer_path::{self, choices, PathError};
use crate::model::SynodModel;
use crate::state_properties::judge;
use crate::state_view;
use crate::Protocol;
use serde_json::{json, Value as Json};
use stateright::{Expectation, Model};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// The page: loads `/.status` once and `/.state/…` whenever the URL's `#/steps/…` changes.
const PAGE: &str = include_str!("explorer.html");

/// An answer: status code, content type, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Response {
    fn json(status: u16, body: &Json) -> Self {
        Response {
            status,
            content_type: "application/json; charset=utf-8",
            body: body.to_string(),
        }
    }

    fn error(status: u16, message: String) -> Self {
        Response::json(status, &json!({ "error": message }))
    }
}

/// What the Explorer explores.
pub struct Explorer<P: Protocol> {
    model: SynodModel<P>,
    configuration: String,
    protocol: &'static str,
}

impl<P: Protocol> Explorer<P> {
    /// The Explorer of `model`, shown in its faithful form (every node as the core holds it).
    pub fn new(model: &SynodModel<P>, protocol: &'static str) -> Self {
        Explorer {
            configuration: model.cfg.to_string(),
            model: model.faithful(),
            protocol,
        }
    }

    /// The answer to `GET url`.
    pub fn respond(&self, url: &str) -> Response {
        let url = url.split(['?', '#']).next().unwrap_or("");
        if url == "/" || url == "/index.html" {
            return Response {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: PAGE.to_string(),
            };
        }
        if url == "/.status" {
            return Response::json(200, &self.status());
        }
        let (kind, rest) = if let Some(rest) = url.strip_prefix("/.state") {
            ("state", rest)
        } else if let Some(rest) = url.strip_prefix("/.debug") {
            ("debug", rest)
        } else {
            return Response::error(404, format!("no such page: {url}"));
        };
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Response::error(404, format!("no such page: {url}"));
        }
        let path = explorer_path::parse(rest).and_then(|indices| {
            explorer_path::replay(&self.model, &indices).map(|path| (indices, path))
        });
        match (path, kind) {
            (Err(e @ PathError::NotAnIndex(_)), _) => Response::error(400, e.to_string()),
            (Err(e), _) => Response::error(404, e.to_string()),
            (Ok((_, path)), "debug") => Response {
                status: 200,
                content_type: "text/plain; charset=utf-8",
                body: format!("{:#?}", path.last_state()),
            },
            (Ok((indices, path)), _) => Response::json(200, &self.state(&indices, &path)),
        }
    }

    fn status(&self) -> Json {
        let properties: Vec<Json> = self
            .model
            .properties()
            .iter()
            .map(|p| json!({ "name": p.name, "kind": kind(&p.expectation) }))
            .collect();
        json!({
            "configuration": self.configuration,
            "protocol": self.protocol,
            "properties": properties,
        })
    }

    fn state(
        &self,
        indices: &[usize],
        path: &stateright::Path<crate::properties::SystemState<P>, crate::message::Action>,
    ) -> Json {
        let model = &self.model;
        let n = model.cfg.nodes;
        let mut indices = indices.to_vec();
        if indices.is_empty() {
            indices.push(0);
        }
        let steps = path.clone().into_vec();
        let listed: Vec<Json> = steps
            .windows(2)
            .enumerate()
            .filter_map(|(k, pair)| {
                let action = pair[0].1.as_ref()?;
                Some(json!({
                    "path": explorer_path::format(&indices[..k + 2]),
                    "label": step_line(n, action, &pair[1].0).0,
                }))
            })
            .collect();
        let state = path.last_state();
        let next: Vec<Json> = choices(model, state)
            .into_iter()
            .enumerate()
            .map(|(i, action)| {
                let mut to = indices.clone();
                to.push(i);
                json!({
                    "path": explorer_path::format(&to),
                    "action": fmt_action(n, &action),
                    "ignored": model.next_state(state, action).is_none(),
                })
            })
            .collect();
        let properties: Vec<Json> = judge(model, state)
            .iter()
            .map(|j| {
                json!({
                    "name": j.name,
                    "kind": kind(&j.kind),
                    "holds": j.holds,
                    "violated": j.violated(),
                    "text": j.to_string(),
                })
            })
            .collect();
        json!({
            "path": explorer_path::format(&indices),
            "view": state_view::render(model, path),
            "properties": properties,
            "steps": listed,
            "next": next,
            "svg": model.as_svg(path.clone()).unwrap_or_default(),
        })
    }
}

fn kind(expectation: &Expectation) -> &'static str {
    match expectation {
        Expectation::Always => "always",
        Expectation::Sometimes => "sometimes",
        Expectation::Eventually => "eventually",
    }
}

/// Serves `explorer` on `listener` until the process ends.
pub fn serve<P: Protocol>(listener: TcpListener, explorer: Explorer<P>) -> std::io::Result<()> {
    let explorer = Arc::new(explorer);
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let explorer = Arc::clone(&explorer);
        std::thread::spawn(move || {
            let _ = answer(stream, &explorer);
        });
    }
    Ok(())
}

/// Reads one request from `stream` and answers it.
fn answer<P: Protocol>(stream: TcpStream, explorer: &Explorer<P>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: nothing in them matters to a GET of this server.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = request_line.split_whitespace();
    let response = match (parts.next(), parts.next()) {
        (Some("GET"), Some(url)) => explorer.respond(url),
        _ => Response::error(405, "only GET is served".into()),
    };
    let reason = match response.status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    )?;
    stream.write_all(response.body.as_bytes())?;
    stream.flush()
}
