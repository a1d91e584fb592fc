//! The steps of a membership change, computed from the current configuration and the target
//! members (docs/protocol.md, "Membership change").
//!
//! Members are added one at a time, then removed one at a time (a replacement is an addition
//! followed by a removal). Each change of one member takes two steps:
//!
//! * adding `x` to a stable `S`: the accept set grows first (`prepare S, q1`; `accept S ∪ {x},
//!   q2 + 1`), then both sets are `S ∪ {x}` with majority quorums;
//! * removing `x` from a stable `S`: the prepare set shrinks first (`prepare S \ {x}, m`;
//!   `accept S, |S| + 1 - m`, with `m` a majority of `S \ {x}`: the smallest phase-2 quorum
//!   that meets every phase-1 quorum, so the members that stay can finish it without `x`),
//!   then both sets are `S \ {x}`.
//!
//! Every step must meet the step before it ([`Configuration::check_step`]). A step must also
//! meet every configuration since the last **catch-up**, because a value chosen in any of them
//! may still be the latest value of some register; where it does not, the plan marks the step
//! `catch_up_first`: before anyone installs it, every register is re-written (read and accepted
//! again) through the quorums of the configuration before it. [`check_plan`] checks a sequence
//! against exactly these rules, and [`plan`] returns only sequences it accepts.

use crate::{Configuration, MembershipError, NodeSet};

/// One step of a change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Step {
    /// The configuration the step installs.
    pub configuration: Configuration,
    /// Whether every register must be caught up in the previous generation (re-written through
    /// its quorums, at a ballot above every earlier one) before anyone installs this one.
    pub catch_up_first: bool,
}

/// The steps from `current` (stable) to a stable configuration of `target`, with majority
/// quorums: additions first (in id order), then removals, two steps each.
pub fn plan(current: Configuration, target: NodeSet) -> Result<Vec<Step>, MembershipError> {
    plan_since(&[current], target)
}

/// [`plan`] for a cluster that has changed before: `since` lists the configurations since the
/// last catch-up (or since generation 0), oldest first, ending with the current one. A value
/// chosen in any of them may still be some register's latest, so a step that misses any of them
/// is marked `catch_up_first` — two changes in a row (adding `d`, later removing `c`) need the
/// catch-up that one replacement would.
pub fn plan_since(since: &[Configuration], target: NodeSet) -> Result<Vec<Step>, MembershipError> {
    let Some(&current) = since.last() else {
        return Err(MembershipError::Empty);
    };
    if !current.is_stable() {
        return Err(MembershipError::ChangeInProgress(current.generation()));
    }
    if target.is_empty() {
        return Err(MembershipError::Empty);
    }
    if target == current.members() {
        return Err(MembershipError::NoChange);
    }
    let mut configurations = Vec::new();
    let mut last = current;
    for x in target.difference(current.members()).iter() {
        let grown = last.accept().union([x].into_iter().collect());
        let widen = Configuration::new(
            last.generation() + 1,
            last.prepare(),
            last.q1(),
            grown,
            last.q2() + 1,
        )?;
        last = Configuration::stable(widen.generation() + 1, grown)?;
        configurations.extend([widen, last]);
    }
    for x in current.members().difference(target).iter() {
        let shrunk = last.prepare().difference([x].into_iter().collect());
        let m = crate::majority(shrunk.len());
        // The smallest phase-2 quorum of `S` that every `m` members of `S \ {x}` meet: a
        // three-node cluster can drop a dead member with the other two alone.
        let q2 = last.accept().len() + 1 - m;
        let narrow = Configuration::new(last.generation() + 1, shrunk, m, last.accept(), q2)?;
        last = Configuration::stable(narrow.generation() + 1, shrunk)?;
        configurations.extend([narrow, last]);
    }
    let steps = mark_catch_ups(since, &configurations);
    check_plan_since(since, &steps)?;
    Ok(steps)
}

/// Marks the steps that need a catch-up first: those whose quorums miss a configuration since
/// the last catch-up other than the one right before them.
fn mark_catch_ups(since: &[Configuration], configurations: &[Configuration]) -> Vec<Step> {
    let mut since = since.to_vec();
    configurations
        .iter()
        .map(|&configuration| {
            let older = &since[..since.len() - 1];
            let catch_up_first = older.iter().any(|c| !c.meets(&configuration));
            if catch_up_first {
                since.drain(..since.len() - 1);
            }
            since.push(configuration);
            Step {
                configuration,
                catch_up_first,
            }
        })
        .collect()
}

/// Checks a sequence of steps from `current`: each is valid (its own quorums meet, checked at
/// construction), is the next generation, meets the step before it, and meets every
/// configuration since the last catch-up unless it has a catch-up first.
pub fn check_plan(current: Configuration, steps: &[Step]) -> Result<(), MembershipError> {
    check_plan_since(&[current], steps)
}

/// [`check_plan`] from the configurations since the last catch-up (`since`, oldest first,
/// ending with the current one; see [`plan_since`]).
pub fn check_plan_since(since: &[Configuration], steps: &[Step]) -> Result<(), MembershipError> {
    if since.is_empty() {
        return Err(MembershipError::Empty);
    }
    let mut since = since.to_vec();
    for step in steps {
        let next = step.configuration;
        let previous = since[since.len() - 1];
        previous.check_step(&next)?;
        if step.catch_up_first {
            since.drain(..since.len() - 1);
        } else if let Some(missed) = since.iter().find(|c| !c.meets(&next)) {
            return Err(MembershipError::CatchUpMissing {
                older: missed.generation(),
                newer: next.generation(),
            });
        }
        since.push(next);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    /// A step as (prepare ids, q1, accept ids, q2, catch-up first).
    type Row = (Vec<u8>, usize, Vec<u8>, usize, bool);

    fn sets(steps: &[Step]) -> Vec<Row> {
        steps
            .iter()
            .map(|s| {
                let c = s.configuration;
                let ids = |n: NodeSet| n.iter().map(|i| i.0).collect();
                (
                    ids(c.prepare()),
                    c.q1(),
                    ids(c.accept()),
                    c.q2(),
                    s.catch_up_first,
                )
            })
            .collect()
    }

    #[test]
    fn three_to_four_grows_the_accept_set_first() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let steps = plan(start, set(&[1, 2, 3, 4])).unwrap();
        assert_eq!(
            sets(&steps),
            vec![
                (vec![1, 2, 3], 2, vec![1, 2, 3, 4], 3, false),
                (vec![1, 2, 3, 4], 3, vec![1, 2, 3, 4], 3, false),
            ]
        );
        assert_eq!(steps[1].configuration.generation(), 2);
    }

    #[test]
    fn replacing_a_member_needs_a_catch_up_before_the_old_one_leaves() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let steps = plan(start, set(&[1, 2, 4])).unwrap();
        assert_eq!(
            sets(&steps),
            vec![
                (vec![1, 2, 3], 2, vec![1, 2, 3, 4], 3, false),
                (vec![1, 2, 3, 4], 3, vec![1, 2, 3, 4], 3, false),
                // {2,4} would miss a value chosen by {1,3} in generation 0.
                (vec![1, 2, 4], 2, vec![1, 2, 3, 4], 3, true),
                (vec![1, 2, 4], 2, vec![1, 2, 4], 2, false),
            ]
        );
        let mut skipped = steps.clone();
        skipped[2].catch_up_first = false;
        assert_eq!(
            check_plan(start, &skipped),
            Err(MembershipError::CatchUpMissing { older: 0, newer: 3 })
        );
    }

    #[test]
    fn two_changes_in_a_row_need_the_catch_up_one_replacement_would() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let add = plan(start, set(&[1, 2, 3, 4])).unwrap();
        let four = add[1].configuration;
        // Planned alone, removing 3 from the stable {1,2,3,4} needs nothing: majorities of four
        // and three members meet.
        let alone = plan(four, set(&[1, 2, 4])).unwrap();
        assert!(alone.iter().all(|s| !s.catch_up_first));
        // With the history since generation 0 it does: {2,4} misses {1,3}.
        let since = [start, add[0].configuration, four];
        let remove = plan_since(&since, set(&[1, 2, 4])).unwrap();
        assert_eq!(
            remove.iter().map(|s| s.catch_up_first).collect::<Vec<_>>(),
            [true, false]
        );
        assert_eq!(
            check_plan_since(&since, &alone),
            Err(MembershipError::CatchUpMissing { older: 0, newer: 3 })
        );
        assert_eq!(plan_since(&[], set(&[1])), Err(MembershipError::Empty));
    }

    #[test]
    fn a_dead_member_of_three_is_removed_by_the_other_two_alone() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let steps = plan(start, set(&[1, 2])).unwrap();
        assert_eq!(
            sets(&steps),
            vec![
                // {1,2} is a phase-2 quorum of {1,2,3} here: node 3 is not needed.
                (vec![1, 2], 2, vec![1, 2, 3], 2, false),
                (vec![1, 2], 2, vec![1, 2], 2, false),
            ]
        );
        // Five to four: three of five accept (every three of five meet every three of {1,2,3,4}).
        let five = Configuration::stable(0, set(&[1, 2, 3, 4, 5])).unwrap();
        let steps = plan(five, set(&[1, 2, 3, 4])).unwrap();
        assert_eq!(
            sets(&steps)[0],
            (vec![1, 2, 3, 4], 3, vec![1, 2, 3, 4, 5], 3, false)
        );
    }

    #[test]
    fn three_to_five_and_back() {
        let three = set(&[1, 2, 3]);
        let start = Configuration::stable(0, three).unwrap();
        let up = plan(start, set(&[1, 2, 3, 4, 5])).unwrap();
        assert_eq!(up.len(), 4);
        let five = up[3].configuration;
        assert_eq!((five.members().len(), five.q1(), five.q2()), (5, 3, 3));
        let down = plan(five, three).unwrap();
        assert_eq!(down.len(), 4);
        assert_eq!(down[3].configuration.members(), three);
        assert_eq!(down[3].configuration.generation(), 8);
    }

    #[test]
    fn a_plan_from_a_change_in_progress_or_to_nothing_is_refused() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let steps = plan(start, set(&[1, 2, 3, 4])).unwrap();
        assert_eq!(
            plan(steps[0].configuration, set(&[1, 2])),
            Err(MembershipError::ChangeInProgress(1))
        );
        assert_eq!(plan(start, NodeSet::EMPTY), Err(MembershipError::Empty));
        assert_eq!(plan(start, set(&[1, 2, 3])), Err(MembershipError::NoChange));
    }

    #[test]
    fn an_unsafe_step_in_a_plan_is_refused() {
        let start = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let jump = Step {
            configuration: Configuration::stable(1, set(&[1, 2, 4])).unwrap(),
            catch_up_first: true,
        };
        assert_eq!(
            check_plan(start, &[jump]),
            Err(MembershipError::UnsafeStep { older: 0, newer: 1 })
        );
    }
}
