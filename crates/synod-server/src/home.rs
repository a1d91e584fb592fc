//! The home of a key: the one member that proposes for it while it is reachable.
//!
//! Any number of proposers is safe in Paxos, but two proposers on one key pre-empt each other,
//! and only a proposer that ran the key's previous write can skip phase 1 (the one-round-trip
//! write). So each key has a home, and a node forwards client requests for keys it is not home
//! for (`forward`); clients may send them to the home directly (`ClusterClient`).
//!
//! The home is chosen by **rendezvous hashing** (highest random weight) over the member ids:
//! every member `m` gets the weight
//!
//! `fmix64(fnv1a64([m] ‖ key))`
//!
//! — FNV-1a 64 (offset basis `0xcbf29ce484222325`, prime `0x100000001b3`) over the member id as
//! one byte followed by the key's bytes, then MurmurHash3's 64-bit finalizer so that every input
//! bit moves every weight bit — and the member with the highest weight (then the highest id, which
//! no real pair of weights needs) is the home. The function is fixed: every node and every
//! client, of every build, computes the same home, and a test pins its values. When a member
//! leaves the set, only its keys move.

use synod_core::{NodeId, NodeSet};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// FNV-1a, 64 bits, over `bytes` starting from `hash`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(FNV_PRIME);
    }
    hash
}

/// MurmurHash3's 64-bit finalizer.
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The weight of `member` for `key`.
pub fn weight(key: &[u8], member: NodeId) -> u64 {
    fmix64(fnv1a(fnv1a(FNV_OFFSET, &[member.0]), key))
}

/// The home of `key` among `members` (`None` only for an empty set).
pub fn home_of(key: &[u8], members: NodeSet) -> Option<NodeId> {
    members.iter().max_by_key(|&m| (weight(key, m), m.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ids: &[u8]) -> NodeSet {
        ids.iter().map(|&i| NodeId(i)).collect()
    }

    #[test]
    fn the_hash_is_pinned() {
        // FNV-1a 64's published test vectors.
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
        assert_eq!(weight(b"greeting", NodeId(1)), 0xd759_e4cd_bf0c_1fd0);
        // The homes of a few keys: a change here would make nodes of different builds disagree.
        let three = set(&[1, 2, 3]);
        let homes: Vec<u8> = ["greeting", "counter", "k0", "k1", "k2", "cluster-name"]
            .iter()
            .map(|k| home_of(k.as_bytes(), three).unwrap().0)
            .collect();
        assert_eq!(homes, PINNED_HOMES);
    }

    /// Computed independently (a few lines of Python over the formula in the module docs).
    const PINNED_HOMES: [u8; 6] = [1, 1, 2, 1, 2, 2];

    #[test]
    fn keys_spread_evenly_and_only_a_leaving_members_keys_move() {
        let three = set(&[1, 2, 3]);
        let two = set(&[1, 3]);
        let mut counts = [0u32; 4];
        for i in 0..30_000 {
            let key = format!("k{i}");
            let h = home_of(key.as_bytes(), three).unwrap();
            counts[usize::from(h.0)] += 1;
            let after = home_of(key.as_bytes(), two).unwrap();
            if h != NodeId(2) {
                assert_eq!(after, h, "{key} moved although its home stayed");
            }
        }
        for (id, &n) in counts.iter().enumerate().skip(1) {
            assert!(
                (9_000..11_000).contains(&n),
                "node {id} is home of {n} of 30000 keys"
            );
        }
        assert_eq!(home_of(b"k", NodeSet::default()), None);
        assert_eq!(home_of(b"k", set(&[7])), Some(NodeId(7)));
    }
}
