#!/usr/bin/env bash
# Shared budgets (issue 20): two sluiced instances, each attached to its own cgroup with its own
# config (two hosts on one machine), keep one per-user budget in a real redis-server this test
# starts on loopback. A burst from both at once never overshoots it, and what upstream reported
# is what Redis holds. Redis killed: a budget with fail_mode closed refuses with 503
# policy_unavailable, one with fail_mode open serves and the audit says the budget was kept on
# this host. Redis back: what was used meanwhile is added to the shared account, and what a
# fail-open rate limit let through on one host is taken from the shared bucket, so the other
# host gets only what is left of the minute.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
SLUICECTL="$E2E_BIN_DIR/sluicectl"
E2E_OPEN_USER=sluice-e2e-open
e2e_add_user "$E2E_OPEN_USER"
E2E_PACED_USER=sluice-e2e-paced
e2e_add_user "$E2E_PACED_USER"
E2E_VOICE_USER=sluice-e2e-21b-voice
e2e_add_user "$E2E_VOICE_USER"

# --- Redis: a server of the test's own, persisted to its own directory (a restart keeps the
# shared accounts, as a production server with persistence does) ------------------------------
REDIS_IP="${E2E_UPSTREAM_IP%.*}.5"
REDIS_PORT="$(e2e_free_port)"
REDIS_DIR="$E2E_DIR/redis"
mkdir -p "$REDIS_DIR"
REDIS_PID=
start_redis() {
    /usr/bin/redis-server --bind "$REDIS_IP" --port "$REDIS_PORT" --dir "$REDIS_DIR" --save "" \
        --appendonly yes --appendfsync always --daemonize no --protected-mode no \
        --logfile "$REDIS_DIR/redis.log" &
    REDIS_PID=$!
    local i
    for i in $(seq 100); do redis ping 2>/dev/null | grep -q PONG && return 0; sleep 0.05; done
    echo "redis-server did not start" >&2; cat "$REDIS_DIR/redis.log" >&2; return 1
}
stop_redis() {
    [[ -n "$REDIS_PID" ]] || return 0
    kill -9 "$REDIS_PID" 2>/dev/null; wait "$REDIS_PID" 2>/dev/null; REDIS_PID=
}
redis() { /usr/bin/redis-cli -h "$REDIS_IP" -p "$REDIS_PORT" "$@"; }
redis_used() { local v; v="$(redis HGET "e2e:budget|$1|user=$2" used_t)"; echo "${v:-0}"; }

# --- host B: a second sluiced with a cgroup, pin dir, state, audit and listener of its own -----
B_DIR="$E2E_DIR/b"
B_CGROUP="$(e2e_cgroup2_root)/sluice-$E2E_NAME-b-$$"
B_PIN_DIR="/sys/fs/bpf/sluice-$E2E_NAME-b-$$"
B_CONFIG="$B_DIR/sluiced.yaml"
B_AUDIT="$B_DIR/audit/audit.jsonl"
B_PID=
mkdir -p "$B_DIR" "$B_CGROUP"
chmod 755 "$B_DIR"
cleanup_b() {
    if [[ -n "$B_PID" ]]; then kill -TERM "$B_PID" 2>/dev/null; wait "$B_PID" 2>/dev/null; fi
    "$E2E_BIN_DIR/sluicectl" --config "$B_CONFIG" unload >/dev/null 2>&1
    local pid
    for pid in $(cat "$B_CGROUP/cgroup.procs" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    sleep 0.1
    rmdir "$B_CGROUP" 2>/dev/null
    rm -rf "$B_PIN_DIR" 2>/dev/null
    stop_redis
}
trap 'cleanup_b; e2e_cleanup' EXIT

POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: shared
    match: {users: [$E2E_USER]}
    budget: {tokens_per_day: 2000, per: user}
  - name: lenient
    match: {users: [$E2E_OPEN_USER]}
    budget: {tokens_per_day: 100000, per: user, fail_mode: open}
  - name: paced
    match: {users: [$E2E_PACED_USER]}
    rate_limit: {requests_per_minute: 6, per: user, fail_mode: open}
  - name: voice
    match: {users: [$E2E_VOICE_USER]}
    budget: {tokens_per_day: 100000, per: user}
YAML
STATE_STORE="state_store: {redis: \"redis://$REDIS_IP:$REDIS_PORT\", prefix: \"e2e:\", timeout_ms: 50}"
e2e_write_config "policy: $POLICY
$STATE_STORE"
B_PORT="$(e2e_free_port)"
sed -e "s|^listen: .*|listen: 127.0.0.1:$B_PORT|" -e "s|^cgroup: .*|cgroup: $B_CGROUP|" \
    -e "s|^state_dir: .*|state_dir: $B_DIR/state|" -e "s|^  path: .*|  path: $B_AUDIT|" \
    -e "s|^admin: .*|admin: $B_DIR/admin.sock|" -e "s|^pin_dir: .*|pin_dir: $B_PIN_DIR|" \
    "$E2E_CONFIG" >"$B_CONFIG"

start_sluiced_b() {
    local log="$B_DIR/sluiced.log"
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$B_CGROUP" \
        "$E2E_BIN_DIR/sluiced" --config "$B_CONFIG" >>"$log" 2>&1 &
    B_PID=$!
    local i
    for i in $(seq 400); do grep -q ready "$log" 2>/dev/null && return 0; sleep 0.05; done
    echo "host B not ready" >&2; cat "$log" >&2; return 1
}

start_redis || exit 1
# Answers take 300 ms, so both hosts' requests are in flight, holding reservations, at once.
start_upstream --bill-to-cap --latency-ms 300 || exit 1
start_sluiced || exit 1
start_sluiced_b || exit 1
# Clients of both hosts trust both hosts' CAs (each host made its own).
cat "$E2E_DIR/state/ca.crt" "$B_DIR/state/ca.crt" >"$E2E_DIR/client-ca.crt"

burst_on() {  # burst_on a|b USER COUNT BODY [START]: START (epoch seconds) fires them together
    local host="$1" user="$2" count="$3" body="$4" start="${5:-0}"
    local cgroup="$E2E_CGROUP"; [[ "$host" == b ]] && cgroup="$B_CGROUP"
    E2E_CLIENT_USER="$user" E2E_CLIENT_CGROUP="$cgroup" run_client /usr/bin/python3 -c '
import runpy, sys, time
time.sleep(max(0.0, float(sys.argv[1]) - time.time()))
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")' "$start" "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" "$count" "$body"
}
reported() { printf '%s\n' "$1" | /usr/bin/python3 -c 'import json,sys; print(sum((json.loads(l)["usage"] or {}).get("total_tokens", 0) for l in sys.stdin if l.strip()))'; }
admitted() { printf '%s\n' "$1" | grep -c '"status": 200'; }
wait_status_field() {  # wait_status_field CONFIG FIELD VALUE: state_store status reaches VALUE
    local i
    for i in $(seq 200); do
        [[ "$("$SLUICECTL" --config "$1" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["state_store"][sys.argv[1]])' "$2")" == "$3" ]] && return 0
        sleep 0.05
    done
    return 1
}
wait_redis_used() {  # wait_redis_used RULE USER VALUE: settlements are sent after the answer
    local i
    for i in $(seq 300); do [[ "$(redis_used "$1" "$2")" == "$3" ]] && return 0; sleep 0.05; done
    return 1
}

# --- one budget, two hosts, one burst from both at once --------------------------------------
BODY='{"model":"gpt-4o-mini","n":3,"max_tokens":100,"messages":[{"role":"user","content":"fleet burst"}]}'
START="$(python3 -c 'import time; print(time.time() + 1.5)')"
burst_on a "$E2E_USER" 10 "$BODY" "$START" >"$E2E_DIR/burst-a" &
pid_a=$!
burst_on b "$E2E_USER" 10 "$BODY" "$START" >"$E2E_DIR/burst-b" &
pid_b=$!
wait "$pid_a" "$pid_b"
out_a="$(cat "$E2E_DIR/burst-a")"
out_b="$(cat "$E2E_DIR/burst-b")"
for h in a b; do echo "host $h: $(grep -oE "\"(status|code)\": [^,}]*" "$E2E_DIR/burst-$h" | sort | uniq -c | tr "\n" " ")"; done
sum=$(($(reported "$out_a") + $(reported "$out_b")))
check "the burst is admitted in part (A $(admitted "$out_a"), B $(admitted "$out_b") of 10 each)" \
    test $(($(admitted "$out_a") + $(admitted "$out_b"))) -ge 1
check "what upstream reported for both hosts stays within the shared 2000 ($sum)" test "$sum" -le 2000
expect_contains "refusals are budget_exceeded" "$out_a$out_b" '"code": "budget_exceeded"'
check "Redis holds exactly what upstream reported ($sum tokens)" \
    wait_redis_used shared "$E2E_USER" "$sum"
expect_eq "nothing stays reserved once every answer is in" \
    "$(redis HGET "e2e:budget|shared|user=$E2E_USER" res_t)" "0"
expect_eq "sluicectl status shows the shared store connected" \
    "$("$SLUICECTL" --config "$B_CONFIG" status | python3 -c 'import json,sys; s=json.load(sys.stdin)["state_store"]; print(s["kind"], s["connected"])')" \
    "redis True"

# --- Redis killed mid-run: each budget follows its fail_mode ---------------------------------
ONE='{"model":"gpt-4o-mini","max_tokens":10,"messages":[{"role":"user","content":"while redis is down"}]}'
before_open="$(redis_used lenient "$E2E_OPEN_USER")"
stop_redis
out="$(burst_on a "$E2E_USER" 2 "$ONE")"
expect_contains "fail_mode closed: 503 policy_unavailable while Redis is down" "$out" '"status": 503, "usage": null, "code": "policy_unavailable"'
expect_eq "and nothing of it reached upstream" \
    "$(upstream_query 'sum(1 for r in records if (body(r).get("messages") or [{}])[0].get("content") == "while redis is down")')" "0"
# A fail-open rate limit: host A serves 4 of the minute's 6 from its own bucket meanwhile.
out_paced="$(burst_on a "$E2E_PACED_USER" 4 "$ONE")"
paced_at=$(date +%s)
expect_eq "fail_mode open rate limit: host A serves from its own bucket while Redis is down" \
    "$(admitted "$out_paced")" "4"
out_open_a="$(burst_on a "$E2E_OPEN_USER" 3 "$ONE")"
out_open_b="$(burst_on b "$E2E_OPEN_USER" 2 "$ONE")"
expect_eq "fail_mode open: served on both hosts while Redis is down" \
    "$(($(admitted "$out_open_a") + $(admitted "$out_open_b")))" "5"
local_sum=$(($(reported "$out_open_a") + $(reported "$out_open_b")))
wait_audit_lines 1
expect_contains "the audit says the budget was kept on this host" \
    "$(audit_query '[r["decision"].get("skipped_controls") for r in records if r["decision"].get("rule") == "lenient"]')" \
    'accounted on this host'
expect_contains "sluicectl status names the unreachable store and what waits for it" \
    "$("$SLUICECTL" --config "$E2E_CONFIG" status | python3 -c 'import json,sys; s=json.load(sys.stdin)["state_store"]; print(s["connected"], s["waiting_for_redis"] > 0, s["refused_unavailable"] > 0)')" \
    "False True True"

# --- Redis back: the usage of the outage is reconciled into the shared account ----------------
start_redis || exit 1
expected=$((${before_open:-0} + local_sum))
check "Redis now holds what both hosts used while it was away ($expected tokens)" \
    wait_redis_used lenient "$E2E_OPEN_USER" "$expected"
check "host A's rate-limit use of the outage is sent to Redis" \
    wait_status_field "$E2E_CONFIG" rate_limit_reconciled 4
# The shared bucket had 6 for the minute and host A took 4 while Redis was away: host B gets
# what is left (plus what refilled since, one every 10 s), not a fresh 6.
out_paced_b="$(burst_on b "$E2E_PACED_USER" 6 "$ONE")"
left=$((2 + ($(date +%s) - paced_at) / 10))
echo "host B (paced): $(admitted "$out_paced_b") of 6 admitted, at most $left expected"
check "host B gets only what host A left of the shared rate limit ($(admitted "$out_paced_b") <= $left)" \
    test "$(admitted "$out_paced_b")" -le "$left"
check "and at least what was left (2)" test "$(admitted "$out_paced_b")" -ge 2
expect_contains "the rest are refused by the shared rate limit" "$out_paced_b" '"code": "rate_limited"'
BIG='{"model":"gpt-4o-mini","n":3,"max_tokens":100,"messages":[{"role":"user","content":"after redis is back"}]}'
out="$(burst_on b "$E2E_USER" 1 "$BIG")"
expect_contains "fail_mode closed decides on the shared account again once Redis is back (spent: 429)" \
    "$out" '"status": 429, "usage": null, "code": "budget_exceeded"'

# --- a Realtime API session: its responses reserved in Redis and settled on response.done,
# asked on the proxy worker's own loop like HTTP requests (docs/realtime.md) ------------------
ITEM='{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"shared voice"}]}}'
out="$(E2E_CLIENT_USER="$E2E_VOICE_USER" run_client node "$E2E_NODE_DIR/clients/realtime_ws.mjs" \
    "{\"send\":[$ITEM,{\"type\":\"response.create\"},{\"type\":\"response.create\"}],\"responses\":2}")"
voice_used="$(printf '%s' "$out" | python3 -c 'import json,sys; o=json.load(sys.stdin); print(sum(u["input_tokens"] + u["output_tokens"] for u in o["usage"]))')"
expect_eq "realtime: both responses came back" \
    "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["usage"]))')" "2"
check "realtime: Redis holds what the session's responses used ($voice_used tokens)" \
    wait_redis_used voice "$E2E_VOICE_USER" "$voice_used"
expect_eq "realtime: nothing stays reserved once the session ended" \
    "$(redis HGET "e2e:budget|voice|user=$E2E_VOICE_USER" res_t)" "0"

# --- each proxy worker's own Redis connection ends with the worker ------------------------------
stopped_cleanly() {  # SIGTERM: host B exits 0 within 10 s
    kill -TERM "$B_PID"
    local i
    for i in $(seq 200); do kill -0 "$B_PID" 2>/dev/null || break; sleep 0.05; done
    wait "$B_PID"
    local rc=$?
    B_PID=
    return "$rc"
}
check "host B stops cleanly on SIGTERM (exit 0) with its workers' Redis connections open" stopped_cleanly
e2e_finish
