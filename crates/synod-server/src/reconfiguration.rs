//! Running a membership change on a live cluster (docs/operations.md): the node an operator
//! asks (`POST /v1/members`, `synod member add|remove`) walks the plan of
//! [`synod_core::plan_since`] one step at a time.
//!
//! For each step it
//!
//! 1. **catches up** every register first when the step needs it: lists the keys the members of
//!    the current generation hold acceptor state for (from at least a phase-1 quorum of them,
//!    each already in that generation, so no value chosen in an older configuration is
//!    missed), and runs a catch-up of each key at the key's home (queued behind its client
//!    requests; through its own node if the home runs another generation) — a read in a full round
//!    (`Input::CatchUp`: never the one-round-trip read or a reserved ballot), which accepts the
//!    current value again at a new ballot of the current generation through its quorums before
//!    it answers — recording its progress in the membership record as it goes, so a change
//!    resumes where it stopped;
//! 2. **writes the step** into the membership register ([`MembersRecord`], reserved key
//!    [`MEMBERS_KEY`]) by compare-and-set: two changes racing cannot both install a
//!    generation `g + 1`;
//! 3. **installs it**: on itself, and by an [`Install`] item to every member of the old and new
//!    configuration, until a phase-1 and a phase-2 quorum of the new one (and every node it
//!    adds) answered [`Installed`]. Nodes that miss it adopt it from the `Stale` answer their
//!    next request gets.
//!
//! Each member of the change is added or removed in two steps (the accept set grows before the
//! prepare set; the prepare set shrinks before the accept set), and a change that stopped
//! half-way is resumed by asking for the same members again, or rolled back by asking for the
//! members before it: from a configuration whose two sets differ, the next step is the stable
//! configuration of one of them. What is written where, and why each step is safe, is in
//! docs/protocol.md, "Membership change".
//!
//! The node is also every peer's partner in a change: it answers [`Install`] and [`ListKeys`]
//! items, and routes [`Installed`] and [`Keys`] answers to the change that waits for them.

use crate::members_record::{CatchUpProgress, Change, MembersRecord, MEMBERS_KEY};
use crate::runtime::RuntimeHandle;
use crate::transport::Outbox;
use crate::wire::{Install, Installed, Item, Keys, ListKeys, MAX_KEYS_PER_PAGE};
use bytes::Bytes;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use synod_core::{
    check_plan_since, plan_since, Configuration, MembershipError, NodeId, NodeSet, Operation,
    Outcome, RequestId, Step,
};
use thiserror::Error;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// How long a step waits for the nodes to install it before the change reports a stall.
pub const DEFAULT_INSTALL_TIMEOUT: Duration = Duration::from_secs(30);

/// Keys read at once by a catch-up (and between two progress records).
const CATCH_UP_CHUNK: usize = 256;

/// Requests per key (each of the node's own rounds) before a change reports a stall; between
/// two, a wait that doubles from [`FIRST_RETRY`] (a hot key's writers and a catch-up of it
/// pre-empt each other until one backs off long enough).
const CATCH_UP_ATTEMPTS: u32 = 10;

/// The wait before the second request on a key; it doubles up to one second.
const FIRST_RETRY: Duration = Duration::from_millis(20);

/// What an operator asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Add a member at its peer address.
    Add {
        /// The new member.
        id: NodeId,
        /// Its peer address.
        addr: SocketAddr,
    },
    /// Remove a member.
    Remove {
        /// The member.
        id: NodeId,
    },
}

/// Why a change did not finish.
#[derive(Debug, Error)]
pub enum ChangeError {
    /// The request contradicts the membership (adding a member, removing a stranger, removing
    /// the last member).
    #[error("{0}")]
    Invalid(String),
    /// The plan was refused (see [`MembershipError`]).
    #[error(transparent)]
    Plan(#[from] MembershipError),
    /// Another change is running, here or elsewhere (the membership record moved under it).
    #[error("another membership change is in progress: {0}")]
    Busy(String),
    /// A step could not finish: no quorum installed it, a catch-up read failed. The record says
    /// how far it got; asking again resumes it.
    #[error("the change stalled: {0}; ask for the same members again to resume it, or for the members before the change to roll it back")]
    Stalled(String),
    /// The node's replica stopped.
    #[error("the node is stopping: {0}")]
    Stopped(String),
}

/// What `GET /v1/members` shows about a change on this node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Progress {
    /// A change runs here now.
    pub running: bool,
    /// What it is doing (or what the last one ended with).
    pub status: String,
    /// Keys caught up so far, and in all, in the current catch-up.
    pub caught_up: u64,
    /// Keys to catch up in all.
    pub total: u64,
}

/// Runs membership changes on this node and answers the peers' change items.
#[derive(Clone, Debug)]
pub struct Reconfigurer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    node: NodeId,
    runtime: RuntimeHandle,
    outbox: Outbox,
    install_timeout: Duration,
    /// The latest generation each peer said it runs.
    installed: watch::Sender<BTreeMap<NodeId, u64>>,
    /// Key listings waited for, by id.
    listings: Mutex<HashMap<RequestId, (NodeId, oneshot::Sender<Keys>)>>,
    /// One change at a time on this node.
    running: tokio::sync::Mutex<()>,
    progress: Mutex<Progress>,
}

impl Reconfigurer {
    /// The change runner of node `node`.
    pub fn new(
        node: NodeId,
        runtime: RuntimeHandle,
        outbox: Outbox,
        install_timeout: Duration,
    ) -> Self {
        Reconfigurer {
            inner: Arc::new(Inner {
                node,
                runtime,
                outbox,
                install_timeout,
                installed: watch::channel(BTreeMap::new()).0,
                listings: Mutex::new(HashMap::new()),
                running: tokio::sync::Mutex::new(()),
                progress: Mutex::new(Progress::default()),
            }),
        }
    }

    /// What the change on this node is doing, or what the last one ended with.
    pub fn progress(&self) -> Progress {
        self.inner.progress.lock().expect("never poisoned").clone()
    }

    fn report(&self, status: impl Into<String>) {
        let status = status.into();
        tracing::info!("membership change: {status}");
        self.inner.progress.lock().expect("never poisoned").status = status;
    }

    fn count(&self, caught_up: u64, total: u64) {
        let mut progress = self.inner.progress.lock().expect("never poisoned");
        progress.caught_up = caught_up;
        progress.total = total;
    }

    /// Handles a change item from a peer.
    pub async fn on_item(&self, item: Item) {
        match item {
            Item::Install(install) => self.on_install(install).await,
            Item::Installed(Installed { from, generation }) => {
                self.inner.installed.send_modify(|seen| {
                    let g = seen.entry(from).or_default();
                    *g = (*g).max(generation);
                });
            }
            Item::ListKeys(list) => self.on_list_keys(list).await,
            Item::Keys(keys) => {
                let waiting = self
                    .inner
                    .listings
                    .lock()
                    .expect("never poisoned")
                    .remove(&keys.id);
                match waiting {
                    Some((asked, tx)) if asked == keys.from => {
                        let _ = tx.send(keys);
                    }
                    Some((asked, tx)) => {
                        // Not from the node asked: put the waiter back.
                        self.inner
                            .listings
                            .lock()
                            .expect("never poisoned")
                            .insert(keys.id, (asked, tx));
                    }
                    None => {}
                }
            }
            Item::Protocol(_) | Item::Forward(_) | Item::Answer(_) => {}
        }
    }

    async fn on_install(&self, install: Install) {
        let Install {
            from,
            configuration,
            addresses,
        } = install;
        let configuration = match configuration.checked() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(peer = %from, "refused an Install with an invalid configuration: {e}");
                return;
            }
        };
        for (id, addr) in addresses {
            match addr.parse::<SocketAddr>() {
                Ok(addr) => self.inner.outbox.add_peer(id, addr),
                Err(e) => {
                    tracing::warn!(peer = %from, "ignored member {id}'s address {addr:?}: {e}")
                }
            }
        }
        let runtime = &self.inner.runtime;
        if configuration.generation() > runtime.configuration().generation() {
            let installed =
                tokio::time::timeout(self.inner.install_timeout, runtime.install(configuration))
                    .await;
            if !matches!(installed, Ok(Ok(()))) {
                tracing::warn!(peer = %from, generation = configuration.generation(), "could not install a configuration");
                return;
            }
        }
        let reply = Item::Installed(Installed {
            from: self.inner.node,
            generation: runtime.configuration().generation(),
        });
        self.inner.outbox.send_item(from, reply);
    }

    async fn on_list_keys(&self, list: ListKeys) {
        let limit = list.limit.min(MAX_KEYS_PER_PAGE) as usize;
        let runtime = &self.inner.runtime;
        let generation = runtime.configuration().generation();
        let Ok(keys) = runtime.acceptor_keys(list.after, limit).await else {
            return;
        };
        let reply = Item::Keys(Keys {
            from: self.inner.node,
            id: list.id,
            generation,
            keys,
        });
        self.inner.outbox.send_item(list.from, reply);
    }

    /// The membership record, read through this node (a linearizable read); a cluster that
    /// never changed has none yet, and gets the record of its generation 0 and known addresses.
    pub async fn record(&self) -> Result<(MembersRecord, Option<Bytes>), ChangeError> {
        let value = match self.run(MEMBERS_KEY, Operation::Read).await? {
            Outcome::Read { value } => value,
            other => return Err(ChangeError::Stalled(format!("unexpected answer {other:?}"))),
        };
        match &value {
            Some(bytes) => Ok((
                MembersRecord::decode(bytes).map_err(ChangeError::Stalled)?,
                value,
            )),
            None => {
                let configuration = self.inner.runtime.configuration();
                let addresses = self
                    .inner
                    .outbox
                    .peers()
                    .into_iter()
                    .map(|(id, addr)| (id, addr.to_string()))
                    .collect();
                Ok((MembersRecord::initial(configuration, addresses), None))
            }
        }
    }

    /// Runs `request` to the end (or to a stall).
    pub async fn change(
        &self,
        request: Request,
        runner: &impl CatchUpRunner,
    ) -> Result<MembersRecord, ChangeError> {
        let _one =
            self.inner.running.try_lock().map_err(|_| {
                ChangeError::Busy("a change is already running on this node".into())
            })?;
        {
            let mut progress = self.inner.progress.lock().expect("never poisoned");
            *progress = Progress {
                running: true,
                ..Progress::default()
            };
        }
        let result = self.run_change(request, runner).await;
        let mut progress = self.inner.progress.lock().expect("never poisoned");
        progress.running = false;
        progress.status = match &result {
            Ok(record) => format!(
                "done: generation {}, members {}",
                record.configuration.generation(),
                ids(record.configuration.members())
            ),
            Err(e) => format!("failed: {e}"),
        };
        result
    }

    async fn run_change(
        &self,
        request: Request,
        runner: &impl CatchUpRunner,
    ) -> Result<MembersRecord, ChangeError> {
        let (mut record, mut written) = self.record().await?;
        let current = record.configuration;
        let mut target = match &record.change {
            Some(change) => change.target,
            None => current.members(),
        };
        match &request {
            Request::Add { id, addr } => {
                if record.change.is_none() && current.is_stable() && target.contains(*id) {
                    return Err(ChangeError::Invalid(format!(
                        "node {id} is already a member"
                    )));
                }
                target.insert(*id);
                record.addresses.insert(*id, addr.to_string());
            }
            Request::Remove { id } => {
                if !target.contains(*id) && !current.members().contains(*id) {
                    return Err(ChangeError::Invalid(format!("node {id} is not a member")));
                }
                target = target.difference([*id].into_iter().collect());
                if target.is_empty() {
                    return Err(ChangeError::Invalid(
                        "the last member cannot be removed".into(),
                    ));
                }
            }
        }
        if let Request::Add { id, addr } = &request {
            // Dialled from now on: the steps install on it, and it joins through it.
            self.inner.outbox.add_peer(*id, *addr);
        }
        // A change that stopped: its last step may be installed nowhere but in the record, or
        // on too few nodes; install it first (needing the nodes it adds only if they stay).
        if record.change.is_some()
            || current.generation() > self.inner.runtime.configuration().generation()
        {
            self.install_everywhere(&record, target).await?;
        }
        let finishing =
            record.change.is_some() && current.is_stable() && current.members() == target;
        let steps = if finishing {
            // Stopped after its last step: only the final record is left to write.
            Vec::new()
        } else {
            steps_to(&record.since_catch_up, target)?
        };
        self.report(format!(
            "from generation {} ({}) to members {}: {} step(s)",
            current.generation(),
            ids(current.members()),
            ids(target),
            steps.len()
        ));
        for step in steps {
            if step.catch_up_first {
                self.catch_up(&mut record, &mut written, target, runner)
                    .await?;
                record.since_catch_up = vec![record.configuration];
            }
            let mut next = record.clone();
            next.configuration = step.configuration;
            next.since_catch_up.push(step.configuration);
            next.change = Some(Change {
                target,
                catch_up: None,
            });
            written = Some(self.write(&written, &next).await?);
            record = next;
            self.report(format!(
                "generation {} written: prepare {} (q1 {}), accept {} (q2 {})",
                step.configuration.generation(),
                ids(step.configuration.prepare()),
                step.configuration.q1(),
                ids(step.configuration.accept()),
                step.configuration.q2()
            ));
            self.install_everywhere(&record, target).await?;
        }
        record.change = None;
        record
            .addresses
            .retain(|id, _| record.configuration.members().contains(*id));
        self.write(&written, &record).await?;
        Ok(record)
    }

    /// Writes `next` over the record whose bytes were `written` (`None`: no record yet), by
    /// compare-and-set; returns the new bytes.
    async fn write(
        &self,
        written: &Option<Bytes>,
        next: &MembersRecord,
    ) -> Result<Bytes, ChangeError> {
        let bytes = next.encode();
        let op = Operation::Cas {
            expected: written.clone(),
            new: bytes.clone(),
        };
        match self.run(MEMBERS_KEY, op).await? {
            Outcome::Written { .. } => Ok(bytes),
            // An attempt whose answer was lost (a restarted replica) and that did apply.
            Outcome::CasMismatch { current } if current.as_ref() == Some(&bytes) => Ok(bytes),
            Outcome::CasMismatch { current } => Err(ChangeError::Busy(match current {
                Some(v) => match MembersRecord::decode(&v) {
                    Ok(r) => format!(
                        "the membership record moved to generation {}",
                        r.configuration.generation()
                    ),
                    Err(e) => e,
                },
                None => "the membership record was removed".into(),
            })),
            other => Err(ChangeError::Stalled(format!("unexpected answer {other:?}"))),
        }
    }

    /// Runs `op` on `key` through this node's own replica (the change's own register runs in
    /// this node's generation).
    async fn run(&self, key: &[u8], op: Operation<Bytes>) -> Result<Outcome<Bytes>, ChangeError> {
        let cas = matches!(op, Operation::Cas { .. });
        let runtime = &self.inner.runtime;
        retried(key, cas, || async {
            let submitted = runtime
                .submit(Bytes::copy_from_slice(key), op.clone())
                .await
                .map_err(|e| e.to_string())?;
            match submitted.reply.await {
                Ok(result) => result.map_err(|e| e.to_string()),
                Err(_) => Err("the replica restarted".into()),
            }
        })
        .await
    }

    /// Re-writes `key`'s current value through the quorums of `generation`: a full-round read
    /// at the key's home (queued behind its client requests), never a one-round-trip one.
    async fn catch_up_key(
        &self,
        key: &[u8],
        generation: u64,
        runner: &impl CatchUpRunner,
    ) -> Result<Outcome<Bytes>, ChangeError> {
        retried(key, false, || {
            runner.run_catch_up(Bytes::copy_from_slice(key), generation)
        })
        .await
    }

    /// Installs `record`'s configuration here and on every member of it and of the
    /// configuration before, and waits for a phase-1 and a phase-2 quorum of it, and every node
    /// it adds that stays in `target`, to run it.
    async fn install_everywhere(
        &self,
        record: &MembersRecord,
        target: NodeSet,
    ) -> Result<(), ChangeError> {
        let configuration = record.configuration;
        let generation = configuration.generation();
        let me = self.inner.node;
        let runtime = &self.inner.runtime;
        runtime
            .install(configuration)
            .await
            .map_err(|e| ChangeError::Stopped(e.0))?;
        let previous = record
            .since_catch_up
            .iter()
            .rev()
            .nth(1)
            .copied()
            .unwrap_or(configuration);
        let added = configuration
            .members()
            .difference(previous.members())
            .intersection(target);
        let receivers = configuration.members().union(previous.members());
        let addresses: Vec<(NodeId, String)> = record
            .addresses
            .iter()
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        let mut seen = self.inner.installed.subscribe();
        let deadline = Instant::now() + self.inner.install_timeout;
        loop {
            let at = |seen: &BTreeMap<NodeId, u64>| -> NodeSet {
                receivers
                    .iter()
                    .filter(|n| *n == me || seen.get(n).is_some_and(|g| *g >= generation))
                    .collect()
            };
            let done = at(&seen.borrow_and_update());
            let quorum = done.intersection(configuration.prepare()).len() >= configuration.q1()
                && done.intersection(configuration.accept()).len() >= configuration.q2()
                && added.is_subset(done);
            if quorum {
                // The rest that are connected get a moment, then learn it from `Stale` answers.
                let reachable: NodeSet = receivers
                    .iter()
                    .filter(|&n| {
                        n == me
                            || self
                                .inner
                                .outbox
                                .link(n)
                                .is_some_and(|link| link.borrow().up)
                    })
                    .collect();
                let everyone = tokio::time::timeout(
                    Duration::from_millis(500),
                    seen.wait_for(|s| reachable.is_subset(at(s))),
                );
                let _ = everyone.await;
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(ChangeError::Stalled(format!(
                    "generation {generation} is installed on {} only; it needs {} of {} and {} of {}{}",
                    ids(done),
                    configuration.q1(),
                    ids(configuration.prepare()),
                    configuration.q2(),
                    ids(configuration.accept()),
                    if added.is_empty() {
                        String::new()
                    } else {
                        format!(", and the new member(s) {}", ids(added))
                    }
                )));
            }
            for to in receivers.difference(done).iter().filter(|n| *n != me) {
                self.inner.outbox.send_item(
                    to,
                    Item::Install(Install {
                        from: me,
                        configuration,
                        addresses: addresses.clone(),
                    }),
                );
            }
            let _ = tokio::time::timeout(Duration::from_millis(250), seen.changed()).await;
        }
    }

    /// Re-writes every register in the current generation (see the module docs), recording
    /// the progress in the membership record.
    async fn catch_up(
        &self,
        record: &mut MembersRecord,
        written: &mut Option<Bytes>,
        target: NodeSet,
        runner: &impl CatchUpRunner,
    ) -> Result<(), ChangeError> {
        let configuration = record.configuration;
        let generation = configuration.generation();
        let mut progress = match record.change.as_ref().and_then(|c| c.catch_up.clone()) {
            Some(p) if p.generation == generation => p,
            _ => CatchUpProgress {
                generation,
                after: None,
                done: 0,
                total: 0,
            },
        };
        self.report(format!(
            "catching up every register in generation {generation}"
        ));
        let keys = self
            .all_keys(configuration, progress.after.as_deref())
            .await?;
        progress.total = progress.done + keys.len() as u64;
        self.count(progress.done, progress.total);
        for chunk in keys.chunks(CATCH_UP_CHUNK) {
            let reads = chunk
                .iter()
                .map(|key| self.catch_up_key(key, generation, runner));
            for result in futures::future::join_all(reads).await {
                result?;
            }
            progress.done += chunk.len() as u64;
            progress.after = chunk.last().map(|k| k.to_vec());
            self.count(progress.done, progress.total);
            let mut next = record.clone();
            next.change = Some(Change {
                target,
                catch_up: Some(progress.clone()),
            });
            *written = Some(self.write(written, &next).await?);
            *record = next;
        }
        self.report(format!(
            "caught up {} register(s) in generation {generation}",
            progress.done
        ));
        Ok(())
    }

    /// Every key the members of `configuration` hold acceptor state for, after `after`, from
    /// every member that answers in `configuration`'s generation — at least a phase-1 quorum.
    async fn all_keys(
        &self,
        configuration: Configuration,
        after: Option<&[u8]>,
    ) -> Result<Vec<Bytes>, ChangeError> {
        let mut keys = BTreeSet::new();
        let mut answered = NodeSet::EMPTY;
        // All members at once: a dead one costs one timeout, not one per member before it.
        let members: Vec<NodeId> = configuration.members().iter().collect();
        let listings = members
            .iter()
            .map(|&m| self.keys_of(m, configuration.generation(), after));
        for (member, listed) in members
            .iter()
            .zip(futures::future::join_all(listings).await)
        {
            match listed {
                Some(listed) => {
                    answered.insert(*member);
                    keys.extend(listed);
                }
                None => tracing::warn!(%member, "did not list its keys for the catch-up"),
            }
        }
        if answered.intersection(configuration.prepare()).len() < configuration.q1() {
            return Err(ChangeError::Stalled(format!(
                "only {} listed their keys in generation {}; the catch-up needs {} of {}",
                ids(answered),
                configuration.generation(),
                configuration.q1(),
                ids(configuration.prepare())
            )));
        }
        Ok(keys.into_iter().collect())
    }

    /// `member`'s keys after `after`, page by page (`None` if it does not answer, or answers
    /// from another generation).
    async fn keys_of(
        &self,
        member: NodeId,
        generation: u64,
        after: Option<&[u8]>,
    ) -> Option<Vec<Bytes>> {
        let mut all = Vec::new();
        let mut cursor = after.map(Bytes::copy_from_slice);
        loop {
            let page = if member == self.inner.node {
                let runtime = &self.inner.runtime;
                if runtime.configuration().generation() != generation {
                    return None;
                }
                runtime
                    .acceptor_keys(cursor.clone(), MAX_KEYS_PER_PAGE as usize)
                    .await
                    .ok()?
            } else {
                // A member with no live connection is not waited for.
                let up = self.inner.outbox.link(member)?.borrow().up;
                if !up {
                    return None;
                }
                let id = self.inner.runtime.next_request_id().ok()?;
                let (tx, rx) = oneshot::channel();
                self.inner
                    .listings
                    .lock()
                    .expect("never poisoned")
                    .insert(id, (member, tx));
                let asked = self.inner.outbox.send_item(
                    member,
                    Item::ListKeys(ListKeys {
                        from: self.inner.node,
                        id,
                        after: cursor.clone(),
                        limit: MAX_KEYS_PER_PAGE,
                    }),
                );
                let answer = if asked {
                    tokio::time::timeout(Duration::from_secs(5), rx)
                        .await
                        .ok()?
                        .ok()
                } else {
                    None
                };
                self.inner
                    .listings
                    .lock()
                    .expect("never poisoned")
                    .remove(&id);
                let answer = answer?;
                if answer.generation != generation {
                    return None;
                }
                answer.keys
            };
            let full = page.len() >= MAX_KEYS_PER_PAGE as usize;
            cursor = page.last().cloned().or(cursor);
            all.extend(page);
            if !full {
                return Some(all);
            }
        }
    }
}

/// Where a change runs its catch-ups: the node's forwarding, which runs each at the key's home.
pub trait CatchUpRunner: Sync {
    /// A catch-up of `key` in `generation` (a full-round read), answered like a read.
    fn run_catch_up(
        &self,
        key: Bytes,
        generation: u64,
    ) -> impl std::future::Future<Output = Result<Outcome<Bytes>, String>> + Send;
}

/// Runs `once` until it succeeds, at most [`CATCH_UP_ATTEMPTS`] times with a doubling wait
/// between: what failed surely did not apply, except a `cas` that answers `indeterminate`
/// (which is not tried again; a CAS that applied and is tried again answers a mismatch, which
/// the record's writer recognises).
async fn retried<F, Fut>(key: &[u8], cas: bool, mut once: F) -> Result<Outcome<Bytes>, ChangeError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Outcome<Bytes>, String>>,
{
    let mut last = String::new();
    let mut wait = FIRST_RETRY;
    for attempt in 0..CATCH_UP_ATTEMPTS {
        if attempt > 0 {
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(1));
        }
        match once().await {
            Ok(outcome) => return Ok(outcome),
            Err(e) => last = e,
        }
        if cas && last.contains("indeterminate") {
            break;
        }
    }
    Err(ChangeError::Stalled(format!(
        "{CATCH_UP_ATTEMPTS} requests on {:?} failed, the last with: {last}",
        String::from_utf8_lossy(key)
    )))
}

/// The steps from the configurations since the last catch-up (`since`, ending with the
/// current one) to `target`. From a configuration whose sets differ (a change stopped
/// half-way), the first step is the stable configuration of one of its sets — the accept set
/// if the target keeps the member being added, else the prepare set — and the plan goes on from
/// there.
pub fn steps_to(since: &[Configuration], target: NodeSet) -> Result<Vec<Step>, MembershipError> {
    let current = *since.last().ok_or(MembershipError::Empty)?;
    if current.is_stable() {
        return plan_since(since, target);
    }
    // One member is in the accept set only (being added, or being removed): keep it if the
    // target does.
    let set = if current
        .accept()
        .difference(current.prepare())
        .is_subset(target)
        && current.prepare().is_subset(current.accept())
    {
        current.accept()
    } else {
        current.prepare()
    };
    let first = Configuration::stable(current.generation() + 1, set)?;
    let mut history = since.to_vec();
    let mut steps = vec![Step {
        configuration: first,
        catch_up_first: false,
    }];
    check_plan_since(since, &steps).or_else(|_| {
        steps[0].catch_up_first = true;
        check_plan_since(since, &steps)
    })?;
    if steps[0].catch_up_first {
        history = vec![current];
    }
    history.push(first);
    if first.members() != target {
        steps.extend(plan_since(&history, target)?);
    }
    Ok(steps)
}

/// `{1, 2, 3}`.
fn ids(set: NodeSet) -> String {
    let list: Vec<String> = set.iter().map(|n| n.to_string()).collect();
    format!("{{{}}}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    /// The configurations of growing {1,2,3} to five members.
    fn grown_to_five() -> Vec<Configuration> {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let mut since = vec![start];
        for step in plan_since(&since, set(&[1, 2, 3, 4, 5])).unwrap() {
            since.push(step.configuration);
        }
        since
    }

    #[test]
    fn removing_a_founding_member_after_growing_needs_a_catch_up() {
        let since = grown_to_five();
        let steps = steps_to(&since, set(&[1, 2, 4, 5])).unwrap();
        assert_eq!(steps.len(), 2);
        assert!(steps[0].catch_up_first, "{steps:?}");
    }

    #[test]
    fn a_change_stopped_half_way_is_resumed_or_rolled_back() {
        let mut since = grown_to_five();
        since.truncate(4); // stopped after widening the accept set to {1,2,3,4,5}
        let widened = since[3];
        assert!(!widened.is_stable());
        let resumed = steps_to(&since, set(&[1, 2, 3, 4, 5])).unwrap();
        assert_eq!(resumed.len(), 1);
        assert_eq!(resumed[0].configuration.members(), set(&[1, 2, 3, 4, 5]));
        let rolled_back = steps_to(&since, set(&[1, 2, 3, 4])).unwrap();
        assert_eq!(rolled_back.len(), 1);
        assert_eq!(rolled_back[0].configuration.members(), set(&[1, 2, 3, 4]));
        assert!(rolled_back[0].configuration.is_stable());
    }
}
