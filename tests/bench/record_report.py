#!/usr/bin/env python3
"""Writes the "Session recording" section of docs/benchmarks.md from `scripts/bench record`'s
http-load results: proxy CPU per request and latency, record: none vs metadata vs full, bytes
stored and recordings dropped."""
import json
import statistics
import sys

runs, recorder = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("mode") == "recorder":
        recorder[r["label"]] = r
    elif r.get("workload") != "warmup":
        runs.setdefault((r["workload"], r["label"]), []).append(r)


def med(rs, f):
    return statistics.median(f(r) for r in rs)


labels = ["none", "metadata", "full"]
if any(label.startswith("before-") for (_, label) in runs):
    labels += ["before-none", "before-full"]
print(f"{len(labels)} sluiceds in turn, {sys.argv[2]} rounds of {sys.argv[3]} s per row (medians); "
      "their policy's one rule")
print("differs only in `record`" + (" (`before-*`: an older build, RECORD_BEFORE_SLUICED)"
                                    if len(labels) > 3 else "") +
      ". Proxy CPU is sluiced's whole process (every thread).")
print("Measured by `scripts/bench record`.")
print()
print("| workload | record | req/s | µs proxy CPU / request | p50 latency µs | p99 latency µs |")
print("|---|---|---|---|---|---|")
workloads = []
for (w, _) in runs:
    if w not in workloads:
        workloads.append(w)
added = {}
for w in workloads:
    cpu = {}
    for label in labels:
        rs = runs.get((w, label), [])
        if not rs:
            continue
        cpu[label] = med(rs, lambda r: 1e6 * r["proxy_cpu_s"] / max(r["completed"], 1))
        print(f"| {w} | {label} | {med(rs, lambda r: r['rps']):.0f} | {cpu[label]:.1f} | "
              f"{med(rs, lambda r: r['latency']['p50_us']):.0f} | "
              f"{med(rs, lambda r: r['latency']['p99_us']):.0f} |")
    for label in ("metadata", "full", "before-full"):
        base = "before-none" if label.startswith("before-") else "none"
        if base in cpu and label in cpu:
            added.setdefault(w, {})[label] = 100 * (cpu[label] / cpu[base] - 1)
print()
for w, pct in added.items():
    print(f"- {w}: `record: metadata` adds {pct.get('metadata', float('nan')):+.1f}%, "
          f"`record: full` {pct.get('full', float('nan')):+.1f}% proxy CPU per request over "
          "`record: none` (goal for full: at most +10%)" +
          (f"; before: `full` {pct['before-full']:+.1f}% over its `none`" if "before-full" in pct
           else ""))
for label, what in (("metadata", "timing, identity, decision, usage"),
                    ("full", "request and answer bodies, event timing")):
    r = recorder.get(label, {})
    if r.get("stored"):
        print(f"- {label}: {r['stored']} recordings stored, {r['stored_bytes'] / r['stored']:.0f} "
              f"bytes per request on disk after zstd ({what}); {r.get('dropped', 0)} dropped "
              f"(queue full), {r.get('failed', 0)} failed")
