//! A node's view of its cluster: who it is, who the members are, the quorum sizes and the
//! retry bound. Every check happens here, at construction, so a node never runs with an unsafe
//! or impossible configuration.
//!
//! The members and quorums a node counts votes by are those of its current [`Configuration`]:
//! generation 0 is the cluster's own (both sets the members), and a membership change installs
//! later ones ([`Config::installing`], docs/protocol.md).

use crate::{ClusterSpec, Configuration, NodeId, NodeSet, QuorumError, Quorums};
use serde::Serialize;
use thiserror::Error;

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

/// One node's configuration: its id in a validated [`ClusterSpec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Config {
    id: NodeId,
    cluster: ClusterSpec,
    configuration: Configuration,
}

impl Config {
    /// Node `id` of a cluster of `members`, with majority quorums and
    /// [`crate::DEFAULT_MAX_ATTEMPTS`].
    pub fn new(id: NodeId, members: impl IntoIterator<Item = NodeId>) -> Result<Self, ConfigError> {
        ClusterSpec::new(members)?.node(id)
    }

    /// Node `id` of `cluster` (see [`ClusterSpec::node`]).
    pub(crate) fn of(cluster: ClusterSpec, id: NodeId) -> Result<Self, ConfigError> {
        if !cluster.members().contains(id) {
            return Err(ConfigError::NotAMember(id));
        }
        Ok(Config {
            id,
            cluster,
            configuration: Configuration::initial(cluster.members(), cluster.quorums()),
        })
    }

    /// Node `id`, joining `cluster` in a later `configuration` whose sets it belongs to (the
    /// attempt bound and shortcuts are the cluster's).
    pub fn joining(
        cluster: ClusterSpec,
        id: NodeId,
        configuration: Configuration,
    ) -> Result<Self, ConfigError> {
        if !configuration.members().contains(id) {
            return Err(ConfigError::NotAMember(id));
        }
        Ok(Config {
            id,
            cluster,
            configuration,
        })
    }

    /// Node `id` of `cluster` as it starts again after installing `configuration` (read back
    /// from its disk): a member of it, a node that joined with it, or one it removed — a
    /// removed node keeps running as a proposer whose own acceptor no longer counts, so nothing
    /// about `id`'s place in the sets is required.
    pub fn installed(
        cluster: ClusterSpec,
        id: NodeId,
        configuration: Configuration,
    ) -> Result<Self, ConfigError> {
        if id.0 >= NodeId::LIMIT {
            return Err(ConfigError::IdOutOfRange(id));
        }
        Ok(Config {
            id,
            cluster,
            configuration,
        })
    }

    /// The same node under `configuration` (a newer generation, installed). The node need not
    /// be in its sets: a removed node keeps running as a proposer whose own acceptor no longer
    /// counts.
    pub fn installing(mut self, configuration: Configuration) -> Self {
        self.configuration = configuration;
        self
    }

    /// The same cluster with flexible quorums (`q1 + q2 > n` is checked).
    pub fn with_quorums(mut self, q1: usize, q2: usize) -> Result<Self, ConfigError> {
        self.cluster = self.cluster.with_quorums(q1, q2)?;
        self.configuration = Configuration::initial(self.cluster.members(), self.cluster.quorums());
        Ok(self)
    }

    /// The same cluster with at most `max_attempts` rounds per request.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Result<Self, ConfigError> {
        self.cluster = self.cluster.with_max_attempts(max_attempts)?;
        Ok(self)
    }

    /// The cluster this node belongs to.
    /// The same node with the cluster's proposers taking the shortcuts in `fast`.
    pub fn with_fast_paths(mut self, fast: crate::FastPaths) -> Self {
        self.cluster = self.cluster.with_fast_paths(fast);
        self
    }

    /// The cluster this node is a member of.
    pub fn cluster(&self) -> &ClusterSpec {
        &self.cluster
    }

    /// This node.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// All members of the current configuration (its prepare and accept sets), this node
    /// included unless it was removed.
    pub fn members(&self) -> NodeSet {
        self.configuration.members()
    }

    /// Quorum sizes of the current configuration.
    pub fn quorums(&self) -> Quorums {
        self.configuration.quorums()
    }

    /// The current configuration: its generation, sets and quorum sizes.
    pub fn configuration(&self) -> &Configuration {
        &self.configuration
    }

    /// Rounds per request.
    pub fn max_attempts(&self) -> u32 {
        self.cluster.max_attempts()
    }
}

#[cfg(feature = "model")]
impl crate::Relabel for Config {
    fn relabel(&self, map: &dyn Fn(NodeId) -> NodeId) -> Self {
        Config {
            id: map(self.id),
            cluster: self.cluster.relabel(map),
            configuration: self.configuration.relabel(map),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DEFAULT_MAX_ATTEMPTS;

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
