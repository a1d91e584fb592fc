//! The cluster's membership as a register of its own: the value of the reserved key
//! [`MEMBERS_KEY`], changed only by compare-and-set through the current configuration, so two
//! operators (or two nodes running a change) can never install different generations `g + 1`
//! (docs/protocol.md, "What agrees on the configuration").
//!
//! The record holds the configuration the last step wrote, the configurations since the last
//! catch-up (what the next plan must meet, [`synod_core::plan_since`]), every member's peer
//! address, and the change in progress with its catch-up's progress, so that a change resumes
//! where it stopped after a crash. It is JSON, so an operator can read it
//! (`GET /v1/members` shows it).

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use synod_core::{Configuration, NodeId, NodeSet};

/// The reserved key the record lives under. Client requests on keys with the reserved prefix
/// [`RESERVED_PREFIX`] are refused.
pub const MEMBERS_KEY: &[u8] = b"\0synod/members";

/// Keys that start with this are the cluster's own.
pub const RESERVED_PREFIX: &[u8] = b"\0synod/";

/// Whether `key` is reserved for the cluster's own registers.
pub fn is_reserved(key: &[u8]) -> bool {
    key.starts_with(RESERVED_PREFIX)
}

/// The membership register's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembersRecord {
    /// The configuration of the last step written (installed on the nodes after the write).
    pub configuration: Configuration,
    /// The configurations since the last catch-up, oldest first, ending with `configuration`.
    pub since_catch_up: Vec<Configuration>,
    /// Every member's peer address (members of `configuration` at least).
    pub addresses: BTreeMap<NodeId, String>,
    /// The change in progress, if one is.
    pub change: Option<Change>,
}

/// A change in progress: where it goes, and how far its catch-up got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The members at the end.
    pub target: NodeSet,
    /// The catch-up under way, if the next step needs one.
    pub catch_up: Option<CatchUpProgress>,
}

/// How far a catch-up got: every key up to `after` (in key order) was re-written in
/// `generation`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpProgress {
    /// The generation the keys are re-written in.
    pub generation: u64,
    /// The last key done (every earlier key is done too); `None` before the first.
    pub after: Option<Vec<u8>>,
    /// Keys done.
    pub done: u64,
    /// Keys to do in all.
    pub total: u64,
}

impl MembersRecord {
    /// The record of a cluster that never changed: generation 0 and its peers' addresses.
    pub fn initial(configuration: Configuration, addresses: BTreeMap<NodeId, String>) -> Self {
        MembersRecord {
            configuration,
            since_catch_up: vec![configuration],
            addresses,
            change: None,
        }
    }

    /// The record's bytes (the register's value).
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("a members record serializes"))
    }

    /// The record in a register value; an error names what is wrong (a value that is not a
    /// record means the reserved key was written by something else).
    pub fn decode(value: &[u8]) -> Result<Self, String> {
        let record: MembersRecord = serde_json::from_slice(value)
            .map_err(|e| format!("the membership record does not decode: {e}"))?;
        record
            .configuration
            .checked()
            .map_err(|e| format!("the membership record's configuration is invalid: {e}"))?;
        if record.since_catch_up.last() != Some(&record.configuration) {
            return Err(
                "the membership record's history does not end with its configuration".into(),
            );
        }
        Ok(record)
    }

    /// The configuration's members with their addresses (`?` where none is recorded).
    pub fn members(&self) -> Vec<(NodeId, String)> {
        self.configuration
            .members()
            .iter()
            .map(|id| {
                let addr = self
                    .addresses
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| "?".into());
                (id, addr)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn a_record_round_trips_and_a_foreign_value_is_refused() {
        let c = Configuration::stable(0, set(&[1, 2, 3])).unwrap();
        let addresses = (1..=3)
            .map(|i| (NodeId(i), format!("127.0.0.1:700{i}")))
            .collect();
        let mut record = MembersRecord::initial(c, addresses);
        record.change = Some(Change {
            target: set(&[1, 2, 3, 4]),
            catch_up: Some(CatchUpProgress {
                generation: 2,
                after: Some(b"k17".to_vec()),
                done: 18,
                total: 40,
            }),
        });
        let bytes = record.encode();
        assert_eq!(MembersRecord::decode(&bytes), Ok(record.clone()));
        assert!(MembersRecord::decode(b"hello").is_err());
        let mut broken = record;
        broken.since_catch_up.clear();
        assert!(MembersRecord::decode(&broken.encode())
            .unwrap_err()
            .contains("history"));
        assert!(is_reserved(MEMBERS_KEY));
        assert!(!is_reserved(b"synod/members"));
    }
}
