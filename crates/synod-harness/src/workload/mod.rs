//! The fault harnesses' client workload: random operations on a few hot keys.
//!
//! Three kinds of keys ([`KeyKind`]). **Register keys** (`r0`, `r1`, …) take `get`, `put`, `cas`
//! and `delete`; **once keys** (`once0`, …) take `propose-once` and `get` only — the seed's
//! single-decree protocol, whose agreement the simulation also checks with the ghost oracle;
//! **append keys** (`a0.0`, …, chaos runs only) hold lists that clients grow by a `cas` loop
//! appending one unique element per attempt ([`synod_check::append`]). (`propose-once` stays off
//! register keys so that every once key is a classic single-decree register the oracle can
//! judge. On a key that is also deleted or overwritten, a retried `propose-once` takes effect
//! once or not at all — never twice — but may answer `indeterminate`, as docs/protocol.md
//! explains.)
//!
//! Every written value is unique (`client.sequence`), so a read pins down which write it saw.
//! A `cas` expects the value its client last saw on the key, so many of them succeed. With
//! [`Deletes::Tombstone`] a delete is written as a `put` of a unique tombstone (`del.3.17`), so
//! that a lost write can no longer hide behind a delete of unknown fate: every real delete
//! leaves the same empty value, which explains any later empty read.
//!
//! An append key holds at most [`MAX_LIST`] elements; a client that sees it full moves to the
//! next generation of the slot (`a0.0`, then `a0.1`, …), so values and histories stay small.

pub mod resolve;

use rand::Rng;
use std::collections::BTreeMap;
use synod_check::append;
use synod_check::history::{OpKind, Output, Record, RecordStatus};

/// The keys and the mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WorkloadConfig {
    /// Register keys (`r0`…).
    pub register_keys: usize,
    /// Once keys (`once0`…).
    pub once_keys: usize,
}

/// How a register key's delete is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Deletes {
    /// A real `delete`: the key becomes empty, as after every other delete.
    #[default]
    Empty,
    /// A `put` of a unique tombstone value (`del.<client>.<sequence>`).
    Tombstone,
}

/// The whole mix: the keys of [`WorkloadConfig`] and the chaos run's additions (a
/// `WorkloadConfig` alone is the mix without them, as the simulation runs it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mix {
    /// Register and once keys.
    pub keys: WorkloadConfig,
    /// Append slots (`a0.<generation>`…).
    pub append_keys: usize,
    /// How register keys are deleted.
    pub deletes: Deletes,
}

impl From<WorkloadConfig> for Mix {
    fn from(keys: WorkloadConfig) -> Self {
        Mix {
            keys,
            ..Mix::default()
        }
    }
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            register_keys: 3,
            once_keys: 1,
        }
    }
}

/// The most elements an append key holds before clients move to the slot's next generation.
pub const MAX_LIST: usize = 100;

/// The kind of a key, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// `r…`: get, put, cas, delete.
    Register,
    /// `once…`: propose-once, get.
    Once,
    /// `a…`: append by cas, get.
    Append,
}

impl KeyKind {
    /// The kind of `key`.
    pub fn of(key: &str) -> KeyKind {
        if key.starts_with("once") {
            KeyKind::Once
        } else if key.starts_with('a') {
            KeyKind::Append
        } else {
            KeyKind::Register
        }
    }

    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Register => "register",
            KeyKind::Once => "once",
            KeyKind::Append => "append",
        }
    }
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

/// One client's generator: its sequence number, what it last saw per key, each append slot's
/// generation, and the append key whose `cas` loop it is in.
#[derive(Clone, Debug)]
pub struct ClientWorkload {
    mix: Mix,
    client: u64,
    sequence: u64,
    last_seen: BTreeMap<String, Option<String>>,
    generations: Vec<u64>,
    appending: Option<String>,
}

impl ClientWorkload {
    /// The generator of client `client`.
    pub fn new(mix: impl Into<Mix>, client: u64) -> Self {
        let mix = mix.into();
        ClientWorkload {
            mix,
            client,
            sequence: 0,
            last_seen: BTreeMap::new(),
            generations: vec![0; mix.append_keys],
            appending: None,
        }
    }

    /// The workload's keys (of append slots, the first generation only).
    pub fn keys(mix: impl Into<Mix>) -> Vec<String> {
        let mix = mix.into();
        (0..mix.keys.register_keys)
            .map(|i| format!("r{i}"))
            .chain((0..mix.keys.once_keys).map(|i| format!("once{i}")))
            .chain((0..mix.append_keys).map(|i| format!("a{i}.0")))
            .collect()
    }

    fn fresh_value(&mut self) -> String {
        self.sequence += 1;
        format!("{}.{}", self.client, self.sequence)
    }

    /// The next operation.
    pub fn next(&mut self, rng: &mut impl Rng) -> Planned {
        if let Some(key) = self.appending.take() {
            return self.append(key);
        }
        let keys = self.mix.keys;
        if self.mix.append_keys > 0
            && (keys.register_keys + keys.once_keys == 0 || rng.gen_bool(0.3))
        {
            let slot = rng.gen_range(0..self.mix.append_keys);
            let key = self.append_key(slot);
            return if rng.gen_bool(0.25) {
                self.read(key)
            } else {
                self.append(key)
            };
        }
        let once = keys.once_keys > 0 && (keys.register_keys == 0 || rng.gen_bool(0.25));
        if once {
            let key = format!("once{}", rng.gen_range(0..keys.once_keys));
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
        let key = format!("r{}", rng.gen_range(0..keys.register_keys));
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
            _ => match self.mix.deletes {
                Deletes::Empty => Planned {
                    key,
                    op: OpKind::Delete,
                    value: None,
                    expected: None,
                },
                Deletes::Tombstone => Planned {
                    key,
                    op: OpKind::Put,
                    value: Some(format!("del.{}", self.fresh_value())),
                    expected: None,
                },
            },
        }
    }

    /// The key of append slot `slot` this client is on: the next generation once it saw the
    /// current one full.
    fn append_key(&mut self, slot: usize) -> String {
        loop {
            let key = format!("a{slot}.{}", self.generations[slot]);
            let seen = self.last_seen.get(&key).cloned().flatten();
            if append::elements(seen.as_deref()).len() < MAX_LIST {
                return key;
            }
            self.generations[slot] += 1;
        }
    }

    /// One attempt of the append loop on `key`: a `cas` from the list last seen to that list
    /// with a fresh element.
    fn append(&mut self, key: String) -> Planned {
        let expected = self.last_seen.get(&key).cloned().flatten();
        let element = self.fresh_value();
        Planned {
            value: Some(append::appended(expected.as_deref(), &element)),
            key,
            op: OpKind::Cas,
            expected,
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
        // The append loop: a mismatch is retried at once from the list it revealed, unless the
        // key is full.
        if KeyKind::of(&planned.key) == KeyKind::Append
            && matches!(output, Output::CasMismatch { .. })
            && append::elements(now.as_deref()).len() < MAX_LIST
        {
            self.appending = Some(planned.key.clone());
        }
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

    #[test]
    fn appends_loop_on_a_mismatch_grow_by_one_element_and_move_on_when_full() {
        let mix = Mix {
            keys: WorkloadConfig {
                register_keys: 1,
                once_keys: 0,
            },
            append_keys: 1,
            deletes: Deletes::Tombstone,
        };
        assert_eq!(ClientWorkload::keys(mix), ["r0", "a0.0"]);
        let mut w = ClientWorkload::new(mix, 2);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let ops: Vec<Planned> = (0..400).map(|_| w.next(&mut rng)).collect();
        assert!(
            ops.iter().all(|p| p.op != OpKind::Delete),
            "tombstones only"
        );
        assert!(ops
            .iter()
            .any(|p| p.op == OpKind::Put && p.value.as_deref().unwrap().starts_with("del.")));
        let first = ops.iter().find(|p| p.key == "a0.0").unwrap().clone();
        let first = if first.op == OpKind::Cas {
            first
        } else {
            w.append("a0.0".into())
        };
        assert_eq!(first.op, OpKind::Cas);
        // A mismatch: the next operation retries on the same key from the revealed list.
        let current = "9.1 9.2".to_owned();
        w.observe(
            &first,
            &Output::CasMismatch {
                current: Some(current.clone()),
            },
        );
        let retry = w.next(&mut rng);
        assert_eq!((retry.key.as_str(), retry.op), ("a0.0", OpKind::Cas));
        assert_eq!(retry.expected.as_deref(), Some(current.as_str()));
        let elements = append::elements(retry.value.as_deref());
        assert_eq!(elements.len(), 3);
        assert_eq!(elements[..2], ["9.1", "9.2"]);
        // A full list sends the client to the slot's next generation.
        let full: Vec<String> = (0..MAX_LIST).map(|i| format!("8.{i}")).collect();
        w.observe(
            &w.read("a0.0".into()),
            &Output::Read {
                value: Some(full.join(" ")),
            },
        );
        assert_eq!(w.append_key(0), "a0.1");
        assert_eq!(KeyKind::of("a0.1"), KeyKind::Append);
        assert_eq!(KeyKind::of("once0"), KeyKind::Once);
        assert_eq!(KeyKind::of("r2"), KeyKind::Register);
    }
}
