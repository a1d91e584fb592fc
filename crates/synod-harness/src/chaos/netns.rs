//! Real partitions for the chaos run: every node in a network namespace of its own, packets
//! between them dropped by the kernel.
//!
//! The run creates, and removes at the end, namespaces named `synod-<pid>-…`: a hub holding a
//! bridge, one namespace per node (`…-n1`, …) and one for the clients (`…-c`), each joined to
//! the bridge by a veth pair. Addresses come from `10.213.0.0/24` and exist only inside these
//! namespaces (node `i` is `10.213.0.i`, the clients `10.213.0.100`); nothing is added to the
//! namespace the harness was started in. The nodes run under `ip netns exec` (which `exec`s, so
//! signals reach the node itself); the harness's own client sockets are opened from threads
//! that joined the client namespace ([`enter`]).
//!
//! A cut link `i → j` is a `blackhole` route to `j` in `i`'s namespace: the kernel silently
//! discards every packet `i` sends to `j` — no reset, no refusal — so the transport meets real
//! packet loss and finds out through its own timeouts. Only `ip` (iproute2) is needed: no
//! firewall tables, no traffic-control modules (the kernel here has no `netem`).

use anyhow::{bail, Context};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use synod_server::cli::NodeCommand;

/// The namespaces of one chaos run; dropping it removes them.
#[derive(Debug)]
pub struct Namespaces {
    prefix: String,
    nodes: u8,
    blocked: Mutex<BTreeSet<(u8, u8)>>,
    cuts: AtomicU64,
}

/// The client namespace's address.
const CLIENT_HOST: u8 = 100;

/// Runs `ip` with `args`; fails with its stderr.
fn ip(args: &[&str]) -> anyhow::Result<()> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .context("running `ip` (iproute2) — is it installed?")?;
    if !output.status.success() {
        bail!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

impl Namespaces {
    /// Creates the hub, `nodes` node namespaces and the client namespace, all linked and up.
    /// Fails with a clear error where namespaces are not permitted (not root, no CAP_SYS_ADMIN
    /// and CAP_NET_ADMIN, no `ip`).
    pub fn create(nodes: u8) -> anyhow::Result<Namespaces> {
        let ns = Namespaces {
            prefix: format!("synod-{}", std::process::id()),
            nodes,
            blocked: Mutex::default(),
            cuts: AtomicU64::new(0),
        };
        ns.build().context(
            "network namespaces are not available here (the run needs root or CAP_SYS_ADMIN + CAP_NET_ADMIN, and iproute2's `ip`)",
        )?;
        Ok(ns)
    }

    fn build(&self) -> anyhow::Result<()> {
        let hub = self.name("hub");
        ip(&["netns", "add", &hub])?;
        ip(&["-n", &hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &hub, "link", "set", "br0", "up"])?;
        let members = (1..=self.nodes)
            .map(|i| (format!("n{i}"), i))
            .chain([("c".to_owned(), CLIENT_HOST)]);
        for (name, host) in members {
            let ns = self.name(&name);
            ip(&["netns", "add", &ns])?;
            ip(&[
                "-n", &hub, "link", "add", &name, "type", "veth", "peer", "name", "eth0", "netns",
                &ns,
            ])?;
            ip(&["-n", &hub, "link", "set", &name, "master", "br0", "up"])?;
            let addr = format!("{}/24", Self::host(host));
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        }
        Ok(())
    }

    fn name(&self, member: &str) -> String {
        format!("{}-{member}", self.prefix)
    }

    fn host(host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, 0, host)
    }

    /// Node `id`'s address, inside its namespace.
    pub fn node_addr(&self, id: u8) -> Ipv4Addr {
        Self::host(id)
    }

    /// `node` run inside node `id`'s namespace.
    pub fn wrap(&self, id: u8, node: &NodeCommand) -> NodeCommand {
        let mut args: Vec<std::ffi::OsString> = vec![
            "netns".into(),
            "exec".into(),
            self.name(&format!("n{id}")).into(),
            node.program.clone().into(),
        ];
        args.extend(node.args.iter().cloned());
        NodeCommand {
            program: PathBuf::from("ip"),
            args,
        }
    }

    /// The client namespace, for [`enter`].
    pub fn client_path(&self) -> PathBuf {
        PathBuf::from(format!("/run/netns/{}", self.name("c")))
    }

    /// Drops every packet node `from` sends to node `to` (a blackhole route in `from`'s
    /// namespace).
    pub fn block(&self, from: u8, to: u8) -> anyhow::Result<()> {
        let ns = self.name(&format!("n{from}"));
        let dst = format!("{}/32", self.node_addr(to));
        ip(&["-n", &ns, "route", "replace", "blackhole", &dst])?;
        self.blocked().insert((from, to));
        self.cuts.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// How many times a link was cut.
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Relaxed)
    }

    fn blocked(&self) -> std::sync::MutexGuard<'_, BTreeSet<(u8, u8)>> {
        self.blocked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Removes every blackhole route.
    pub fn heal(&self) -> anyhow::Result<()> {
        let blocked = std::mem::take(&mut *self.blocked());
        for (from, to) in blocked {
            let ns = self.name(&format!("n{from}"));
            let dst = format!("{}/32", self.node_addr(to));
            ip(&["-n", &ns, "route", "del", "blackhole", &dst])?;
        }
        Ok(())
    }
}

/// Moves the calling thread into the network namespace at `path` (for a runtime's threads:
/// sockets opened on the thread then live there).
pub fn enter(path: &Path) -> anyhow::Result<()> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("joining the network namespace {}", path.display()))
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        // Deleting a namespace deletes its end of each veth pair, and with it the other end.
        let members = (1..=self.nodes)
            .map(|i| format!("n{i}"))
            .chain(["c".to_owned(), "hub".to_owned()]);
        for member in members {
            let _ = ip(&["netns", "del", &self.name(&member)]);
        }
    }
}
