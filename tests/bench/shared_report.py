#!/usr/bin/env python3
"""The whole-request table of `scripts/bench shared`: latency with one request in flight through
a sluiced keeping its budget and rate limit on the host (local), one keeping them in Redis
(redis) and, when given, an older build keeping them in Redis (before)."""
import json
import statistics
import sys

runs, store = {}, {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "state_store" in r:
        store = r["state_store"]
    elif r["round"] > 0:
        runs.setdefault(r["label"], []).append(r)


def med(label, key):
    return statistics.median(r["latency"][key] for r in runs[label])


print("| store | requests | p50 µs | p99 µs |")
print("|---|---:|---:|---:|")
for label in [l for l in ("local", "redis", "before") if l in runs]:
    print(f"| {label} | {sum(r['completed'] for r in runs[label])} | {med(label, 'p50_us'):.0f} | "
          f"{med(label, 'p99_us'):.0f} |")
print()
for label in [l for l in ("redis", "before") if l in runs]:
    print(f"Added by Redis ({label}): {med(label, 'p50_us') - med('local', 'p50_us'):+.0f} µs at p50, "
          f"{med(label, 'p99_us') - med('local', 'p99_us'):+.0f} µs at p99 (medians over rounds).")
print()
print(
      f"The redis sluiced decided {store.get('shared_admissions', 0)} requests in Redis and "
      f"{store.get('local_admissions', 0)} on the host (answers slower than `timeout_ms` fall to "
      "the rule's fail_mode).")
