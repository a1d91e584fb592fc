//! The cluster every member must agree on: who the members are, the quorum sizes of both phases
//! and how many rounds a request may take. It is validated once, at construction (ids in range
//! and distinct, `q1 + q2 > n`, at least one round), so nothing downstream — a node's
//! [`crate::Config`], the server's replica, the model, a trace file — can describe an unsafe
//! cluster. The default quorums are majorities ([`crate::majority`]).

use crate::{majority, ConfigError, NodeId, NodeSet, Quorums};
use serde::Serialize;

/// Attempts per request unless configured otherwise (the pattern's "up to a few attempts").
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Members, quorums and attempt limit of one cluster (validated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ClusterSpec {
    members: NodeSet,
    quorums: Quorums,
    max_attempts: u32,
    fast: FastPaths,
}

/// Which one-round-trip shortcuts the proposers take (docs/protocol.md). Every acceptor answers
/// both whatever the setting; it only chooses what proposers send. Off by default: the core's
/// default is the classic two-phase round of the pattern; the server turns both on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct FastPaths {
    /// One-round-trip writes: every `Accept` carries the proposer's next ballot, and the next
    /// operation skips phase 1 while a phase-1 quorum has promised it.
    pub writes: bool,
    /// One-round-trip reads: a `Read` first asks a read quorum for their accepted proposal.
    pub reads: bool,
}

impl FastPaths {
    /// Classic rounds only.
    pub const NONE: FastPaths = FastPaths {
        writes: false,
        reads: false,
    };
    /// Both shortcuts.
    pub const ALL: FastPaths = FastPaths {
        writes: true,
        reads: true,
    };
}

impl ClusterSpec {
    /// A cluster of `members`, with majority quorums and [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(members: impl IntoIterator<Item = NodeId>) -> Result<Self, ConfigError> {
        let mut set = NodeSet::EMPTY;
        for m in members {
            if m.0 >= NodeId::LIMIT {
                return Err(ConfigError::IdOutOfRange(m));
            }
            if !set.insert(m) {
                return Err(ConfigError::DuplicateId(m));
            }
        }
        Ok(ClusterSpec {
            members: set,
            quorums: Quorums::majority(set.len())?,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            fast: FastPaths::NONE,
        })
    }

    /// The same cluster with flexible quorums (`q1 + q2 > n` is checked).
    pub fn with_quorums(mut self, q1: usize, q2: usize) -> Result<Self, ConfigError> {
        self.quorums = Quorums::flexible(self.members.len(), q1, q2)?;
        Ok(self)
    }

    #[cfg(feature = "model")]
    /// The same cluster with quorums that need not intersect ([`Quorums::unchecked`]):
    /// **unsafe**, for a model checker's demonstration of the quorum rule only.
    pub fn with_unsafe_quorums(mut self, q1: usize, q2: usize) -> Result<Self, ConfigError> {
        self.quorums = Quorums::unchecked(self.members.len(), q1, q2)?;
        Ok(self)
    }

    /// The same cluster with quorums `q1` and `q2`, each a majority when `None`.
    pub fn with_quorums_or_majority(
        self,
        q1: Option<usize>,
        q2: Option<usize>,
    ) -> Result<Self, ConfigError> {
        let m = majority(self.members.len());
        self.with_quorums(q1.unwrap_or(m), q2.unwrap_or(m))
    }

    /// The same cluster with at most `max_attempts` rounds per request.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Result<Self, ConfigError> {
        if max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        self.max_attempts = max_attempts;
        Ok(self)
    }

    /// The configuration of member `id`.
    pub fn node(&self, id: NodeId) -> Result<crate::Config, ConfigError> {
        crate::Config::of(*self, id)
    }

    /// All members.
    pub fn members(&self) -> NodeSet {
        self.members
    }

    /// Quorum sizes.
    pub fn quorums(&self) -> Quorums {
        self.quorums
    }

    /// Rounds per request.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The same cluster with proposers taking the shortcuts in `fast`.
    pub fn with_fast_paths(mut self, fast: FastPaths) -> Self {
        self.fast = fast;
        self
    }

    /// The shortcuts proposers take.
    pub fn fast_paths(&self) -> FastPaths {
        self.fast
    }
}

#[cfg(feature = "model")]
impl crate::Relabel for ClusterSpec {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        ClusterSpec {
            members: self.members.relabel(map),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_majorities_and_a_few_attempts() {
        let spec = ClusterSpec::new((1..=5).map(NodeId)).unwrap();
        assert_eq!((spec.quorums().q1(), spec.quorums().q2()), (3, 3));
        assert_eq!(spec.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        assert_eq!(
            spec.fast_paths(),
            FastPaths::NONE,
            "classic rounds unless asked"
        );
        assert_eq!(
            spec.with_fast_paths(FastPaths::ALL).fast_paths(),
            FastPaths::ALL
        );
        let flexible = spec.with_quorums_or_majority(Some(4), Some(2)).unwrap();
        assert_eq!((flexible.quorums().q1(), flexible.quorums().q2()), (4, 2));
        let one_sided = spec.with_quorums_or_majority(None, Some(2));
        assert!(
            one_sided.is_err(),
            "3 + 2 = 5 members: two quorums could miss each other"
        );
        assert_eq!(spec.with_max_attempts(0), Err(ConfigError::NoAttempts));
    }
}
