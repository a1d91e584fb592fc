#!/usr/bin/env python3
"""Detection rates of the chaos run: over many short seeds of each injected bug, the share of
runs the checks convict, per key kind, with the old workload ("before") and the new one
("after"). The numbers in docs/testing.md ("Detection rates") come from this script.

    cargo build --release -p synod-harness
    python3 crates/synod-harness/detection-rates.py --seeds 20 --secs 6

A run is convicted on a key kind when some key of that kind is not linearizable (or, for append
keys, when the direct append check reports an anomaly). A convicted run of a correct node would
be a bug of the node or of the checks: the script also runs `--bug none` to show there are none.
"""

import argparse
import re
import subprocess
import sys
import tempfile

# The workload before issue 17: real deletes, no settling of unknowns, short timeouts, no
# append keys. The nemesis is the same in both (no pauses), so only the workload differs.
WORKLOADS = {
    "before": ["--append-keys=0", "--deletes=empty", "--resolve=false",
               "--client-timeout-ms=3000", "--request-timeout-ms=1000", "--pauses=false"],
    "after": ["--pauses=false"],
}
KINDS = ["register", "once", "append"]
KEY_LINE = re.compile(r"^  key (\S+) \((\w+)\): \d+ operations, NOT LINEARIZABLE")
ANOMALY_LINE = re.compile(r"^  key (a\S*): (lost append|element|lists)")
SUMMARY = re.compile(r"\(ok (\d+), fail (\d+), unknown (\d+)\)")


def run(binary, bug, flags, seed, secs, nodes):
    with tempfile.TemporaryDirectory() as tmp:
        args = [binary, "chaos", f"--nodes={nodes}", "--clients=8", f"--duration-secs={secs}",
                f"--seed={seed}", f"--data-root={tmp}/data", f"--history={tmp}/h.jsonl", *flags]
        if bug != "none":
            args.append(f"--inject={bug}")
        out = subprocess.run(args, capture_output=True, text=True,
                             env={"SYNOD_LOG": "error", "PATH": "/usr/sbin:/usr/bin:/bin"})
    kinds, ops, unknown = set(), 0, 0
    for line in out.stdout.splitlines():
        if m := KEY_LINE.match(line):
            kinds.add(m.group(2))
        if ANOMALY_LINE.match(line):
            kinds.add("append")
        if m := SUMMARY.search(line):
            ok, fail, unknown = map(int, m.groups())
            ops = ok + fail + unknown
    if ops == 0:
        sys.exit(f"seed {seed}: no report\n{out.stdout}\n{out.stderr}")
    return kinds, ops, unknown


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--binary", default="target/release/synod-harness")
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--first-seed", type=int, default=1)
    p.add_argument("--secs", type=int, default=6)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--bug", action="append",
                   help="forget-persist, forget-some-persists or none (repeatable; default: both bugs)")
    a = p.parse_args()
    bugs = a.bug or ["forget-persist", "forget-some-persists"]
    print("| bug | workload | runs | convicted | register | once | append | unknown ops |")
    print("|---|---|---|---|---|---|---|---|")
    for bug in bugs:
        for name, flags in WORKLOADS.items():
            convicted = {k: 0 for k in KINDS + ["any"]}
            ops = unknown = 0
            for seed in range(a.first_seed, a.first_seed + a.seeds):
                kinds, n, u = run(a.binary, bug, flags, seed, a.secs, a.nodes)
                ops, unknown = ops + n, unknown + u
                for k in kinds:
                    convicted[k] += 1
                convicted["any"] += bool(kinds)
                print(f"  {bug} {name} seed {seed}: {sorted(kinds) or 'passed'}", file=sys.stderr)
            cells = [f"{convicted[k]}/{a.seeds}" if k != "append" or name == "after" else "—"
                     for k in ["any"] + KINDS]
            print(f"| {bug} | {name} | {a.seeds} | " + " | ".join(cells)
                  + f" | {100 * unknown / max(ops, 1):.1f} % of {ops} |", flush=True)


if __name__ == "__main__":
    main()
