//! Register mode under random schedules: competing clients run `Put` / `Cas` / `Delete` /
//! `Read` through different nodes while messages are lost, duplicated and reordered and nodes
//! crash and restart. The recorded history must be linearizable against one sequential register
//! whose semantics are `Operation::apply`. Operations answered `Busy` or `Exhausted` surely did
//! not happen; `Indeterminate` or unanswered ones may or may not have.

mod common;

use common::{id, Cluster};
use proptest::prelude::*;
use synod_core::linearizability::{check, Event, Status};
use synod_core::{Operation, RequestError, RequestId, Timer};

#[derive(Clone, Debug)]
enum Action {
    Deliver(usize),
    Duplicate(usize),
    Drop(usize),
    RoundTimeout(usize),
    Backoff(usize),
    Crash(usize),
    Restart(usize),
}

fn action() -> impl Strategy<Value = Action> {
    let i = 0usize..64;
    prop_oneof![
        14 => i.clone().prop_map(Action::Deliver),
        2 => i.clone().prop_map(Action::Duplicate),
        2 => i.clone().prop_map(Action::Drop),
        1 => i.clone().prop_map(Action::RoundTimeout),
        3 => i.clone().prop_map(Action::Backoff),
        1 => i.clone().prop_map(Action::Crash),
        2 => i.prop_map(Action::Restart),
    ]
}

fn op() -> impl Strategy<Value = Operation<u8>> {
    let v = 1u8..=3;
    prop_oneof![
        v.clone().prop_map(Operation::Put),
        Just(Operation::Delete),
        Just(Operation::Read),
        (prop::option::of(v.clone()), v)
            .prop_map(|(expected, new)| Operation::Cas { expected, new }),
    ]
}

fn run(clients: usize, scripts: &[Vec<Operation<u8>>], schedule: &[Action]) -> Result<(), String> {
    let n = 3;
    let mut c = Cluster::<u8>::majority(3);
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
        match *a {
            Action::Deliver(_) | Action::Duplicate(_) | Action::Drop(_)
                if c.in_flight.is_empty() => {}
            Action::Deliver(i) => c.deliver(i % c.in_flight.len(), false),
            Action::Duplicate(i) => c.deliver(i % c.in_flight.len(), true),
            Action::Drop(i) => c.drop_message(i % c.in_flight.len()),
            Action::RoundTimeout(i) => c.timeout(id(i % n), Timer::Round),
            Action::Backoff(i) => c.timeout(id(i % n), Timer::Backoff),
            Action::Crash(i) => {
                let node = id(i % n);
                c.crash(node);
                // The client at that node never hears back: its op stays open forever.
                if let Some(k) = (0..clients).find(|k| id(*k) == node) {
                    if current[k].is_some() {
                        current[k] = None;
                        next[k] = scripts[k].len();
                    }
                }
            }
            Action::Restart(i) => c.restart(id(i % n)),
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
        schedule in prop::collection::vec(action(), 1..150),
    ) {
        run(scripts.len(), &scripts, &schedule).map_err(TestCaseError::fail)?;
    }
}
