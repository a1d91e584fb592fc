//! The fault harnesses' client workload: random operations on a few hot keys.
//!
//! Two kinds of keys. **Register keys** (`r0`, `r1`, …) take `get`, `put`, `cas` and `delete`;
//! **once keys** (`once0`, …) take `propose-once` and `get` only — the seed's single-decree
//! protocol, whose agreement the simulation also checks with the ghost oracle. (`propose-once`
//! stays off register keys so that every once key is a classic single-decree register the
//! oracle can judge. On a key that is also deleted or overwritten, a retried `propose-once` takes
//! effect once or not at all — never twice — but may answer `indeterminate`, as
//! docs/protocol.md explains.)
//!
//! Every written value is unique (`client.sequence`), so a read pins down which write it saw.
//! A `cas` expects the value its client last saw on the key, so many of them succeed.

use rand::Rng;
use std::collections::BTreeMap;
use synod_check::history::{OpKind, Output, Record, RecordStatus};

/// The keys and the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Register keys (`r0`…).
    pub register_keys: usize,
    /// Once keys (`once0`…).
    pub once_keys: usize,
}

/// One operation a client is about to invoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The key.
    pub key: String,
    /// The operation.
    pub op: OpKind,
    /// The value written (put, propose-once) or the new value (cas).
    pub value: Option<String>,
    /// cas only: the expected value.
    pub expected: Option<String>,
}

impl Planned {
    /// The history record of this operation, called at `call`, ended at `ret` with `status`
    /// (and `output` when `ok`).
    pub fn record(
        &self,
        client: u64,
        call: u64,
        ret: u64,
        status: RecordStatus,
        output: Option<Output>,
    ) -> Record {
        Record {
            client,
            op: self.op,
            key: self.key.clone(),
            value: self.value.clone(),
            expected: self.expected.clone(),
            output,
            call,
            ret,
            status,
        }
    }
}

/// One client's generator: its sequence number and what it last saw per key.
#[derive(Clone, Debug)]
pub struct ClientWorkload {
    config: WorkloadConfig,
    client: u64,
    sequence: u64,
    last_seen: BTreeMap<String, Option<String>>,
}

impl ClientWorkload {
    /// The generator of client `client`.
    pub fn new(config: WorkloadConfig, client: u64) -> Self {
        ClientWorkload {
            config,
            client,
            sequence: 0,
            last_seen: BTreeMap::new(),
        }
    }

    /// Every key of the workload.
    pub fn keys(config: WorkloadConfig) -> Vec<String> {
        (0..config.register_keys)
            .map(|i| format!("r{i}"))
            .chain((0..config.once_keys).map(|i| format!("once{i}")))
            .collect()
    }

    fn fresh_value(&mut self) -> String {
        self.sequence += 1;
        format!("{}.{}", self.client, self.sequence)
    }

    /// The next operation.
    pub fn next(&mut self, rng: &mut impl Rng) -> Planned {
        let once =
            self.config.once_keys > 0 && (self.config.register_keys == 0 || rng.gen_bool(0.25));
        if once {
            let key = format!("once{}", rng.gen_range(0..self.config.once_keys));
            return if rng.gen_bool(0.7) {
                Planned {
                    key,
                    op: OpKind::ProposeOnce,
                    value: Some(self.fresh_value()),
                    expected: None,
                }
            } else {
                self.read(key)
            };
        }
        let key = format!("r{}", rng.gen_range(0..self.config.register_keys));
        match rng.gen_range(0..100) {
            0..=24 => self.read(key),
            25..=54 => Planned {
                key,
                op: OpKind::Put,
                value: Some(self.fresh_value()),
                expected: None,
            },
            55..=89 => {
                let expected = self.last_seen.get(&key).cloned().flatten();
                Planned {
                    key,
                    op: OpKind::Cas,
                    value: Some(self.fresh_value()),
                    expected,
                }
            }
            _ => Planned {
                key,
                op: OpKind::Delete,
                value: None,
                expected: None,
            },
        }
    }

    /// A read of `key`.
    pub fn read(&self, key: String) -> Planned {
        Planned {
            key,
            op: OpKind::Get,
            value: None,
            expected: None,
        }
    }

    /// Remembers what an operation on `key` revealed about its value.
    pub fn observe(&mut self, planned: &Planned, output: &Output) {
        let now = match output {
            Output::Read { value } => value.clone(),
            Output::Written { .. } => planned.value.clone(),
            Output::CasMismatch { current } => current.clone(),
            Output::Chosen { value, .. } => Some(value.clone()),
        };
        self.last_seen.insert(planned.key.clone(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn values_are_unique_and_propose_once_stays_on_once_keys() {
        let config = WorkloadConfig {
            register_keys: 2,
            once_keys: 1,
        };
        let mut w = ClientWorkload::new(config, 7);
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let ops: Vec<Planned> = (0..500).map(|_| w.next(&mut rng)).collect();
        let values: Vec<&String> = ops.iter().filter_map(|p| p.value.as_ref()).collect();
        let distinct: std::collections::BTreeSet<_> = values.iter().collect();
        assert_eq!(distinct.len(), values.len());
        for p in &ops {
            let once = p.key.starts_with("once");
            assert!(matches!(p.op, OpKind::ProposeOnce | OpKind::Get) || !once);
            assert!(p.op != OpKind::ProposeOnce || once);
        }
        for kind in OpKind::ALL {
            assert!(ops.iter().any(|p| p.op == kind), "{kind:?} is generated");
        }
        assert_eq!(ClientWorkload::keys(config), ["r0", "r1", "once0"]);
    }
}
