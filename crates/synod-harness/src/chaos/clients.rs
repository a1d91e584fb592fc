//! The chaos run's clients: each a sequential process issuing the random workload over HTTP to
//! random nodes, recording every operation with times from one shared monotonic clock.
//!
//! The nodes a client may ask are a shared list ([`Nodes`]) that grows when the membership admin
//! adds a node; a node that answers `410 removed` is a member no more, and the client that saw
//! it asks the others from then on.
//!
//! How an HTTP answer becomes a history status: a 2xx (and a 404 on `get`, a 409 on `cas`) is
//! `ok` with its output; a 503 `unavailable` (no quorum, surely not applied), `overloaded`, a
//! 4xx, or a connection that could not even be opened is `fail`; a 503 `timeout`,
//! `indeterminate` or `stopped`, any other error after the request may have left (a reset, a
//! client timeout), or an answer that does not parse is `unknown`. (A `410 removed` is a 4xx: the
//! removed node refused the request before doing anything with it — `fail`.)
//!
//! With `resolve` on, a client whose `cas` or `propose-once` ended `unknown` reads the key (a few
//! times, each read recorded) until [`crate::workload::resolve`] settles the write's fate, and
//! records the write as settled; other unknowns stay `unknown`.

use crate::workload::resolve::{self, Resolution};
use crate::workload::{ClientWorkload, KeyKind, Planned};
use rand::rngs::StdRng;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};
use synod_check::history::{OpKind, Output, Record, RecordStatus};
use synod_server::{CasOutcome, Client, ClientError};
use tokio::sync::watch;

/// Nanoseconds since `origin` (the clock every client shares).
pub fn now_ns(origin: Instant) -> u64 {
    origin.elapsed().as_nanos() as u64
}

fn status_of(error: &ClientError) -> RecordStatus {
    if error.surely_not_applied() {
        RecordStatus::Fail
    } else {
        RecordStatus::Unknown
    }
}

/// Runs one operation against `client`; returns how it ended.
async fn invoke(client: &Client, planned: &Planned) -> (RecordStatus, Result<Output, ClientError>) {
    let key = planned.key.as_str();
    let value = planned.value.clone().unwrap_or_default();
    let result: Result<Output, ClientError> = match planned.op {
        OpKind::Get => client.get(key).await.map(|v| Output::Read {
            value: v.map(|b| String::from_utf8_lossy(&b).into_owned()),
        }),
        OpKind::Put => client
            .put(key, value)
            .await
            .map(|previous| Output::Written { previous }),
        OpKind::Delete => client
            .delete(key)
            .await
            .map(|previous| Output::Written { previous }),
        OpKind::Cas => client
            .cas(key, planned.expected.as_deref(), &value)
            .await
            .map(|outcome| match outcome {
                CasOutcome::Written { previous } => Output::Written { previous },
                CasOutcome::Mismatch { current } => Output::CasMismatch { current },
            }),
        OpKind::ProposeOnce => client
            .propose_once(key, value)
            .await
            .map(|chosen| Output::Chosen {
                value: chosen.value,
                won: chosen.won,
            }),
    };
    let status = match &result {
        Ok(_) => RecordStatus::Ok,
        Err(e) => status_of(e),
    };
    (status, result)
}

/// The nodes one client asks: a random one per request, among the shared list's (founders, and
/// the nodes added since) but those that answered this client `410 removed`.
#[derive(Debug)]
pub struct Nodes {
    list: watch::Receiver<Vec<String>>,
    clients: BTreeMap<String, Client>,
    gone: BTreeSet<String>,
    timeout: Duration,
    /// Answers `410 removed` this client got.
    pub removed_answers: u64,
}

impl Nodes {
    /// Asks the nodes in `list` (as it changes), giving up on a request after `timeout`.
    pub fn new(list: watch::Receiver<Vec<String>>, timeout: Duration) -> Self {
        Nodes {
            list,
            clients: BTreeMap::new(),
            gone: BTreeSet::new(),
            timeout,
            removed_answers: 0,
        }
    }

    /// Asks only the nodes in `endpoints`.
    pub fn fixed(endpoints: Vec<String>, timeout: Duration) -> Self {
        Self::new(watch::channel(endpoints).1, timeout)
    }

    /// Runs `planned` against a random node; returns how it ended and its output.
    pub async fn invoke(
        &mut self,
        rng: &mut StdRng,
        planned: &Planned,
    ) -> anyhow::Result<(RecordStatus, Option<Output>)> {
        let endpoint = {
            let list = self.list.borrow();
            let live: Vec<&String> = list.iter().filter(|e| !self.gone.contains(*e)).collect();
            if live.is_empty() {
                list[rng.gen_range(0..list.len())].clone()
            } else {
                live[rng.gen_range(0..live.len())].clone()
            }
        };
        let client = match self.clients.get(&endpoint) {
            Some(client) => client,
            None => {
                let client = Client::new(&endpoint, self.timeout)?;
                self.clients.entry(endpoint.clone()).or_insert(client)
            }
        };
        let (status, result) = invoke(client, planned).await;
        if let Err(e) = &result {
            if e.status() == Some(410) {
                self.removed_answers += 1;
                self.gone.insert(endpoint);
            }
        }
        Ok((status, result.ok()))
    }
}

/// Reads of the key a client makes to settle one unknown write before it gives up.
const SETTLE_READS: usize = 8;

/// How a client behaves.
#[derive(Clone, Copy, Debug)]
pub struct ClientOptions {
    /// When it gives up on one HTTP request (the operation is then `unknown`).
    pub timeout: Duration,
    /// Whether it settles unknown writes by reading ([`crate::workload::resolve`]).
    pub resolve: bool,
}

/// One client's loop: operations until `until`, against random nodes of `endpoints`; returns
/// its history and how many `410 removed` answers it got.
pub async fn run_client(
    id: u64,
    endpoints: watch::Receiver<Vec<String>>,
    mut workload: ClientWorkload,
    seed: u64,
    origin: Instant,
    until: Instant,
    options: ClientOptions,
) -> anyhow::Result<(Vec<Record>, u64)> {
    use rand::SeedableRng;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nodes = Nodes::new(endpoints, options.timeout);
    let mut history = Vec::new();
    while Instant::now() < until {
        let planned = workload.next(&mut rng);
        let call = now_ns(origin);
        let (status, output) = nodes.invoke(&mut rng, &planned).await?;
        let ret = now_ns(origin);
        if let Some(output) = &output {
            workload.observe(&planned, output);
        }
        let mut record = planned.record(id, call, ret, status, output);
        if status != RecordStatus::Ok {
            // Do not hammer a node that is down or without a quorum.
            tokio::time::sleep(Duration::from_millis(rng.gen_range(5..50))).await;
        }
        if options.resolve
            && status == RecordStatus::Unknown
            && resolve::settleable(planned.op, KeyKind::of(&planned.key))
        {
            settle(
                id,
                &mut record,
                &mut nodes,
                &mut workload,
                &mut rng,
                origin,
                &mut history,
            )
            .await?;
        }
        history.push(record);
    }
    Ok((history, nodes.removed_answers))
}

/// Reads `unknown`'s key until its fate is settled (or [`SETTLE_READS`] reads did not settle
/// it); records the reads in `history` and the settled fate in `unknown`.
async fn settle(
    id: u64,
    unknown: &mut Record,
    nodes: &mut Nodes,
    workload: &mut ClientWorkload,
    rng: &mut StdRng,
    origin: Instant,
    history: &mut Vec<Record>,
) -> anyhow::Result<()> {
    let read = workload.read(unknown.key.clone());
    for _ in 0..SETTLE_READS {
        let call = now_ns(origin);
        let (status, output) = nodes.invoke(rng, &read).await?;
        let ret = now_ns(origin);
        if let Some(output) = &output {
            workload.observe(&read, output);
        }
        let seen = match &output {
            Some(Output::Read { value }) => Some(value.clone()),
            _ => None,
        };
        history.push(read.record(id, call, ret, status, output));
        match seen.map(|value| resolve::resolve(unknown, value.as_deref())) {
            Some(Resolution::Applied(output)) => {
                unknown.status = RecordStatus::Ok;
                unknown.output = Some(output);
                unknown.ret = ret;
                return Ok(());
            }
            Some(Resolution::Absent) => {
                unknown.status = RecordStatus::Fail;
                return Ok(());
            }
            Some(Resolution::Open) | None => {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(20..100))).await;
            }
        }
    }
    Ok(())
}
