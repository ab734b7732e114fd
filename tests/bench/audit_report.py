#!/usr/bin/env python3
"""Runs `sluicectl audit verify` over the log tests/bench/audit_log_gen.cpp wrote and writes the
"Audit verify" section of docs/benchmarks.md: audit MB verified per second of verify's own CPU
(user + system, every thread: per core), its result, and the bytes a recorded request leaves on
disk.
  audit_report.py SLUICECTL CONFIG CHAIN_ONLY_CONFIG GEN_JSON ROUNDS ROTATE_MB
CHAIN_ONLY_CONFIG names a state_dir holding the public key and no recordings."""
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

sluicectl, config, chain_config, gen_path, rounds, rotate_mb = sys.argv[1:7]
gen = json.load(open(gen_path))


def verify(config_path):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    done = subprocess.run([sluicectl, "--config", config_path, "audit", "verify"],
                          capture_output=True, text=True)
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    walk = re.search(r"verified ([0-9.]+) MB in ([0-9.]+) s", done.stderr)
    return {"cpu": cpu, "wall": wall, "exit": done.returncode, "out": done.stdout,
            "walk_mb_s": float(walk.group(1)) / float(walk.group(2)) if walk else 0.0}


runs, chain_runs = [], []
for _ in range(int(rounds)):  # taking turns
    runs.append(verify(config))
    chain_runs.append(verify(chain_config))

mb = gen["audit_bytes"] / 1e6
cpu = statistics.median(r["cpu"] for r in runs)
wall = statistics.median(r["wall"] for r in runs)
walk = statistics.median(r["walk_mb_s"] for r in runs)
chain_cpu = statistics.median(r["cpu"] for r in chain_runs)
chain_result = next((l for l in chain_runs[-1]["out"].splitlines() if l.startswith("result:")), "")
out = runs[-1]["out"]
result = next((l for l in out.splitlines() if l.startswith("result:")), "result: ?")
recordings = next((l for l in out.splitlines() if l.startswith("recordings:")), "")
audit_line = next((l for l in out.splitlines() if l.startswith("audit:")), "")
per_request_audit = gen["audit_bytes"] / gen["requests"]
per_request_recording = gen["recording_bytes"] / gen["requests"]
named = re.search(r"recordings: (\d+) named", out)
if not named or int(named.group(1)) != gen["requests"]:
    sys.exit(f"audit_report.py: every request should name its recording: {recordings!r}")

print(f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} by `scripts/bench audit` on "
      f"{os.cpu_count()} vCPU; load average at start {os.getloadavg()[0]:.1f} (a shared machine).")
print(f"The log: {gen['requests']:,} requests written by sluiced's own `AuditWriter` and "
      "`SessionRecorder` (`tests/bench/audit_log_gen.cpp`): per request a `forwarded` and a "
      "`request` line (identity, decision, usage; ~1.2 KB each), `record: full` of a 1 KB chat "
      "request and its answer, a signed checkpoint every 1000 records, rotated at "
      f"{rotate_mb} MB: {gen['audit_files']} files, {mb:.0f} MB of audit. `sluicectl audit verify` "
      f"ran {rounds} times over it (files in the page cache; medians), timed in its own CPU "
      "(user + system of the process, every thread), not wall.")
print()
print("| | |")
print("|---|---|")
print(f"| **chain and signatures, per core** (goal ≥ 200 MB/s) | **{mb / chain_cpu:.0f} MB/s** "
      f"({chain_cpu:.2f} s CPU; `{chain_result}`, exit {chain_runs[-1]['exit']}) |")
print(f"| **with every recording checked too, per core** | **{mb / cpu:.0f} MB/s** "
      f"({mb:.0f} MB in {cpu:.2f} s CPU, {wall:.2f} s wall) |")
print(f"| the chain walk alone (verify's stderr figure, wall) | {walk:.0f} MB/s |")
print(f"| verify's result (exit {runs[-1]['exit']}) | `{result}` |")
print(f"| | `{audit_line}` |")
if recordings:
    print(f"| | `{recordings}` |")
print(f"| audit on disk per request (its two lines) | {per_request_audit:,.0f} bytes |")
print(f"| recording on disk per request (`full`, zstd) | {per_request_recording:,.0f} bytes |")
print(f"| **on disk per recorded request** | **{per_request_audit + per_request_recording:,.0f} "
      "bytes** |")
print(f"| writing it (`AuditWriter` + `SessionRecorder`, process CPU per request) | "
      f"{1e6 * gen['cpu_s'] / gen['requests']:.1f} µs |")
print()
print("The second figure counts verify's re-reading, decompressing and hashing of every "
      "recording a line names against the audit's bytes alone: a `full` recording of a 1 KB "
      "request is more text to hash (about 2.7 KB of JSON) than its two audit lines; the "
      "first is verify run from a state_dir without the recordings (an empty recordings directory: each counted missing).")
