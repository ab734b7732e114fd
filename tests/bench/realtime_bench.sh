#!/usr/bin/env bash
# Cost of relaying the Realtime API's WebSocket (scripts/bench realtime): round trips of one
# client event and its answer (conversation.item.create → conversation.item.created, about
# 200 and 250 bytes) directly to the fake upstream and through sluice (real redirect, TLS both
# hops, Beast's websocket relay), masking off and on, side by side in one run; the added
# latency per relayed frame (half the added round trip: each round trip crosses sluice twice),
# p50/p99; and sluiced's CPU per 1,000 relayed frames. Prints a markdown section. Needs root.
# usage: tests/bench/realtime_bench.sh BIN_DIR
E2E_UPSTREAM_IP="${E2E_UPSTREAM_IP:-127.41.0.7}"
source "$(dirname "$0")/../e2e/lib/e2e.sh"
FRAMES="${FRAMES:-2000}"
ROUNDS="${ROUNDS:-3}"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
write_policy() {  # write_policy off|on
    {
        echo "version: 1"
        echo "default: allow"
        echo "rules:"
        echo "  - name: voice"
        echo "    match: {}"
        [[ "$1" == on ]] && echo "    masking: [{entities: [all], action: redact}]"
        true
    } >"$POLICY"
}
write_policy off
e2e_write_config "policy: $POLICY"
start_upstream >/dev/null || exit 1
start_sluiced >/dev/null || exit 1
CLIENT="$E2E_NODE_DIR/clients/realtime_rtt.mjs"
URL="wss://api.openai.com/v1/realtime?model=gpt-realtime"
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SLUICED_PID/stat"; }
# Direct: outside the test cgroup, so the connection is not redirected; the fake upstream's CA
# and real key, as sluice itself would present them.
direct() {
    unshare -m -- sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$E2E_DIR/hosts" \
        env NODE_EXTRA_CA_CERTS="$E2E_DIR/pki/upstream-ca.crt" OPENAI_API_KEY="$E2E_REAL_KEY" \
        NODE_PATH="$E2E_NODE_DIR/node_modules" node "$CLIENT" "$URL" "$FRAMES"
}
via_sluice() { run_client node "$CLIENT" "$URL" "$FRAMES"; }
results="$E2E_DIR/results.txt"
: >"$results"
for mode in off on; do
    write_policy "$mode"
    "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" reload >/dev/null
    sleep 0.5
    via_sluice >/dev/null  # warm up: pools, contexts, the JIT of the client
    for round in $(seq "$ROUNDS"); do
        echo "$mode direct $(direct)" >>"$results"
        before="$(cpu_ticks)"
        rtts="$(via_sluice)"
        after="$(cpu_ticks)"
        echo "$mode sluice $rtts $((after - before))" >>"$results"
    done
done
python3 - "$results" "$FRAMES" "$(getconf CLK_TCK)" <<'PY'
import json, sys
rows = [line.split(" ", 2) for line in open(sys.argv[1]).read().splitlines()]
frames, hz = int(sys.argv[2]), int(sys.argv[3])
def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
print("| masking | round trips | direct p50 | direct p99 | through sluice p50 | p99 | added per frame p50 | p99 | sluiced CPU per 1,000 frames |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for mode in ("off", "on"):
    direct = [v for m, kind, rest in rows if m == mode and kind == "direct" for v in json.loads(rest)]
    sluice, ticks = [], 0
    for m, kind, rest in rows:
        if m == mode and kind == "sluice":
            values, used = rest.rsplit(" ", 1)
            sluice += json.loads(values)
            ticks += int(used)
    relayed = 2 * len(sluice)  # each round trip: one client frame and one upstream frame
    cpu_ms = ticks * 1000 / hz / relayed * 1000
    added = lambda p: (pct(sluice, p) - pct(direct, p)) / 2
    print(f"| {mode} | {len(sluice):,} | {pct(direct, 50):,.0f} µs | {pct(direct, 99):,.0f} µs "
          f"| {pct(sluice, 50):,.0f} µs | {pct(sluice, 99):,.0f} µs | {added(50):,.0f} µs "
          f"| {added(99):,.0f} µs | {cpu_ms:,.1f} ms |")
PY
stop_sluiced
