#!/usr/bin/env bash
# Operating sluiced: config mistakes are refused with one line naming the key or file;
# `sluicectl status` shows programs, targets with expiry and counters (also with sluiced down);
# the admin socket refuses other users; the CA key is 0600; `sluicectl unload` leaves nothing.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
SLUICED="$E2E_BIN_DIR/sluiced"
SLUICECTL="$E2E_BIN_DIR/sluicectl"

# --- config refusals: exit != 0, exactly one line, naming the problem ---------------------------
refusal() {  # refusal NAME YAML EXPECTED_SUBSTRING
    printf '%s\n' "$2" >"$E2E_DIR/bad.yaml"
    local out rc
    out="$("$SLUICED" --config "$E2E_DIR/bad.yaml" 2>&1)"
    rc=$?
    check "$1: exit code is non-zero ($rc)" test "$rc" -ne 0
    expect_eq "$1: one line" "$(printf '%s\n' "$out" | wc -l)" "1"
    expect_contains "$1: names it" "$out" "$3"
}
refusal "unknown key" "listen: 127.0.0.1:1
intercpt: []" "intercpt"
refusal "bad type" "listen: [1, 2]" "listen"
refusal "bad failure_mode" "failure_mode: maybe" "failure_mode"
refusal "bad address" "intercept:
  - host: api.openai.com
    addresses: [not-an-ip]" "not-an-ip"
out="$("$SLUICED" --config "$E2E_DIR/does-not-exist.yaml" 2>&1)"; rc=$?
check "missing config file: exit code is non-zero" test "$rc" -ne 0
expect_contains "missing config file: names the file" "$out" "does-not-exist.yaml"
out="$("$SLUICED" --help)"
expect_contains "--help documents --config" "$out" "--config FILE"

# --- a running sluiced --------------------------------------------------------------------------
start_upstream || exit 1
start_sluiced || exit 1
key_mode="$(stat -c %a "$E2E_DIR/state/ca.key")"
expect_eq "the CA key is 0600" "$key_mode" "600"
check "the real API key is not in sluiced's log" bash -c "! grep -q '$E2E_REAL_KEY' '$E2E_DIR/sluiced.log'"

run_client curl -sS --max-time 10 -o /dev/null https://api.openai.com/v1/models -H "Authorization: Bearer $E2E_DUMMY_KEY"
status="$("$SLUICECTL" --config "$E2E_CONFIG" status)"
expect_contains "status lists the connect4 program" "$status" "connect4"
expect_contains "status lists the IPv6 getpeername program" "$status" "inet6_getpeername"
expect_contains "status shows the target address" "$status" "$E2E_UPSTREAM_IP"
expect_contains "status shows target expiry" "$status" '"expires": "fixed"'
expect_contains "status counts requests" "$status" '"requests": 1'
expect_contains "status shows the attach cgroup" "$status" "$(basename "$E2E_CGROUP")"

# The refusal must come from sluiced's socket, not from setpriv failing: the same command line
# runs `id -u` as that user first, and the refusal is sluicectl's own message and exit code.
as_other=(setpriv --reuid "$E2E_USER" --regid "$E2E_USER" --init-groups --)
if [[ "$("${as_other[@]}" id -u 2>&1)" == "$E2E_UID" ]]; then pass "setpriv runs commands as $E2E_USER"
else fail "setpriv cannot run commands as $E2E_USER"; fi
other_rc=0
other="$("${as_other[@]}" "$SLUICECTL" --config "$E2E_CONFIG" status 2>&1)" || other_rc=$?
expect_not_contains "another user cannot read status" "$other" '"requests"'
expect_contains "another user is told permission denied, not 'not running'" "$other" "permission denied"
if ((other_rc == 1)); then pass "sluicectl status exits 1 when denied"; else fail "sluicectl status exit $other_rc when denied"; fi

# --- sluiced down: status falls back to the pinned kernel state; unload removes it --------------
stop_sluiced
status="$("$SLUICECTL" --config "$E2E_CONFIG" status 2>/dev/null)"
expect_contains "status without sluiced shows the pinned programs" "$status" "connect4"
out="$("$SLUICECTL" --config "$E2E_CONFIG" unload)"
expect_contains "unload says what it did" "$out" "unloaded"
attached="$(bpftool cgroup show "$E2E_CGROUP" 2>/dev/null | grep -c -E 'connect|getpeername|sock_ops|sendmsg')"
expect_eq "after unload nothing is attached to the cgroup" "$attached" "0"
check "after unload the pin dir is gone" test ! -e "$E2E_PIN_DIR"
direct="$(run_client curl -sS --max-time 5 -o /dev/null -w '%{http_code}' --cacert "$E2E_DIR/pki/ca.crt" https://api.openai.com/v1/models -H "Authorization: Bearer $E2E_REAL_KEY" 2>&1)"
expect_eq "after unload clients go direct again" "$direct" "200"

e2e_finish
