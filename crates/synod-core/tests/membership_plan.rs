//! Property tests of the membership-change plan (docs/protocol.md, "Membership change"): from
//! any stable majority configuration to any other set of members, the computed steps pass
//! [`check_plan`] (each step valid, meeting the step before it, and meeting every configuration
//! since the last catch-up unless it has a catch-up first), end at the target, and a plan with
//! any one catch-up removed — or any one intermediate step skipped — is refused whenever it
//! would be unsafe.

use proptest::prelude::*;
use synod_core::{check_plan, plan, Configuration, MembershipError, NodeId, NodeSet};

fn members(bits: u16) -> NodeSet {
    (0..10u8)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| NodeId(i + 1))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn every_plan_is_safe_step_by_step(from in 1u16..1024, to in 1u16..1024) {
        prop_assume!(from != to);
        let start = Configuration::stable(0, members(from)).unwrap();
        let steps = plan(start, members(to)).unwrap();
        prop_assert_eq!(check_plan(start, &steps), Ok(()));
        let end = steps.last().unwrap().configuration;
        prop_assert!(end.is_stable());
        prop_assert_eq!(end.members(), members(to));
        // Consecutive configurations meet; every step changes one member of one set.
        let mut previous = start;
        for step in &steps {
            let next = step.configuration;
            prop_assert!(previous.meets(&next));
            let changed = next.prepare().difference(previous.prepare()).len()
                + previous.prepare().difference(next.prepare()).len()
                + next.accept().difference(previous.accept()).len()
                + previous.accept().difference(next.accept()).len();
            prop_assert!(changed <= 1, "{previous:?} -> {next:?}");
            previous = next;
        }
        // Removing a catch-up is refused exactly when the plan needed it.
        for (i, step) in steps.iter().enumerate() {
            if step.catch_up_first {
                let mut without = steps.clone();
                without[i].catch_up_first = false;
                let refused = check_plan(start, &without);
                prop_assert!(
                    matches!(refused, Err(MembershipError::CatchUpMissing { .. })),
                    "{refused:?}"
                );
            }
        }
    }

    #[test]
    fn a_configuration_is_refused_exactly_when_two_quorums_could_be_disjoint(
        p in 1u16..256, a in 1u16..256, q1 in 0usize..64, q2 in 0usize..64,
    ) {
        let (p, a) = (members(p), members(a));
        let (q1, q2) = (1 + q1 % p.len(), 1 + q2 % a.len());
        let made = Configuration::new(1, p, q1, a, q2);
        prop_assert_eq!(made.is_ok(), q1 + q2 > p.union(a).len());
    }
}

#[test]
fn replacing_a_member_of_five_keeps_five() {
    let start = Configuration::stable(0, members(0b11111)).unwrap();
    let steps = plan(start, members(0b101111)).unwrap();
    assert_eq!(steps.len(), 4);
    assert_eq!(steps[1].configuration.members().len(), 6);
    assert_eq!(steps[3].configuration.members(), members(0b101111));
}
