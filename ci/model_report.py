#!/usr/bin/env python3
"""Markdown of `synod-model --json` reports, for a CI job summary (docs/ci.md).

    python3 ci/model_report.py REPORT.json [...]     # prints Markdown to stdout

A `check` report becomes a verdict table (one row per check: verdict, states, depth, time, peak
memory), a table of every property that did not PASS, and each counterexample listing with its
trace file and the `synod-model explore` command that opens it. A `traces check` report becomes a
table of its trace files. The verdicts are copied, never upgraded: INCOMPLETE stays INCOMPLETE.
"""

import json
import sys

ICON = {"PASS": "✅", "FAIL": "❌", "INCOMPLETE": "⏳", "ERROR": "⚠️"}


def cell(text):
    """`text` made safe for one Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def megabytes(n):
    return "–" if n is None else f"{n / 1e6:,.0f} MB"


def check_markdown(report):
    out = [f"## Model check: {ICON.get(report['verdict'], '')} {report['verdict']}", ""]
    out += ["| check | verdict | unique states | total states | depth | time | peak RSS | command |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for c in report["checks"]:
        out.append(
            f"| {cell(c['name'])} | {ICON.get(c['verdict'], '')} {c['verdict']} "
            f"| {c['unique_states']:,} | {c['total_states']:,} | {c['depth']} "
            f"| {c['seconds']:.1f} s | {megabytes(c['peak_rss_bytes'])} | `{cell(c['command'])}` |")
    undecided = [(c, p) for c in report["checks"] for p in c["properties"] if p["verdict"] != "PASS"]
    if undecided:
        out += ["", "| check | property | kind | verdict | trace file |", "|---|---|---|---|---|"]
        for c, p in undecided:
            out.append(f"| {cell(c['name'])} | {cell(p['name'])} | {p['kind']} | {p['verdict']} "
                       f"| {cell(p['trace_file'] or '–')} |")
    else:
        passed = sum(len(c["properties"]) for c in report["checks"])
        out += ["", f"All {passed} properties PASS, every check exhaustive."]
    for c, p in undecided:
        if p["verdict"] != "FAIL" or not p["listing"]:
            continue
        out += ["", f"### Counterexample to '{p['name']}' ({c['name']})", ""]
        if p["trace_file"]:
            out.append(f"Trace file `{p['trace_file']}` (in the job's artifacts).")
        if p["explore_command"]:
            out.append(f"Open it in the Explorer: `{p['explore_command']}`, then {p['explore_url']}")
        out += ["", "```text", p["listing"].rstrip("\n"), "```"]
    return "\n".join(out) + "\n"


def traces_markdown(report):
    out = [f"## Trace check: {ICON.get(report['verdict'], '')} {report['verdict']}", "",
           "| trace file | verdict | steps | divergence or error |", "|---|---|---:|---|"]
    for t in report["traces"]:
        out.append(f"| `{cell(t['file'])}` | {t['verdict']} | {t['steps'] if t['steps'] is not None else '–'} "
                   f"| {cell(t['message'] or '')} |")
    return "\n".join(out) + "\n"


def markdown(report):
    """The Markdown of one report (either format)."""
    fmt = report.get("format", "")
    if fmt.startswith("synod-model-check/"):
        return check_markdown(report)
    if fmt.startswith("synod-model-traces-check/"):
        return traces_markdown(report)
    raise ValueError(f"not a synod-model report: format {fmt!r}")


def main(paths):
    if not paths:
        sys.exit("usage: model_report.py REPORT.json [...]")
    for path in paths:
        with open(path, encoding="utf-8") as f:
            sys.stdout.write(markdown(json.load(f)))


if __name__ == "__main__":
    main(sys.argv[1:])
