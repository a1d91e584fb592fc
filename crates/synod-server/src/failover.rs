//! One request tried at several nodes in turn (the `synod` client commands' `--endpoints`).
//!
//! [`Failover::run`] sends the request to the first endpoint and moves on to the next only when
//! [`ClientError::may_try_elsewhere`] allows it for the kind of operation: a write only when it
//! surely did not take effect (the connection could not be made, or the node answered
//! `unavailable` / `overloaded`), a read also after a timeout, a lost connection or any 503.
//! Every other error ends the attempt there, so a write is never sent twice.

use crate::client::{Client, ClientError, OpKind};
use crate::client_options::ClientOptions;
use std::future::Future;
use std::time::Duration;

/// Clients of several endpoints of one cluster, tried in the order given.
#[derive(Clone, Debug)]
pub struct Failover {
    clients: Vec<Client>,
}

/// Why a request failed at every endpoint it was sent to: each endpoint tried and its error,
/// in order (the last one ended the attempt).
#[derive(Debug)]
pub struct FailoverError {
    /// The endpoints tried, each with its error.
    pub attempts: Vec<(String, ClientError)>,
}

impl FailoverError {
    /// The error that ended the attempt.
    pub fn last(&self) -> &ClientError {
        &self.attempts.last().expect("at least one attempt").1
    }

    /// Whether no endpoint was reached at all, so the operation surely did not take effect.
    pub fn unreachable(&self) -> bool {
        self.attempts.iter().all(|(_, e)| e.not_sent())
            && !matches!(self.last(), ClientError::Key(_) | ClientError::Endpoint(_))
    }
}

/// One attempt for people: the error, after its endpoint unless it names it (a transport error
/// names the URL) or concerns no endpoint (an empty key).
fn attempt(endpoint: &str, error: &ClientError) -> String {
    match error {
        ClientError::Key(_) | ClientError::Transport(_) | ClientError::Endpoint(_) => {
            error.to_string()
        }
        _ => format!("{endpoint}: {error}"),
    }
}

impl std::fmt::Display for FailoverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let all = self
            .attempts
            .iter()
            .map(|(endpoint, error)| attempt(endpoint, error));
        if self.unreachable() && self.attempts.len() > 1 {
            return write!(
                f,
                "no endpoint could be reached: {}",
                all.collect::<Vec<_>>().join("; ")
            );
        }
        let mut all: Vec<String> = all.collect();
        let last = all.pop().expect("at least one attempt");
        write!(f, "{last}")?;
        if !all.is_empty() {
            write!(f, " (tried first: {})", all.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FailoverError {}

impl Failover {
    /// Clients of `endpoints` (at least one), each request giving up after `timeout`.
    pub fn new(endpoints: &[impl AsRef<str>], timeout: Duration) -> Result<Self, ClientError> {
        Self::with_options(endpoints, timeout, &ClientOptions::default())
    }

    /// The same with TLS and token `options`.
    pub fn with_options(
        endpoints: &[impl AsRef<str>],
        timeout: Duration,
        options: &ClientOptions,
    ) -> Result<Self, ClientError> {
        if endpoints.is_empty() {
            return Err(ClientError::Endpoint("no endpoint given".into()));
        }
        let clients = endpoints
            .iter()
            .map(|e| Client::with_options(e.as_ref(), timeout, options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Failover { clients })
    }

    /// Runs `op` at the first endpoint, then at the next ones while the error allows it (see
    /// the module docs).
    pub async fn run<'a, T, F, Fut>(&'a self, kind: OpKind, mut op: F) -> Result<T, FailoverError>
    where
        F: FnMut(&'a Client) -> Fut,
        Fut: Future<Output = Result<T, ClientError>> + 'a,
    {
        let mut attempts = Vec::new();
        for client in &self.clients {
            match op(client).await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let next = error.may_try_elsewhere(kind);
                    attempts.push((client.endpoint().to_string(), error));
                    if !next {
                        break;
                    }
                }
            }
        }
        Err(FailoverError { attempts })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A port on 127.0.0.1 that refuses connections (bound, then closed).
    async fn refused() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        format!("http://{addr}")
    }

    /// A server on 127.0.0.1 that counts its connections and, on each, reads a request and
    /// writes `response`, or (`None`) keeps reading and never answers.
    async fn counting_server(response: Option<String>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let seen = count.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                seen.fetch_add(1, Ordering::SeqCst);
                let response = response.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let Some(response) = response else {
                        while socket.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                        return;
                    };
                    let _ = socket.read(&mut buf).await;
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        (format!("http://{addr}"), count)
    }

    /// A server that accepts and reads requests but never answers; counts its connections.
    async fn silent() -> (String, Arc<AtomicUsize>) {
        counting_server(None).await
    }

    /// A server answering every request with `status` and the JSON `body`; counts its
    /// connections.
    async fn answering(status: &'static str, body: &'static str) -> (String, Arc<AtomicUsize>) {
        counting_server(Some(format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )))
        .await
    }

    const OK: &str = "200 OK";
    const PUT_OK: &str = r#"{"previous":null}"#;
    const BUSY: &str = "503 Service Unavailable";
    const UNAVAILABLE: &str = r#"{"error":"unavailable","detail":"no quorum"}"#;
    const INDETERMINATE: &str = r#"{"error":"indeterminate","detail":"maybe"}"#;

    #[tokio::test]
    async fn a_refused_connection_moves_on_for_reads_and_writes() {
        let dead = refused().await;
        let (alive, hits) = answering(OK, PUT_OK).await;
        let failover = Failover::new(&[&dead, &alive], Duration::from_secs(5)).unwrap();
        let previous = failover
            .run(OpKind::Write, |c| c.put("k", "v"))
            .await
            .unwrap();
        assert_eq!(previous, None);
        assert_eq!(hits.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_write_sent_but_unanswered_is_not_sent_again() {
        let (mute, mute_hits) = silent().await;
        let (alive, hits) = answering(OK, PUT_OK).await;
        let failover = Failover::new(&[&mute, &alive], Duration::from_millis(300)).unwrap();
        let err = failover
            .run(OpKind::Write, |c| c.put("k", "v"))
            .await
            .unwrap_err();
        assert_eq!(mute_hits.load(Ordering::SeqCst), 1);
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the write was sent twice");
        assert!(!err.last().may_try_elsewhere(OpKind::Write));
        assert!(!err.last().surely_not_applied());
        assert!(!err.unreachable());
        assert!(
            err.to_string().contains("no answer within the timeout"),
            "{err}"
        );
        // A read may go on after the same failure: it changes nothing.
        assert!(err.last().may_try_elsewhere(OpKind::Read));
    }

    #[tokio::test]
    async fn the_servers_own_answer_decides_for_writes() {
        // `unavailable`: surely not applied, so another node may try.
        let (first, _) = answering(BUSY, UNAVAILABLE).await;
        let (alive, hits) = answering(OK, PUT_OK).await;
        let failover = Failover::new(&[&first, &alive], Duration::from_secs(5)).unwrap();
        failover
            .run(OpKind::Write, |c| c.put("k", "v"))
            .await
            .unwrap();
        assert_eq!(hits.load(Ordering::SeqCst), 1);
        // `indeterminate`: it may have been applied; never sent again.
        let (first, _) = answering(BUSY, INDETERMINATE).await;
        let (alive, hits) = answering(OK, PUT_OK).await;
        let failover = Failover::new(&[&first, &alive], Duration::from_secs(5)).unwrap();
        let err = failover
            .run(OpKind::Write, |c| c.put("k", "v"))
            .await
            .unwrap_err();
        assert_eq!(err.last().code(), Some("indeterminate"));
        assert_eq!(hits.load(Ordering::SeqCst), 0, "the write was sent twice");
    }

    #[tokio::test]
    async fn every_endpoint_refused_is_unreachable_and_says_so_once() {
        let (a, b) = (refused().await, refused().await);
        let failover = Failover::new(&[&a, &b], Duration::from_secs(5)).unwrap();
        let err = failover
            .run(OpKind::Write, |c| c.put("k", "v"))
            .await
            .unwrap_err();
        assert!(err.unreachable());
        assert_eq!(err.attempts.len(), 2);
        let text = err.to_string();
        assert!(text.starts_with("no endpoint could be reached"), "{text}");
        assert_eq!(text.matches("cannot connect").count(), 2, "{text}");
        // The error has no source: a chain printed with `{:#}` would repeat the cause.
        assert!(std::error::Error::source(err.last()).is_none());
    }

    #[test]
    fn bad_input_is_never_tried_elsewhere() {
        let key = ClientError::Key(crate::client::EMPTY_KEY.into());
        let bad = ClientError::Server {
            status: 400,
            code: "bad_request".into(),
            detail: String::new(),
            retry_after: None,
        };
        let stopped = ClientError::Server {
            status: 503,
            code: "stopped".into(),
            detail: String::new(),
            retry_after: None,
        };
        for kind in [OpKind::Read, OpKind::Write] {
            assert!(!key.may_try_elsewhere(kind));
            assert!(!bad.may_try_elsewhere(kind));
            assert!(!ClientError::Decode("x".into()).may_try_elsewhere(kind));
        }
        assert!(stopped.may_try_elsewhere(OpKind::Read));
        assert!(!stopped.may_try_elsewhere(OpKind::Write));
    }
}
