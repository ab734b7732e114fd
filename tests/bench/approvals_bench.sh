#!/usr/bin/env bash
# Cost of held requests (scripts/bench approvals): sluiced's resident memory with HELD (1,000)
# requests held at once, per held request; and the time from an approval to the held client
# receiving its answer (approve sent on the admin socket → the answer's status line at the
# client, through the real redirect, TLS and a loopback fake upstream), p50/p99 over SAMPLE.
# Prints a markdown section. Needs root: runs in the e2e sandbox (tests/e2e/lib/e2e.sh).
# usage: tests/bench/approvals_bench.sh BIN_DIR
source "$(dirname "$0")/../e2e/lib/e2e.sh"
HELD="${HELD:-1000}"
SAMPLE="${SAMPLE:-200}"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<YAML
version: 1
default: allow
rules:
  - name: held
    match: {users: [$E2E_USER]}
    require_approval: {patterns: ["hold me"]}
YAML
e2e_write_config "policy: $POLICY
approvals:
  timeout: 10m
  max_held: $((HELD + 10))
  max_held_per_identity: $((HELD + 10))"
BENCH_PY="$E2E_SOURCE_DIR/tests/bench/approvals_bench.py"
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$SLUICED_PID/status"; }
held_count() {
    "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" approvals list |
        python3 -c 'import json,sys; print(sum(a["state"] == "held" for a in json.load(sys.stdin)["approvals"]))'
}
start_upstream >/dev/null
start_sluiced >/dev/null || exit 1
# Warm up: pools, TLS contexts and the policy are in place before the baseline.
for i in 1 2 3; do run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "warm up" >/dev/null; done
sleep 1
before_kib="$(rss_kib)"
run_client /usr/bin/python3 "$BENCH_PY" client "$HELD" - >"$E2E_DIR/answers.json" 2>"$E2E_DIR/client.err" &
client=$!
for i in $(seq 600); do [[ "$(held_count)" -ge "$HELD" ]] && break; kill -0 "$client" 2>/dev/null || break; sleep 0.5; done
held="$(held_count)"
sleep 2
held_kib="$(rss_kib)"
python3 "$BENCH_PY" approve "$E2E_DIR/admin.sock" "$SAMPLE" "$E2E_DIR/approved.json"
wait "$client"
after_kib="$(rss_kib)"
python3 - "$E2E_DIR/answers.json" "$E2E_DIR/approved.json" "$held" "$before_kib" "$held_kib" "$after_kib" <<'PY'
import json, sys
answers = json.load(open(sys.argv[1]))
approved = json.load(open(sys.argv[2]))
held, before, during, after = (int(x) for x in sys.argv[3:7])
lat = sorted((answers[i]["t"] - t) * 1e6 for i, t in approved.items() if answers[i]["status"] == 200)
def pct(p):
    return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]
per = (during - before) * 1024 / max(held, 1)
print(f"| requests held at once | sluiced RSS before | with them held | per held request | after they ended |")
print(f"|---:|---:|---:|---:|---:|")
print(f"| {held:,} | {before / 1024:.1f} MiB | {during / 1024:.1f} MiB | {per / 1024:.1f} KiB | {after / 1024:.1f} MiB |")
print()
print(f"| approvals timed | approval → answer at the client p50 | p90 | p99 | max |")
print(f"|---:|---:|---:|---:|---:|")
print(f"| {len(lat)} | {pct(50):,.0f} µs | {pct(90):,.0f} µs | {pct(99):,.0f} µs | {lat[-1]:,.0f} µs |")
PY
stop_sluiced
