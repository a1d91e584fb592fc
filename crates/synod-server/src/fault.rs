//! Test-only bug switches, compiled only with the `fault-injection` feature (off by default),
//! so that the chaos test can show it catches a node that breaks its durability promise.
//!
//! `SYNOD_FAULT=forget-persist` in a node's environment makes [`crate::storage::Storage::commit`]
//! report success without writing anything: every promise and accept is answered at once but
//! never reaches the disk, so a SIGKILLed node restarts having forgotten them — the extreme
//! case of "replying to a prepare before the fsync".

use std::sync::OnceLock;

/// Whether storage commits are skipped (read once from `SYNOD_FAULT`).
pub fn forget_persist() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| {
        let on = std::env::var("SYNOD_FAULT").is_ok_and(|v| v == "forget-persist");
        if on {
            tracing::warn!("fault injection: storage commits are skipped (forget-persist)");
        }
        on
    })
}
