//! `synod-model membership`: the membership-change model from the command line — which change,
//! which clients, which narrowing knobs, which buggy double, how to search and for how long —
//! and the record a membership check leaves in `--json`/`--junit` reports, so that its proofs
//! can join `check --preset` beside the fixed-membership ones.

use super::run::{check_bounded, MembershipReport, Search};
use super::scenario::{MembershipBug, MembershipConfig, Scenario};
use crate::report::{CheckRecord, Configuration, PropertyRecord};
use crate::stop::{megabytes, memory_bound_from_mb, Stop};
use clap::{Args, ValueEnum};
use std::time::{Duration, Instant};

/// How a membership check searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SearchArg {
    /// Breadth-first: a counterexample is a shortest path; the frontier is kept in memory.
    Bfs,
    /// Depth-first: only fingerprints are kept, so deep spaces fit in memory.
    Dfs,
}

/// The arguments of `synod-model membership`.
#[derive(Args, Clone, Debug)]
pub struct MembershipArgs {
    /// The change to explore.
    #[arg(long, value_enum, default_value = "grow")]
    pub scenario: Scenario,
    /// How many of the scenario's two clients take part (the first ones).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u8).range(0..=2))]
    pub clients: u8,
    /// Rounds (attempts) per request.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub rounds: u32,
    /// A buggy double of the change, which the check must FAIL.
    #[arg(long, value_enum)]
    pub bug: Option<MembershipBug>,
    /// Round timers never fire (a round ends by a rejection or an install): a narrower space.
    #[arg(long)]
    pub no_timeouts: bool,
    /// The admin starts a step only once every live node installed the current one.
    #[arg(long)]
    pub no_lagging: bool,
    /// The admin starts the change only once client 0's first operation was answered.
    #[arg(long)]
    pub change_after_first_write: bool,
    /// Explore every state as the nodes hold it: no normalization, no quorum transitions
    /// (docs/model.md, *Membership change*).
    #[arg(long)]
    pub no_reduce: bool,
    /// Deliver votes one by one (keeps the other reductions).
    #[arg(long)]
    pub no_quorum_transitions: bool,
    /// Search order.
    #[arg(long, value_enum, default_value = "bfs")]
    pub strategy: SearchArg,
    /// Checker threads.
    #[arg(long, default_value_t = 2)]
    pub threads: usize,
    /// Time bound in seconds (a run that reaches it is INCOMPLETE).
    #[arg(long)]
    pub timeout: Option<u64>,
    /// Memory bound in MB (a run that passes it is INCOMPLETE; default: 80 % of physical
    /// memory; 0 = none).
    #[arg(long, value_name = "MB")]
    pub max_memory: Option<u64>,
}

impl MembershipArgs {
    /// The model configuration these arguments name.
    pub fn config(&self) -> MembershipConfig {
        MembershipConfig {
            rounds: self.rounds,
            bug: self.bug,
            clients: usize::from(self.clients),
            timeouts: !self.no_timeouts,
            lagging: !self.no_lagging,
            change_after_first_write: self.change_after_first_write,
            reduce: !self.no_reduce,
            quorum_transitions: !self.no_reduce && !self.no_quorum_transitions,
            ..MembershipConfig::new(self.scenario)
        }
    }

    fn strategy_name(&self) -> &'static str {
        match self.strategy {
            SearchArg::Bfs => "bfs",
            SearchArg::Dfs => "dfs",
        }
    }

    fn search(&self) -> Search {
        match self.strategy {
            SearchArg::Bfs => Search::BreadthFirst,
            SearchArg::Dfs => Search::DepthFirst,
        }
    }

    /// Runs the check, prints its report and returns it.
    pub fn run(&self) -> MembershipReport {
        let max_memory = memory_bound_from_mb(self.max_memory);
        println!(
            "checking   strategy={} threads={} timeout={} max-memory={}",
            self.strategy_name(),
            self.threads,
            self.timeout.map_or("none".to_string(), |t| format!("{t}s")),
            megabytes(max_memory)
        );
        let deadline = self
            .timeout
            .map(|t| Instant::now() + Duration::from_secs(t));
        let report = check_bounded(
            &self.config(),
            self.threads,
            Stop::new(deadline, max_memory),
            self.search(),
        );
        print!("{}", report.render());
        report
    }

    /// The record of `report`, a check of these arguments named `name` and rerun by `command`.
    pub fn record(&self, report: &MembershipReport, name: &str, command: &str) -> CheckRecord {
        let cfg = self.config();
        let (configurations, _) = cfg.configurations();
        let first = configurations[0];
        let scripts = cfg
            .scripts()
            .iter()
            .map(|s| s.iter().map(crate::script::format_op).collect())
            .collect();
        CheckRecord {
            name: name.to_string(),
            command: command.to_string(),
            configuration: Configuration {
                summary: report.description.clone(),
                protocol: cfg.bug.map_or("correct", MembershipBug::name).to_string(),
                nodes: cfg.nodes(),
                mode: "membership",
                proposers: None,
                clients: Some(scripts),
                rounds: vec![cfg.rounds],
                network: "unordered-duplicating".to_string(),
                lossy: false,
                crashes: usize::from(cfg.crashable().is_some()),
                crash_nodes: cfg.crashable().map(|i| i + 1).into_iter().collect(),
                q1: first.q1(),
                q2: first.q2(),
                fast: "none",
                strategy: self.strategy_name().to_string(),
                threads: self.threads,
                symmetry: false,
                quorum_transitions: cfg.quorum_transitions,
                no_reduce: !cfg.reduce,
                max_depth: None,
                timeout_secs: self.timeout,
            },
            verdict: crate::report::verdict_of_code(report.exit_code()),
            exit_code: report.exit_code(),
            exhaustive: report.exhaustive,
            unique_states: report.unique_states,
            total_states: report.total_states,
            depth: report.max_depth,
            seconds: report.elapsed.as_secs_f64(),
            peak_rss_bytes: crate::report::peak_rss_bytes(),
            properties: report
                .properties
                .iter()
                .map(|(name, kind, verdict)| {
                    let mut record = PropertyRecord::new(name, kind, *verdict);
                    if let Some((failed, path)) = &report.counterexample {
                        if failed == name {
                            record.steps = Some(path.len());
                            record.listing = Some(report.render());
                        }
                    }
                    record
                })
                .collect(),
        }
    }
}
