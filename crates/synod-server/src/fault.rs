//! The node's one test seam, compiled only with the `fault-injection` cargo feature (off by
//! default): a bug switch that lets the chaos run show it catches a node breaking its durability
//! promise.
//!
//! `SYNOD_FAULT=forget-persist` in a node's environment makes [`crate::storage::Storage::commit`]
//! report success without writing anything: every promise and accept is answered at once but
//! never reaches the disk, so a SIGKILLed node restarts having forgotten them — the extreme
//! case of "replying to a prepare before the fsync".
//!
//! Only `synod-harness` enables the feature (in its dependency on this crate), and its chaos run
//! starts the nodes from its own binary (`synod-harness node`, the same entry point as
//! `synod serve`), so the switch is always there when the harness needs it. The `synod` binary
//! built on its own (`cargo build -p synod-server`, `cargo install`) never has it; built in the
//! same cargo invocation as the harness (`cargo build --workspace`), cargo's feature unification
//! compiles it in, still inert unless `SYNOD_FAULT` is set.

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
