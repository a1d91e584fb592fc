//! Traces through a membership change (docs/traces.md, *Membership traces*): the committed
//! `membership-*` files are what the export writes today, each shows what it is named for, each
//! validates in the membership model (`trace check` re-inserting the admin's steps), and a file
//! tampered with — an output, a node state, an installed configuration, a message never sent, a
//! missing catch-up — is reported at the step that was changed.

use std::path::PathBuf;
use synod_check::trace::{Step, Trace, TraceConfiguration};
use synod_core::{Message, NodeId, Operation, Outcome, Output, RequestId, Timer};
use synod_model::membership::model::catch_up_request;
use synod_model::membership::trace_check::derive_config;
use synod_model::membership::trace_export::export_all;
use synod_model::membership::Scenario;
use synod_model::trace_check::{check_trace, CheckError};

fn traces_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../traces")
}

const WRITTEN: &str = "membership-grow--written-in-last-generation";
const STALE: &str = "membership-grow--stale-configuration-adopted";
const RETRIED: &str = "membership-grow--round-ended-by-install";
const REPLACED: &str = "membership-replace-crashed--catch-up-then-read";

fn load(name: &str) -> Trace<String> {
    let text = std::fs::read_to_string(traces_dir().join(format!("{name}.json"))).unwrap();
    Trace::from_json(&text).unwrap()
}

/// The step of `trace` that `pick` finds first.
fn position(trace: &Trace<String>, pick: impl Fn(&Step<String>) -> bool) -> usize {
    trace
        .steps
        .iter()
        .position(|s| pick(&s.step))
        .expect("the trace has such a step")
}

fn outputs(trace: &Trace<String>, step: usize) -> &[Output<String>] {
    trace.steps[step]
        .expect
        .as_ref()
        .and_then(|e| e.outputs.as_deref())
        .expect("every exported step expects its outputs")
}

/// The divergence `trace` is reported with.
fn divergence(trace: &Trace<String>) -> synod_check::trace::Divergence {
    match check_trace(trace) {
        Err(CheckError::Diverged(d)) => *d,
        other => panic!("expected a divergence, got {other:?}"),
    }
}

#[test]
fn the_export_is_deterministic_and_committed() {
    let first = export_all().expect("every membership target is exported");
    let second = export_all().unwrap();
    let names: Vec<&str> = first.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        names,
        [WRITTEN, STALE, RETRIED, REPLACED].map(|n| format!("{n}.json")),
    );
    for ((file, trace), (_, again)) in first.iter().zip(&second) {
        assert_eq!(
            trace.to_json(),
            again.to_json(),
            "{file} differs between runs"
        );
        let committed = std::fs::read_to_string(traces_dir().join(file)).unwrap();
        assert_eq!(
            committed,
            trace.to_json(),
            "{file} is stale: regenerate with `synod-model traces export --out models/traces`"
        );
    }
}

#[test]
fn every_membership_trace_validates_in_the_membership_model() {
    for name in [WRITTEN, STALE, RETRIED, REPLACED] {
        let trace = load(name);
        assert!(
            trace
                .steps
                .iter()
                .any(|s| matches!(s.step, Step::Install { .. })),
            "{name} changes the membership"
        );
        match check_trace(&trace) {
            Ok(steps) => assert_eq!(steps, trace.steps.len(), "{name}"),
            Err(e) => panic!("{name}: {e}"),
        }
    }
}

#[test]
fn the_model_is_derived_from_the_trace() {
    let grow = derive_config(&load(WRITTEN)).unwrap();
    assert_eq!(
        (grow.scenario, grow.clients, grow.rounds),
        (Scenario::Grow, 1, 1)
    );
    assert!(grow.timeouts && grow.lagging, "the widest model");
    let retried = derive_config(&load(RETRIED)).unwrap();
    assert_eq!((retried.scenario, retried.rounds), (Scenario::Grow, 2));
    // Only client 1 sends: both clients take part.
    assert_eq!(derive_config(&load(STALE)).unwrap().clients, 2);
    let replaced = derive_config(&load(REPLACED)).unwrap();
    assert_eq!(
        (replaced.scenario, replaced.clients),
        (Scenario::ReplaceCrashed, 2)
    );
    // A request no scenario's client sends.
    let mut trace = load(WRITTEN);
    let at = position(&trace, |s| matches!(s, Step::Request { .. }));
    if let Step::Request { op, .. } = &mut trace.steps[at].step {
        *op = Operation::Put("z".into());
    }
    match check_trace(&trace) {
        Err(CheckError::Unsupported(why)) => {
            assert!(why.contains("fits no membership scenario"), "{why}");
            assert!(why.contains("grow: step"), "{why}");
        }
        other => panic!("expected the trace to fit no scenario, got {other:?}"),
    }
}

#[test]
fn the_last_generation_trace_ends_with_every_node_there() {
    let trace = load(WRITTEN);
    let last = trace.steps.last().unwrap();
    let nodes = &last.expect.as_ref().unwrap().nodes;
    assert_eq!(
        nodes.keys().copied().collect::<Vec<_>>(),
        (1..=4).map(NodeId).collect::<Vec<_>>()
    );
    // Every node's last install is generation 2; node 4 joins with it.
    for id in 1..=4 {
        let last_install = trace.steps.iter().rev().find_map(|s| match &s.step {
            Step::Install {
                node,
                configuration,
            } if *node == NodeId(id) => Some(configuration.generation),
            _ => None,
        });
        assert_eq!(last_install, Some(2), "n{id}");
    }
    let joins = position(&trace, |s| {
        matches!(
            s,
            Step::Install {
                node: NodeId(4),
                ..
            }
        )
    });
    assert_eq!(trace.steps[joins].note, "n4 joins with generation 2");
    // The put is answered, by a vote of generation 2.
    let reply = (0..trace.steps.len())
        .find(|&i| {
            outputs(&trace, i).iter().any(|o| {
                matches!(
                    o,
                    Output::Reply {
                        result: Ok(Outcome::Written { .. }),
                        ..
                    }
                )
            })
        })
        .expect("the put is answered");
    assert!(matches!(
        &trace.steps[reply].step,
        Step::Deliver {
            msg: Message::Generation { generation: 2, .. },
            ..
        }
    ));
}

#[test]
fn the_stale_trace_shows_a_lagging_node_adopting_and_retrying() {
    let trace = load(STALE);
    let stale = position(&trace, |s| {
        matches!(
            s,
            Step::Deliver {
                to: NodeId(2),
                msg: Message::Stale { .. },
                ..
            }
        )
    });
    assert_eq!(
        trace.steps[stale].note,
        "n2 adopts generation 1 from the refusal"
    );
    // The install's outputs, in the same step: the round ends, the backoff starts.
    assert_eq!(
        outputs(&trace, stale),
        [
            Output::CancelTimer(Timer::Round),
            Output::SetTimer {
                timer: Timer::Backoff,
                attempt: 2
            }
        ]
    );
    // Node 2 never gets an install step of its own: it learned generation 1 from the refusal.
    assert!(!trace.steps.iter().any(|s| matches!(
        s.step,
        Step::Install {
            node: NodeId(2),
            ..
        }
    )));
    let retry = position(&trace, |s| {
        matches!(
            s,
            Step::Timeout {
                node: NodeId(2),
                timer: Timer::Backoff
            }
        )
    });
    assert!(retry > stale);
    assert!(outputs(&trace, retry).iter().any(|o| matches!(
        o,
        Output::Broadcast {
            msg: Message::Generation { generation: 1, .. }
        }
    )));
    let answered = outputs(&trace, trace.steps.len() - 1);
    assert!(answered.contains(&Output::Reply {
        request: RequestId(512),
        result: Ok(Outcome::Written { previous: None }),
    }));
}

#[test]
fn the_retry_trace_shows_a_round_ended_by_an_install() {
    let trace = load(RETRIED);
    let install = position(&trace, |s| {
        matches!(
            s,
            Step::Install {
                node: NodeId(1),
                ..
            }
        )
    });
    assert!(
        position(&trace, |s| matches!(
            s,
            Step::Request {
                node: NodeId(1),
                ..
            }
        )) < install,
        "the write was under way"
    );
    assert_eq!(
        outputs(&trace, install),
        [
            Output::CancelTimer(Timer::Round),
            Output::SetTimer {
                timer: Timer::Backoff,
                attempt: 2
            }
        ]
    );
    let answered = outputs(&trace, trace.steps.len() - 1);
    assert!(answered.iter().any(|o| matches!(
        o,
        Output::Reply {
            result: Ok(Outcome::Written { .. }),
            ..
        }
    )));
}

#[test]
fn the_replacement_trace_catches_up_before_node_3_leaves() {
    let trace = load(REPLACED);
    let crash = position(&trace, |s| matches!(s, Step::Crash { node: NodeId(3) }));
    let joins = position(&trace, |s| {
        matches!(
            s,
            Step::Install {
                node: NodeId(4),
                ..
            }
        )
    });
    let catch_up = position(&trace, |s| {
        matches!(
            s,
            Step::Request {
                node: NodeId(4),
                op: Operation::Read,
                ..
            }
        )
    });
    let leaves = position(&trace, |s| match s {
        Step::Install { configuration, .. } => !configuration.prepare.contains(&NodeId(3)),
        _ => false,
    });
    let Step::Request { request, .. } = trace.steps[catch_up].step else {
        unreachable!()
    };
    assert_eq!(request, catch_up_request(2), "the catch-up of generation 2");
    assert!(crash < joins && joins < catch_up && catch_up < leaves);
    // The catch-up is answered with the put's value before node 3 leaves.
    let answered = (catch_up..leaves).any(|i| {
        outputs(&trace, i).contains(&Output::Reply {
            request,
            result: Ok(Outcome::Read {
                value: Some("a".into()),
            }),
        })
    });
    assert!(answered, "the catch-up read returns 'a'");
    // The read at node 2 returns 'a'.
    let read = outputs(&trace, trace.steps.len() - 1);
    assert!(read.iter().any(|o| matches!(
        o,
        Output::Reply { request: RequestId(512), result: Ok(Outcome::Read { value: Some(v) }) } if v == "a"
    )));
    // Node 3 is gone: no step touches it after its crash, and the end names nodes 1, 2 and 4.
    let end = &trace.steps.last().unwrap().expect.as_ref().unwrap().nodes;
    assert_eq!(
        end.keys().copied().collect::<Vec<_>>(),
        [NodeId(1), NodeId(2), NodeId(4)]
    );
}

#[test]
fn an_altered_output_is_reported_at_its_step() {
    let mut trace = load(STALE);
    let stale = position(&trace, |s| {
        matches!(
            s,
            Step::Deliver {
                msg: Message::Stale { .. },
                ..
            }
        )
    });
    // As if the refusal were not adopted: no install outputs.
    trace.steps[stale].expect.as_mut().unwrap().outputs = Some(Vec::new());
    let d = divergence(&trace);
    assert_eq!((d.step, d.what.as_str()), (stale, "outputs"), "{d}");
    assert_eq!(d.expected, "no outputs", "{d}");
    assert!(d.actual.contains("set Backoff timer (attempt 2)"), "{d}");
}

#[test]
fn an_altered_node_state_is_reported_at_its_step() {
    let mut trace = load(REPLACED);
    let joins = position(&trace, |s| {
        matches!(
            s,
            Step::Install {
                node: NodeId(4),
                ..
            }
        )
    });
    let state = trace.steps[joins]
        .expect
        .as_mut()
        .unwrap()
        .nodes
        .get_mut(&NodeId(4))
        .unwrap();
    state.promised = synod_core::Ballot::new(1, NodeId(1));
    let d = divergence(&trace);
    assert_eq!((d.step, d.what.as_str()), (joins, "state of node 4"), "{d}");
    assert!(
        d.actual.starts_with("promised [0,0], accepted nothing"),
        "{d}"
    );
}

#[test]
fn an_install_of_the_wrong_configuration_is_reported_at_its_step() {
    let mut trace = load(WRITTEN);
    let install = position(&trace, |s| matches!(s, Step::Install { .. }));
    // Generation 1 without node 4 in the accept set (valid, but not the plan's).
    if let Step::Install { configuration, .. } = &mut trace.steps[install].step {
        *configuration = TraceConfiguration {
            generation: 1,
            prepare: vec![NodeId(1), NodeId(2), NodeId(3)],
            q1: 2,
            accept: vec![NodeId(1), NodeId(2), NodeId(3)],
            q2: 2,
        };
    }
    let d = divergence(&trace);
    assert_eq!(d.step, install, "{d}");
    assert_eq!(d.what, "configuration installed on n1", "{d}");
    assert_eq!(d.expected, "g1 prepare {1,2,3}/2 accept {1,2,3}/2", "{d}");
    assert_eq!(
        d.actual, "the admin installs g1 prepare {1,2,3}/2 accept {1,2,3,4}/3",
        "{d}"
    );
}

#[test]
fn a_message_never_sent_is_not_an_enabled_step() {
    let mut trace = load(RETRIED);
    let deliver = position(&trace, |s| matches!(s, Step::Deliver { .. }));
    if let Step::Deliver { msg, .. } = &mut trace.steps[deliver].step {
        *msg = Message::Prepare {
            ballot: synod_core::Ballot::new(9, NodeId(1)),
        }
        .in_generation(1);
    }
    let d = divergence(&trace);
    assert_eq!(d.step, deliver, "{d}");
    assert!(d.what.starts_with("message n1 → n"), "{d}");
    assert_eq!(d.expected, "g1: Prepare [9,1] was sent", "{d}");
    assert!(d.actual.starts_with("not enabled"), "{d}");
}

#[test]
fn a_missing_catch_up_holds_back_the_next_step() {
    let mut trace = load(REPLACED);
    let catch_up = position(&trace, |s| {
        matches!(
            s,
            Step::Request {
                node: NodeId(4),
                ..
            }
        )
    });
    // Without the catch-up's own steps, the admin may not start generation 3.
    let answered = (catch_up..trace.steps.len())
        .find(|&i| {
            outputs(&trace, i)
                .iter()
                .any(|o| matches!(o, Output::Reply { .. }))
        })
        .unwrap();
    trace.steps.drain(catch_up..=answered);
    let d = divergence(&trace);
    assert_eq!(d.step, catch_up, "{d}");
    assert_eq!(d.what, "install on n1", "{d}");
    assert!(d.expected.starts_with("g3 "), "{d}");
    assert!(d.actual.contains("nothing to install"), "{d}");
}

#[test]
fn the_cli_checks_a_membership_trace() {
    let bin = env!("CARGO_BIN_EXE_synod-model");
    let out = std::process::Command::new(bin)
        .args(["trace", "check"])
        .arg(traces_dir().join(format!("{REPLACED}.json")))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.starts_with("OK"), "{stdout}");
}
