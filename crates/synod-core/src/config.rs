//! A node's view of its cluster: who it is, who the members are, the quorum sizes and the
//! retry bound. Every check happens here, at construction, so a node never runs with an unsafe
//! or impossible configuration.

use crate::{NodeId, NodeSet, QuorumError, Quorums};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Attempts per request unless configured otherwise (the seed's "up to a few attempts").
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

/// Why a configuration was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// A node id is at or above [`NodeId::LIMIT`].
    #[error("node id {0} is out of range (ids must be below {limit})", limit = NodeId::LIMIT)]
    IdOutOfRange(NodeId),
    /// The same id is listed twice.
    #[error("node id {0} is listed twice")]
    DuplicateId(NodeId),
    /// The node itself is not a member.
    #[error("node {0} is not a member of the cluster")]
    NotAMember(NodeId),
    /// Bad quorum sizes.
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    /// A request needs at least one attempt.
    #[error("max_attempts must be at least 1")]
    NoAttempts,
}

/// One node's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Config {
    id: NodeId,
    members: NodeSet,
    quorums: Quorums,
    max_attempts: u32,
}

impl Config {
    /// Node `id` of a cluster of `members`, with majority quorums and
    /// [`DEFAULT_MAX_ATTEMPTS`].
    pub fn new(id: NodeId, members: impl IntoIterator<Item = NodeId>) -> Result<Self, ConfigError> {
        let mut set = NodeSet::EMPTY;
        for m in members {
            if m.0 >= NodeId::LIMIT {
                return Err(ConfigError::IdOutOfRange(m));
            }
            if !set.insert(m) {
                return Err(ConfigError::DuplicateId(m));
            }
        }
        if !set.contains(id) {
            return Err(ConfigError::NotAMember(id));
        }
        Ok(Config {
            id,
            members: set,
            quorums: Quorums::majority(set.len())?,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        })
    }

    /// The same cluster with flexible quorums (`q1 + q2 > n` is checked).
    pub fn with_quorums(mut self, q1: usize, q2: usize) -> Result<Self, ConfigError> {
        self.quorums = Quorums::flexible(self.members.len(), q1, q2)?;
        Ok(self)
    }

    /// The same cluster with at most `max_attempts` rounds per request.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Result<Self, ConfigError> {
        if max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        self.max_attempts = max_attempts;
        Ok(self)
    }

    /// This node.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// All members, this node included.
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
}

impl crate::Relabel for Config {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Config {
            id: map(self.id),
            members: self.members.relabel(map),
            ..*self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8) -> impl Iterator<Item = NodeId> {
        (1..=n).map(NodeId)
    }

    #[test]
    fn valid_configurations() {
        let c = Config::new(NodeId(2), ids(5)).unwrap();
        assert_eq!((c.quorums().q1(), c.quorums().q2()), (3, 3));
        assert_eq!(c.max_attempts(), DEFAULT_MAX_ATTEMPTS);
        let c = c.with_quorums(4, 2).unwrap().with_max_attempts(7).unwrap();
        assert_eq!(
            (c.quorums().q1(), c.quorums().q2(), c.max_attempts()),
            (4, 2, 7)
        );
    }

    #[test]
    fn invalid_configurations_are_errors() {
        assert_eq!(
            Config::new(NodeId(9), ids(3)),
            Err(ConfigError::NotAMember(NodeId(9)))
        );
        assert_eq!(
            Config::new(NodeId(1), [NodeId(1), NodeId(1)]),
            Err(ConfigError::DuplicateId(NodeId(1)))
        );
        assert_eq!(
            Config::new(NodeId(1), [NodeId(1), NodeId(64)]),
            Err(ConfigError::IdOutOfRange(NodeId(64)))
        );
        let c = Config::new(NodeId(1), ids(4)).unwrap();
        assert!(matches!(
            c.with_quorums(2, 2),
            Err(ConfigError::Quorum(QuorumError::NoIntersection { .. }))
        ));
        assert_eq!(c.with_max_attempts(0), Err(ConfigError::NoAttempts));
    }
}
