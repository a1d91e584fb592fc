//! Register mode under random schedules: competing clients run `Put` / `ProposeOnce` / `Cas` /
//! `Delete` / `Read` through different nodes while messages are lost, duplicated and reordered and nodes
//! crash and restart. The recorded history must be linearizable against one sequential register
//! whose semantics are `Operation::apply`. Operations answered `Busy` or `Exhausted` surely did
//! not happen; `Indeterminate` or unanswered ones may or may not have.

mod common;

use common::schedule::{fault, Fault};
use common::{id, Cluster};
use proptest::prelude::*;
use synod_check::linearizability::{check, Event, Status};
use synod_core::{FastPaths, Operation, RequestError, RequestId};

fn op() -> impl Strategy<Value = Operation<u8>> {
    let v = 1u8..=3;
    prop_oneof![
        v.clone().prop_map(Operation::Put),
        v.clone().prop_map(Operation::ProposeOnce),
        Just(Operation::Delete),
        Just(Operation::Read),
        (prop::option::of(v.clone()), v)
            .prop_map(|(expected, new)| Operation::Cas { expected, new }),
    ]
}

fn run(
    clients: usize,
    scripts: &[Vec<Operation<u8>>],
    schedule: &[Fault],
    fast: FastPaths,
) -> Result<(), String> {
    let n = 3;
    let mut c = Cluster::<u8>::majority(3).with_fast_paths(fast);
    let mut events: Vec<Event<u8>> = Vec::new();
    // Per client: index of its next op, and the event of the op in flight.
    let mut next = vec![0usize; clients];
    let mut current: Vec<Option<usize>> = vec![None; clients];
    let mut answered = 0;
    for (step, a) in schedule.iter().enumerate() {
        // Clients whose previous op finished issue their next one at their own node.
        for k in 0..clients {
            if current[k].is_none() && next[k] < scripts[k].len() && c.is_up(id(k)) {
                let op = scripts[k][next[k]].clone();
                next[k] += 1;
                events.push(Event {
                    op: op.clone(),
                    call: step as u64,
                    ret: 0,
                    status: Status::Unknown,
                });
                current[k] = Some(events.len() - 1);
                c.request(id(k), (events.len() - 1) as u64, op);
            }
        }
        c.apply_fault(a);
        if let Fault::Crash(i) = *a {
            // The client at that node never hears back: its op stays open forever.
            let node = id(i % n);
            if let Some(k) = (0..clients).find(|k| id(*k) == node) {
                if current[k].is_some() {
                    current[k] = None;
                    next[k] = scripts[k].len();
                }
            }
        }
        for (node, RequestId(r), result) in c.replies.drain(answered..).collect::<Vec<_>>() {
            let e = &mut events[r as usize];
            e.ret = step as u64;
            e.status = match result {
                Ok(o) => Status::Ok(o),
                Err(RequestError::Busy | RequestError::Exhausted { .. }) => Status::Failed,
                Err(RequestError::Indeterminate) => Status::Unknown,
            };
            let k = (0..clients)
                .find(|k| id(*k) == node)
                .expect("only clients request");
            current[k] = None;
        }
        answered = c.replies.len();
        for (node, p) in &c.learned {
            if !c.oracle.is_chosen(p) {
                return Err(format!("{node} learned {p:?}, which is not chosen"));
            }
        }
    }
    check(&events).map_err(|v| format!("{v}: {events:#?}"))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn register_histories_are_linearizable(
        scripts in prop::collection::vec(prop::collection::vec(op(), 1..4), 2..=3),
        schedule in prop::collection::vec(fault(), 1..150),
        fast in prop_oneof![Just(FastPaths::NONE), Just(FastPaths::ALL)],
    ) {
        run(scripts.len(), &scripts, &schedule, fast).map_err(TestCaseError::fail)?;
    }
}
