//! Nodes that die with their launcher. `synod cluster` (and `synod-harness bench --cluster`)
//! start nodes as child processes; if the launcher is killed with SIGKILL it cannot stop them,
//! and a process group does not help either (nobody is left to signal it). So a launcher names
//! itself in the child's environment ([`PARENT_PID_ENV`]), and a node started that way asks the
//! kernel for SIGKILL when its parent dies (Linux `PR_SET_PDEATHSIG`), then checks that the
//! parent is still the launcher — if the launcher died before that request, the node exits at
//! once instead of running orphaned.
//!
//! The kernel sends the signal when the *thread* that spawned the child exits; the launchers
//! spawn from threads that live as long as the process (the main thread, or tokio workers).

use anyhow::bail;

/// The environment variable a launcher sets to its own pid in each node it starts.
pub const PARENT_PID_ENV: &str = "SYNOD_PARENT_PID";

/// The environment entry that makes a child node die with this process.
pub fn env_for_child() -> (&'static str, String) {
    (PARENT_PID_ENV, std::process::id().to_string())
}

/// If this process was started by a launcher (see the module docs), arranges to be killed when
/// the launcher dies, and fails if it already has.
pub fn die_with_launcher() -> anyhow::Result<()> {
    let Some(value) = std::env::var_os(PARENT_PID_ENV) else {
        return Ok(());
    };
    let Some(launcher) = value.to_str().and_then(|v| v.parse::<i32>().ok()) else {
        bail!(
            "{PARENT_PID_ENV} must be a process id, not \"{}\"",
            value.to_string_lossy()
        );
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)
        .map_err(|e| anyhow::anyhow!("cannot ask to die with the launcher: {e}"))?;
    let parent = nix::unistd::getppid().as_raw();
    if parent != launcher {
        bail!("the launcher (pid {launcher}) is gone: not starting a node it cannot stop");
    }
    Ok(())
}
