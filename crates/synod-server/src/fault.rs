//! The node's one test seam, compiled only with the `fault-injection` cargo feature (off by
//! default): bug switches that let the chaos run show it catches a node breaking its durability
//! promise.
//!
//! `SYNOD_FAULT` in a node's environment makes [`crate::storage::Storage::commit`] report success
//! without writing anything:
//!
//! * `forget-persist` — on every commit: every promise and accept is answered at once but never
//!   reaches the disk, so a SIGKILLed node restarts having forgotten them — the extreme case of
//!   "replying to a prepare before the fsync";
//! * `forget-some-persists` — on one commit in ten, at random: a key's state is lost only if the
//!   node is killed before its next commit of that key, so only some kills lose anything — a
//!   rarer bug, for measuring how often a test run catches one.
//!
//! Only `synod-harness` enables the feature (in its dependency on this crate), and its chaos run
//! starts the nodes from its own binary (`synod-harness node`, the same entry point as
//! `synod serve`), so the switch is always there when the harness needs it. The `synod` binary
//! built on its own (`cargo build -p synod-server`, `cargo install`) never has it; built in the
//! same cargo invocation as the harness (`cargo build --workspace`), cargo's feature unification
//! compiles it in, still inert unless `SYNOD_FAULT` is set.

use rand::Rng;
use std::sync::OnceLock;

/// The share of commits skipped, read once from `SYNOD_FAULT` (0 = none).
fn skipped_share() -> f64 {
    static SHARE: OnceLock<f64> = OnceLock::new();
    *SHARE.get_or_init(|| {
        let share = match std::env::var("SYNOD_FAULT").as_deref() {
            Ok("forget-persist") => 1.0,
            Ok("forget-some-persists") => 0.1,
            _ => 0.0,
        };
        if share > 0.0 {
            tracing::warn!("fault injection: {share} of storage commits are skipped");
        }
        share
    })
}

/// Whether this storage commit is skipped.
pub fn forget_persist() -> bool {
    let share = skipped_share();
    share >= 1.0 || share > 0.0 && rand::thread_rng().gen_bool(share)
}
