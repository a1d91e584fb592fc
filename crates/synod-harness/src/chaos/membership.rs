//! The chaos run's membership admin (`synod-harness chaos --membership`): while the clients and
//! the nemesis run, it changes the members the way docs/operations.md tells an operator to —
//! grows the founding cluster by two nodes (each started empty with `serve --join`, then added),
//! replaces the disk of one founding node (SIGKILL, its data directory deleted, removed, started
//! empty with `--join` and added again under its id), and shrinks back by removing the two
//! added nodes — six `POST /v1/members`, each asked again through the faults until a deadline.
//!
//! * The changes are spread over the workload: change `i` of six starts no earlier than `i/7` of
//!   it (later when the one before took longer).
//! * A change answered 503 (`stalled`, `stopped`, no quorum), 409 (`busy`: an earlier attempt
//!   still runs somewhere) or not at all (the node was killed or paused, the connection broke)
//!   is asked again, through another node when one can be chosen; asking again resumes it where
//!   it stopped. A 400 is a change already done (an earlier attempt whose answer was lost) when
//!   the membership record says so; otherwise it is asked again too, so a change that cannot be
//!   done ends at the deadline, named in the report.
//! * Which node runs a change: until the replacement, the node whose disk will be replaced. The
//!   first change writes the membership record from *its* address book, where every other node
//!   is at its proxy but itself at its own listening address, and every change installs the
//!   record's addresses on every member: the links into that node then go around its proxy until
//!   it is removed and added back at its proxy. From the replacement on, any founding member.
//! * New nodes are added at their proxy's address and join through a running member
//!   ([`ChaosCluster::start_joining`]); so does every restart while the admin runs.
//! * The clients hear of an added node once its change is done; a removed node keeps running,
//!   out of the nemesis' reach, and answers `410 removed` until the end of the workload.
//! * After each change the admin asks every member for its address book (`GET
//!   /v1/members?local=true`) and counts the links that do not go through a proxy (the first
//!   change's node above is the one source the admin knows of).

use super::nodes::ChaosCluster;
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};
use synod_server::Client;
use tokio::sync::{watch, Mutex};

/// How many nodes the plan adds to the founders.
pub const ADDED: u8 = 2;
/// How long one `POST /v1/members` may take (a step waits up to 30 s for its installs).
const CHANGE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the admin asks for the final membership record.
const RECORD_READS: Duration = Duration::from_secs(30);

/// One membership change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Add the node (started empty with `--join`).
    Add(u8),
    /// Remove the node.
    Remove(u8),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Add(id) => write!(f, "add node {id}"),
            Change::Remove(id) => write!(f, "remove node {id}"),
        }
    }
}

/// What the admin does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The founding members' count (nodes `1..=founders`).
    pub founders: u8,
    /// The founding node whose disk is replaced.
    pub replaced: u8,
    /// The changes, in order.
    pub changes: Vec<Change>,
}

impl Plan {
    /// Grow `founders` (at least 2) nodes by [`ADDED`], replace a random founder's disk,
    /// shrink back.
    pub fn new(founders: u8, rng: &mut StdRng) -> Plan {
        let replaced = rng.gen_range(1..=founders);
        let added: Vec<u8> = (founders + 1..=founders + ADDED).collect();
        let changes = added
            .iter()
            .map(|&id| Change::Add(id))
            .chain([Change::Remove(replaced), Change::Add(replaced)])
            .chain(added.iter().map(|&id| Change::Remove(id)))
            .collect();
        Plan {
            founders,
            replaced,
            changes,
        }
    }

    /// The members once the first `done` changes are done.
    pub fn members_after(&self, done: usize) -> BTreeSet<u8> {
        let mut members: BTreeSet<u8> = (1..=self.founders).collect();
        for change in &self.changes[..done] {
            match *change {
                Change::Add(id) => members.insert(id),
                Change::Remove(id) => members.remove(&id),
            };
        }
        members
    }

    /// Whether change `i` runs before the replaced node is removed.
    fn before_replacement(&self, i: usize) -> bool {
        self.changes[..=i]
            .iter()
            .all(|c| *c != Change::Remove(self.replaced))
    }
}

/// One change done.
#[derive(Clone, Debug)]
pub struct Step {
    /// The change.
    pub change: Change,
    /// The node that answered it.
    pub via: u8,
    /// Requests it took (1 when the first was answered 200).
    pub attempts: u32,
    /// Why each request before the last one was not the end of it (shortened).
    pub retried: Vec<String>,
    /// When it started, since the workload's start.
    pub started: Duration,
    /// How long it took, from the first request (or the kill, for the replaced node's
    /// removal) to the answer.
    pub took: Duration,
    /// Links between members not through a proxy after it (`None` without proxies).
    pub direct_links: Option<usize>,
}

/// What the admin did.
#[derive(Clone, Debug)]
pub struct MembershipReport {
    /// The plan.
    pub plan: Plan,
    /// The changes done, in order.
    pub done: Vec<Step>,
    /// Why the plan stopped short, if it did.
    pub error: Option<String>,
    /// The members in the membership record read after the run, and its generation.
    pub record: Option<(Vec<u8>, u64)>,
    /// Answers `410 removed` the clients got.
    pub removed_answers: u64,
}

impl MembershipReport {
    /// Whether every change was done and the record after the run names the planned members.
    pub fn complete(&self) -> bool {
        let members: Vec<u8> = self
            .plan
            .members_after(self.plan.changes.len())
            .into_iter()
            .collect();
        self.done.len() == self.plan.changes.len()
            && self.record.as_ref().is_some_and(|(m, _)| *m == members)
    }

    /// Requests asked again.
    pub fn retries(&self) -> u32 {
        self.done.iter().map(|s| s.attempts - 1).sum()
    }
}

/// The first line of `text`, at most 160 characters.
fn shortened(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.char_indices().nth(160) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line.to_owned(),
    }
}

/// `{1, 2, 3}`.
fn set(ids: &[u8]) -> String {
    let ids: Vec<String> = ids.iter().map(u8::to_string).collect();
    format!("{{{}}}", ids.join(", "))
}

impl fmt::Display for MembershipReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = &self.plan;
        let mut phases = Vec::new();
        if self.done.len() >= 2 {
            phases.push(format!("grew to {}", plan.founders + ADDED));
        }
        if self.done.len() >= 4 {
            phases.push(format!("replaced node {}'s disk", plan.replaced));
        }
        if self.done.len() >= plan.changes.len() {
            phases.push(format!("shrank to {}", plan.founders));
        }
        let verdict = if self.complete() { "" } else { "INCOMPLETE: " };
        write!(
            f,
            "membership: {verdict}{}; {} of {} changes, {} retries; ",
            if phases.is_empty() {
                "nothing changed".to_owned()
            } else {
                phases.join(", ")
            },
            self.done.len(),
            plan.changes.len(),
            self.retries()
        )?;
        match &self.record {
            Some((members, generation)) => write!(
                f,
                "final members {} in generation {generation}",
                set(members)
            )?,
            None => write!(f, "no membership record read after the run")?,
        }
        write!(
            f,
            "; clients got {} answers 410 removed",
            self.removed_answers
        )?;
        if self.done.iter().any(|s| s.direct_links.is_some()) {
            let counts: Vec<String> = self
                .done
                .iter()
                .map(|s| s.direct_links.map_or("?".into(), |n| n.to_string()))
                .collect();
            write!(
                f,
                "; links not through a proxy after each change: {}",
                counts.join(", ")
            )?;
        }
        for (i, step) in self.done.iter().enumerate() {
            write!(
                f,
                "\n  change {}: {} through node {}: at {:.1} s, took {:.1} s, {} attempt(s)",
                i + 1,
                step.change,
                step.via,
                step.started.as_secs_f64(),
                step.took.as_secs_f64(),
                step.attempts
            )?;
            for why in &step.retried {
                write!(f, "\n    asked again after {why}")?;
            }
        }
        if let Some(error) = &self.error {
            write!(f, "\n  stopped: {error}")?;
        }
        Ok(())
    }
}

/// Runs `plan` against `cluster` (told to the clients through `clients`), change `i` starting
/// no earlier than `(i + 1) / (changes + 1)` of `workload` after `origin`; gives up at
/// `deadline`. The record is read later ([`final_record`]).
pub async fn run(
    cluster: &Mutex<ChaosCluster>,
    clients: &watch::Sender<Vec<String>>,
    plan: Plan,
    origin: Instant,
    workload: Duration,
    deadline: Instant,
    rng: &mut StdRng,
) -> MembershipReport {
    let mut report = MembershipReport {
        plan: plan.clone(),
        done: Vec::new(),
        error: None,
        record: None,
        removed_answers: 0,
    };
    let slices = plan.changes.len() as f64 + 1.0;
    for (i, change) in plan.changes.iter().enumerate() {
        let at = origin + workload.mul_f64((i as f64 + 1.0) / slices);
        tokio::time::sleep_until(at.into()).await;
        match step(cluster, clients, &plan, i, origin, deadline, rng).await {
            Ok(step) => report.done.push(step),
            Err(e) => {
                report.error = Some(format!("{change}: {e:#}"));
                break;
            }
        }
    }
    report
}

/// Change `i` of `plan`, asked until it is done or `deadline`.
async fn step(
    cluster: &Mutex<ChaosCluster>,
    clients: &watch::Sender<Vec<String>>,
    plan: &Plan,
    i: usize,
    origin: Instant,
    deadline: Instant,
    rng: &mut StdRng,
) -> anyhow::Result<Step> {
    let change = plan.changes[i];
    let started = Instant::now();
    let body = {
        let mut cluster = cluster.lock().await;
        match change {
            Change::Add(id) => {
                cluster.start_joining(id)?;
                json!({"add": {"id": id, "addr": cluster.slot(id).reached_at.to_string()}})
            }
            Change::Remove(id) => {
                if id == plan.replaced {
                    // Its disk dies: out of the nemesis' reach, killed, its data deleted.
                    cluster.held.insert(id);
                    cluster.kill(id).await?;
                    cluster.wipe(id)?;
                }
                json!({"remove": id})
            }
        }
    };
    let expected = plan.members_after(i + 1);
    let mut attempts = 0;
    let mut retried = Vec::new();
    let via = loop {
        attempts += 1;
        let via = if plan.before_replacement(i) {
            plan.replaced
        } else {
            let others: Vec<u8> = (1..=plan.founders)
                .filter(|&id| id != plan.replaced)
                .collect();
            others[rng.gen_range(0..others.len())]
        };
        let endpoint = {
            let mut cluster = cluster.lock().await;
            if let Change::Add(id) = change {
                if let Some(status) = cluster.exited(id)? {
                    anyhow::bail!(
                        "node {id} exited while joining: {status}; the end of its log:\n{}",
                        cluster.log_tail(id, 20)
                    );
                }
            }
            cluster.slot(via).http.clone()
        };
        let why = match tokio::time::timeout_at(deadline.into(), ask(&endpoint, &body, &expected))
            .await
        {
            Ok(Ok(())) => break via,
            Ok(Err(why)) => why,
            Err(_) => "no answer".to_owned(),
        };
        if Instant::now() >= deadline {
            anyhow::bail!("not done by the deadline after {attempts} request(s); the last, through node {via}: {why}");
        }
        retried.push(format!("node {via}: {}", shortened(&why)));
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..500))).await;
    };
    let took = started.elapsed();
    {
        let mut cluster = cluster.lock().await;
        match change {
            Change::Add(id) => {
                cluster.await_healthy(id).await?;
                cluster.members.insert(id);
                cluster.held.remove(&id);
                let http = cluster.slot(id).http.clone();
                clients.send_if_modified(|list| {
                    let new = !list.contains(&http);
                    if new {
                        list.push(http);
                    }
                    new
                });
            }
            Change::Remove(id) => {
                cluster.members.remove(&id);
                cluster.held.insert(id);
            }
        }
    }
    Ok(Step {
        change,
        via,
        attempts,
        retried,
        started: started - origin,
        took,
        direct_links: direct_links(cluster).await,
    })
}

/// Asks the node at `endpoint` for the change `body`: `Ok` when it is done (200, or a 400
/// while the record already has the `expected` members and no change in progress), else why
/// not.
async fn ask(endpoint: &str, body: &Value, expected: &BTreeSet<u8>) -> Result<(), String> {
    let client = Client::new(endpoint, CHANGE_TIMEOUT).map_err(|e| e.to_string())?;
    match client.post_raw("/v1/members", body).await {
        Ok((200, _)) => Ok(()),
        Ok((400, text)) => match record(&client).await {
            Some((members, _, false)) if members.iter().copied().eq(expected.iter().copied()) => {
                Ok(())
            }
            _ => Err(format!("400: {text}")),
        },
        Ok((code, text)) => Err(format!("{code}: {text}")),
        Err(e) => Err(e.to_string()),
    }
}

/// The membership record as `client`'s node reads it: its members, its generation, and whether
/// a change is in progress (`None` when it cannot be read).
async fn record(client: &Client) -> Option<(Vec<u8>, u64, bool)> {
    let (200, text) = client.get_raw("/v1/members").await.ok()? else {
        return None;
    };
    let answer: Value = serde_json::from_str(&text).ok()?;
    let record = &answer["record"];
    let members = record["members"]
        .as_array()?
        .iter()
        .map(|m| m["id"].as_u64().and_then(|id| u8::try_from(id).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let generation = record["configuration"]["generation"].as_u64()?;
    Some((members, generation, !record["change"].is_null()))
}

/// The membership record's members and generation, read through any of `endpoints` (asked in
/// turn for up to 30 s).
pub async fn final_record(endpoints: &[String]) -> Option<(Vec<u8>, u64)> {
    let deadline = Instant::now() + RECORD_READS;
    while Instant::now() < deadline {
        for endpoint in endpoints {
            let Ok(client) = Client::new(endpoint, Duration::from_secs(5)) else {
                continue;
            };
            if let Some((members, generation, _)) = record(&client).await {
                return Some((members, generation));
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    None
}

/// How many links between running members do not go through a proxy: entries of a member's
/// address book (`GET /v1/members?local=true`) naming another member at other than its proxy.
/// `None` without proxies; members that do not answer are not counted.
async fn direct_links(cluster: &Mutex<ChaosCluster>) -> Option<usize> {
    let (members, endpoints) = {
        let cluster = cluster.lock().await;
        if cluster.proxies.is_empty() {
            return None;
        }
        let members: Vec<(u8, String)> = cluster
            .members
            .iter()
            .map(|&id| (id, cluster.slot(id).reached_at.to_string()))
            .collect();
        let endpoints = cluster.endpoints(cluster.targets());
        (members, endpoints)
    };
    let mut direct = 0;
    for endpoint in endpoints {
        let Ok(client) = Client::new(&endpoint, Duration::from_secs(2)) else {
            continue;
        };
        let Ok((200, text)) = client.get_raw("/v1/members?local=true").await else {
            continue;
        };
        let Ok(answer) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        let me = answer["node"].as_u64();
        direct += members
            .iter()
            .filter(|(id, proxy)| {
                Some(u64::from(*id)) != me
                    && answer["addresses"][id.to_string()]
                        .as_str()
                        .is_some_and(|addr| addr != proxy)
            })
            .count();
    }
    Some(direct)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn the_plan_grows_by_two_replaces_a_founder_and_shrinks_back() {
        let plan = Plan::new(3, &mut StdRng::seed_from_u64(7));
        let r = plan.replaced;
        assert!((1..=3).contains(&r));
        assert_eq!(
            plan.changes,
            [
                Change::Add(4),
                Change::Add(5),
                Change::Remove(r),
                Change::Add(r),
                Change::Remove(4),
                Change::Remove(5)
            ]
        );
        let set = |ids: &[u8]| ids.iter().copied().collect::<BTreeSet<u8>>();
        assert_eq!(plan.members_after(0), set(&[1, 2, 3]));
        assert_eq!(plan.members_after(2), set(&[1, 2, 3, 4, 5]));
        let without_r: Vec<u8> = (1..=5).filter(|&id| id != r).collect();
        assert_eq!(plan.members_after(3), set(&without_r));
        assert_eq!(plan.members_after(6), set(&[1, 2, 3]));
        // The changes before the replaced node's removal run on it; the rest elsewhere.
        assert!(plan.before_replacement(1));
        assert!(!plan.before_replacement(2));
        let replaced: BTreeSet<u8> = (0..20)
            .map(|seed| Plan::new(3, &mut StdRng::seed_from_u64(seed)).replaced)
            .collect();
        assert_eq!(replaced, set(&[1, 2, 3]), "any founder may be replaced");
    }
}
