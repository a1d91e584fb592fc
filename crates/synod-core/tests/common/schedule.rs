//! Random fault schedules for the proptest simulations: one [`Fault`] per step, with indices
//! taken modulo what exists so that every schedule is valid and shrinks well.

use super::{id, Cluster};
use proptest::prelude::*;
use synod_core::Timer;

/// One scheduling decision of the network or the nemesis.
#[derive(Clone, Debug)]
pub enum Fault {
    Deliver(usize),
    Duplicate(usize),
    Drop(usize),
    RoundTimeout(usize),
    Backoff(usize),
    Crash(usize),
    Restart(usize),
}

/// Deliveries dominate; every other fault is regular.
pub fn fault() -> impl Strategy<Value = Fault> {
    let i = 0usize..64;
    prop_oneof![
        13 => i.clone().prop_map(Fault::Deliver),
        2 => i.clone().prop_map(Fault::Duplicate),
        2 => i.clone().prop_map(Fault::Drop),
        1 => i.clone().prop_map(Fault::RoundTimeout),
        2 => i.clone().prop_map(Fault::Backoff),
        1 => i.clone().prop_map(Fault::Crash),
        2 => i.prop_map(Fault::Restart),
    ]
}

impl<V: Clone + Ord + std::fmt::Debug> Cluster<V> {
    /// Carries out one fault on an `n`-node cluster.
    pub fn apply_fault(&mut self, fault: &Fault) {
        let n = self.configs.len();
        let in_flight = self.in_flight.len();
        match *fault {
            Fault::Deliver(_) | Fault::Duplicate(_) | Fault::Drop(_) if in_flight == 0 => {}
            Fault::Deliver(i) => self.deliver(i % in_flight, false),
            Fault::Duplicate(i) => self.deliver(i % in_flight, true),
            Fault::Drop(i) => self.drop_message(i % in_flight),
            Fault::RoundTimeout(i) => self.timeout(id(i % n), Timer::Round),
            Fault::Backoff(i) => self.timeout(id(i % n), Timer::Backoff),
            Fault::Crash(i) => self.crash(id(i % n)),
            Fault::Restart(i) => self.restart(id(i % n)),
        }
    }
}
