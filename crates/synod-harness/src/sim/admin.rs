//! The membership change's admin: the part of a run that changes the members while the
//! clients run ([`SimConfig::membership`](super::SimConfig::membership), in the shape of a
//! [`Change`](super::Change)).
//!
//! It walks `synod_core::plan_since` step by step on the [`World`]'s clock and RNG: before a
//! step marked `catch_up_first` it catches up every key with `Event::CatchUp` at a node of the
//! current generation; it creates each joining node on a fresh disk with its first
//! configuration installed; it sends `Event::Install` (lost or delayed like a message) and moves
//! on once a phase-1 and a phase-2 quorum of the new configuration run it; it aims crashes at
//! its steps; when the plan is done the nodes it removed stop for good. The injected bugs
//! [`Bug::SkipCatchUp`] and [`Bug::InstallOnOneNode`] live here.

use super::disk::SimDisk;
use super::world::{self, Ev, SimNode, World};
use super::Bug;
use crate::workload::ClientWorkload;
use bytes::Bytes;
use rand::Rng;
use std::collections::{BTreeMap, VecDeque};
use synod_core::{plan_since, Configuration, NodeId, NodeSet, RequestId, Step};
use synod_server::{Event, Replica, ReplicaConfig};

/// The admin of a membership change looks at its progress this often (µs).
const ADMIN_TICK_US: u64 = 10_000;
/// The admin sends a step's install again to the nodes that lack it after this long (µs).
const ADMIN_RESEND_US: u64 = 150_000;
/// The admin gives up on a catch-up (and runs it again) after this long (µs).
const CATCH_UP_TIMEOUT_US: u64 = 500_000;
/// When the clients are done but the change is not, faults end after this long anyway (µs).
const CHANGE_FAULT_LIMIT_US: u64 = 20_000_000;
/// A change that has not finished this long after the faults ended is reported as stuck and
/// abandoned (µs).
const CHANGE_STUCK_US: u64 = 20_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AdminPhase {
    /// Between steps: plan, or start the next step.
    Idle,
    /// Catching up every key before the next step.
    CatchUp,
    /// The next step is being installed.
    Install,
    /// The plan is done.
    Done,
}

/// The membership change's admin (like the membership model's): walks the plan step by step.
pub(super) struct Admin {
    /// Member sets still to change to.
    targets: VecDeque<NodeSet>,
    /// The configurations since the last catch-up, ending with the current one.
    since: Vec<Configuration>,
    /// The steps of the change to the current target still to run.
    steps: VecDeque<Step>,
    phase: AdminPhase,
    /// The newest configuration the admin has started installing (clients pick its members).
    newest: Configuration,
    /// Keys still to catch up.
    todo: VecDeque<Bytes>,
    /// Catch-ups running: request → key, node.
    catch_ups: BTreeMap<RequestId, (Bytes, usize)>,
    /// When the install of the current step was last sent.
    sent_at: u64,
}

impl Admin {
    /// The admin of a change through `targets`, starting from `initial`.
    pub(super) fn new(targets: Vec<NodeSet>, initial: Configuration) -> Self {
        Admin {
            targets: targets.into(),
            since: vec![initial],
            steps: VecDeque::new(),
            phase: AdminPhase::Idle,
            newest: initial,
            todo: VecDeque::new(),
            catch_ups: BTreeMap::new(),
            sent_at: 0,
        }
    }

    /// The members of the newest configuration the admin has started installing (the ones the
    /// clients use).
    pub(super) fn members(&self) -> NodeSet {
        self.newest.members()
    }

    /// Node `node` crashed: its catch-ups died with it, so they run again.
    pub(super) fn catch_ups_lost_at(&mut self, node: usize) {
        let lost: Vec<RequestId> = self
            .catch_ups
            .iter()
            .filter(|(_, (_, at))| *at == node)
            .map(|(&r, _)| r)
            .collect();
        for request in lost {
            if let Some((key, _)) = self.catch_ups.remove(&request) {
                self.todo.push_back(key);
            }
        }
    }
}

/// A node that joins in `configuration` (which includes it): a new disk on which the
/// configuration is recorded as installed before the replica runs (what `Replica::join` does on
/// a data directory).
fn join(
    disk: &SimDisk,
    config: &ReplicaConfig,
    configuration: Configuration,
) -> Result<Replica, String> {
    world::open_with(disk, config, true, Some(configuration))
}

impl World<'_> {
    /// Whether a membership change runs and is not done yet.
    pub(super) fn change_running(&self) -> bool {
        self.admin
            .as_ref()
            .is_some_and(|a| a.phase != AdminPhase::Done)
    }

    /// The odds that the admin aims a crash at the step it is taking (faulty runs only).
    fn aim(&self) -> f64 {
        if self.faulty {
            (0.15 * self.config.fault_scale).min(0.6)
        } else {
            0.0
        }
    }

    /// The membership change's admin: its next move.
    pub(super) fn admin_step(&mut self) {
        if self
            .heal_pending
            .is_some_and(|since| self.now >= since + CHANGE_FAULT_LIMIT_US)
        {
            self.heal();
        }
        let Some(phase) = self.admin.as_ref().map(|a| a.phase) else {
            return;
        };
        if phase != AdminPhase::Done
            && self
                .healed_at
                .is_some_and(|t| self.now >= t + CHANGE_STUCK_US)
        {
            self.report.problems.push(format!(
                "the membership change was stuck at generation {} {} s after the faults ended",
                self.report.generation,
                CHANGE_STUCK_US / 1_000_000
            ));
            if let Some(admin) = self.admin.as_mut() {
                admin.phase = AdminPhase::Done;
            }
            return;
        }
        match phase {
            AdminPhase::Done => return,
            AdminPhase::Idle => self.admin_next_step(),
            AdminPhase::CatchUp => self.admin_catch_up(),
            AdminPhase::Install => self.admin_install_progress(),
        }
        if self.change_running() {
            self.at(ADMIN_TICK_US, Ev::Admin);
        }
    }

    /// Plans the change to the next target if the last one is done, and starts the next step:
    /// its catch-up if it needs one, else its install.
    fn admin_next_step(&mut self) {
        let admin = self.admin.as_mut().expect("a change runs");
        if admin.steps.is_empty() {
            let Some(target) = admin.targets.pop_front() else {
                admin.phase = AdminPhase::Done;
                self.admin_done();
                return;
            };
            match plan_since(&admin.since, target) {
                Ok(steps) => admin.steps = steps.into(),
                Err(e) => {
                    admin.phase = AdminPhase::Done;
                    self.report.problems.push(format!(
                        "the membership change to {target:?} cannot be planned: {e}"
                    ));
                    return;
                }
            }
        }
        let step = admin.steps[0];
        if step.catch_up_first && self.config.bug != Some(Bug::SkipCatchUp) {
            admin.todo = ClientWorkload::keys(self.config.workload)
                .into_iter()
                .map(Bytes::from)
                .collect();
            admin.phase = AdminPhase::CatchUp;
            self.admin_catch_up();
        } else {
            self.admin_begin_install(step.configuration);
        }
    }

    /// Runs the catch-up of every key not caught up yet at a node that runs the current
    /// generation; once every key's catch-up answered, installs the step.
    fn admin_catch_up(&mut self) {
        let admin = self.admin.as_ref().expect("a change runs");
        if admin.todo.is_empty() && admin.catch_ups.is_empty() {
            let next = admin.steps[0].configuration;
            self.admin_begin_install(next);
            return;
        }
        let current = admin.since[admin.since.len() - 1].generation();
        let ready: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                self.nodes[i]
                    .replica
                    .as_ref()
                    .is_some_and(|r| r.configuration().generation() == current)
            })
            .collect();
        if ready.is_empty() {
            return;
        }
        while let Some(key) = self.admin.as_mut().and_then(|a| a.todo.pop_front()) {
            let node = ready[self.rng.gen_range(0..ready.len())];
            let request = RequestId(self.next_request);
            self.next_request += 1;
            if let Some(admin) = self.admin.as_mut() {
                admin.catch_ups.insert(request, (key.clone(), node));
            }
            self.push(node, Event::CatchUp { request, key });
            self.at(CATCH_UP_TIMEOUT_US, Ev::CatchUpGiveUp { request });
            if self.rng.gen_bool(self.aim()) {
                // A crash during the catch-up.
                let delay = self.rng.gen_range(0..5_000);
                self.at(delay, Ev::ChangeCrash(node));
            }
        }
    }

    /// A reply to one of the admin's catch-ups (false: not one of them).
    pub(super) fn catch_up_answered(&mut self, request: RequestId, ok: bool) -> bool {
        let Some(admin) = self.admin.as_mut() else {
            return false;
        };
        let Some((key, _)) = admin.catch_ups.remove(&request) else {
            return false;
        };
        if ok {
            self.report.catch_ups += 1;
        } else {
            admin.todo.push_back(key);
        }
        true
    }

    /// Starts installing `configuration`: makes the nodes that join in it, then sends the
    /// install to every node of the configurations before and after.
    fn admin_begin_install(&mut self, configuration: Configuration) {
        for id in configuration.members().iter() {
            if !self.nodes.iter().any(|n| n.id == id) {
                self.join_node(id, configuration);
            }
        }
        self.configurations
            .insert(configuration.generation(), configuration);
        let admin = self.admin.as_mut().expect("a change runs");
        admin.newest = configuration;
        admin.phase = AdminPhase::Install;
        admin.sent_at = self.now;
        self.send_installs(configuration);
    }

    fn join_node(&mut self, id: NodeId, configuration: Configuration) {
        let disk = SimDisk::new();
        disk.skip_log_sync(self.config.bug == Some(Bug::SkipLogFsync));
        let config = ReplicaConfig {
            node_id: id,
            ..self.replica_config[0].clone()
        };
        let replica = join(&disk, &config, configuration)
            .map_err(|e| {
                self.report
                    .problems
                    .push(format!("node {id} cannot join: {e}"))
            })
            .ok();
        self.nodes
            .push(SimNode::new(id, disk, replica, configuration.generation()));
        self.members.push(id);
        self.replica_config.push(config);
    }

    /// Sends the install of `configuration` (like a message: it may be lost or delayed) to the
    /// nodes of the configuration before it and of it that do not run it yet — or, with
    /// [`Bug::InstallOnOneNode`], to one of its members.
    fn send_installs(&mut self, configuration: Configuration) {
        let admin = self.admin.as_ref().expect("a change runs");
        let before = admin.since[admin.since.len() - 1].members();
        let mut targets: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| {
                let n = &self.nodes[i];
                !n.stopped
                    && n.installed < configuration.generation()
                    && (before.contains(n.id) || configuration.members().contains(n.id))
            })
            .collect();
        if self.config.bug == Some(Bug::InstallOnOneNode) {
            targets.retain(|&i| configuration.members().contains(self.nodes[i].id));
            if targets.is_empty() {
                return;
            }
            targets = vec![targets[self.rng.gen_range(0..targets.len())]];
        }
        for node in targets {
            if self.rng.gen_bool(0.25) {
                self.report.installs_lost += 1;
                continue;
            }
            let delay = self.rng.gen_range(0..20_000);
            self.at(
                delay,
                Ev::Install {
                    node,
                    configuration,
                },
            );
        }
    }

    /// The admin's install reaches a node.
    pub(super) fn install_at(&mut self, node: usize, configuration: Configuration) {
        let n = &mut self.nodes[node];
        if n.replica.is_none() {
            self.report.installs_lost += 1;
            return;
        }
        n.delivered = n.delivered.max(configuration.generation());
        self.push(node, Event::Install(configuration));
        if self.rng.gen_bool(self.aim()) {
            // A crash right after the install (before, during or after the batch that runs it).
            let delay = self.rng.gen_range(0..3_000);
            self.at(delay, Ev::ChangeCrash(node));
        }
    }

    /// Moves on once the step runs on a phase-1 and a phase-2 quorum of its configuration;
    /// sends its install again now and then until it does.
    fn admin_install_progress(&mut self) {
        let admin = self.admin.as_ref().expect("a change runs");
        let configuration = admin.newest;
        let generation = configuration.generation();
        let running = |set: NodeSet| {
            self.nodes
                .iter()
                .filter(|n| set.contains(n.id) && n.installed >= generation)
                .count()
        };
        let installed = if self.config.bug == Some(Bug::InstallOnOneNode) {
            running(configuration.members()) >= 1
        } else {
            running(configuration.prepare()) >= configuration.q1()
                && running(configuration.accept()) >= configuration.q2()
        };
        if !installed {
            if self.now >= admin.sent_at + ADMIN_RESEND_US {
                if let Some(admin) = self.admin.as_mut() {
                    admin.sent_at = self.now;
                }
                self.send_installs(configuration);
            }
            return;
        }
        let admin = self.admin.as_mut().expect("a change runs");
        let step = admin.steps.pop_front().expect("a step was being installed");
        if step.catch_up_first {
            let last = admin.since.len() - 1;
            admin.since.drain(..last);
        }
        admin.since.push(configuration);
        admin.phase = AdminPhase::Idle;
        self.report.steps += 1;
        self.report.generation = generation;
        if self.rng.gen_bool(self.aim()) {
            // A crash between two steps.
            let node = self.rng.gen_range(0..self.nodes.len());
            self.at(0, Ev::ChangeCrash(node));
        }
    }

    /// The change is done: the nodes it removed stop for good, and the heal that waited for it
    /// comes.
    fn admin_done(&mut self) {
        let members = self.admin.as_ref().expect("a change runs").newest.members();
        for node in 0..self.nodes.len() {
            if !members.contains(self.nodes[node].id) {
                self.stop(node);
            }
        }
        if self.heal_pending.is_some() {
            self.heal();
        }
    }

    /// A removed node stops (its requests, if any, end with an unknown outcome).
    fn stop(&mut self, node: usize) {
        self.nodes[node].stopped = true;
        self.take_down(node);
    }

    /// The admin stops waiting for catch-up `request`: abandons it and runs it again.
    pub(super) fn catch_up_gave_up(&mut self, request: RequestId) {
        let running = self
            .admin
            .as_mut()
            .and_then(|a| a.catch_ups.remove(&request));
        if let Some((key, node)) = running {
            self.push(node, Event::Abandon { request });
            if let Some(admin) = self.admin.as_mut() {
                admin.todo.push_back(key);
            }
        }
    }
}
