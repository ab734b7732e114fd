#!/usr/bin/env bash
# Sourced by tests/e2e/test_*.sh: a sandbox for one end-to-end test file.
#
# What it builds (docs/architecture.md, "Real parts in tests"):
#   - a test PKI (make_test_ca.sh) and fake-openai on $E2E_UPSTREAM_IP:443 with a certificate for
#     api.openai.com from the test CA;
#   - a child cgroup under the cgroup2 mount ($E2E_CGROUP): sluiced attaches there, never at the
#     root, and only the test's clients (and sluiced itself, to prove it never loops) live in it;
#   - a bpffs pin dir of its own, a config, a dummy client key and a real upstream key;
#   - run_client: runs a command in that cgroup, as an unprivileged user, in a mount namespace
#     whose /etc/hosts resolves api.openai.com to the fake upstream (as `ip netns exec` does).
#     The only thing set for the client is CA trust, exactly what an install sets.
# Everything is torn down on exit. Results: check/expect_* count, e2e_finish prints the totals.

set -uo pipefail

E2E_BIN_DIR="${1:?usage: $0 BUILD_BIN_DIR}"
E2E_SOURCE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
E2E_LIB_DIR="$E2E_SOURCE_DIR/tests/e2e/lib"
E2E_NODE_DIR="$E2E_SOURCE_DIR/tests/e2e"
source "$E2E_LIB_DIR/make_test_ca.sh"
source "$E2E_LIB_DIR/fake_upstream.sh"

E2E_NAME="$(basename "$0" .sh)"
E2E_DIR="$(mktemp -d "/tmp/sluice-$E2E_NAME.XXXXXX")"
chmod 755 "$E2E_DIR"
E2E_UPSTREAM_IP="${E2E_UPSTREAM_IP:-127.10.0.1}"
E2E_USER=sluice-e2e
E2E_PASSED=0
E2E_FAILED=0
SLUICED_PID=

e2e_cgroup2_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }

# E2E_TAG names this run's cgroup and pin directory apart from other users' runs.
E2E_CGROUP="$(e2e_cgroup2_root)/sluice-$E2E_NAME-${E2E_TAG:+$E2E_TAG-}$$"
E2E_PIN_DIR="/sys/fs/bpf/sluice-$E2E_NAME-${E2E_TAG:+$E2E_TAG-}$$"
E2E_CONFIG="$E2E_DIR/sluiced.yaml"
E2E_AUDIT="$E2E_DIR/audit/audit.jsonl"
E2E_RECORD="$E2E_DIR/upstream-requests.jsonl"
E2E_REAL_KEY="sk-real-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
E2E_DUMMY_KEY="sk-dummy-client-key"

pass() { E2E_PASSED=$((E2E_PASSED + 1)); echo "ok: $*"; }
fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL: $*"; }
# check "description" command...: passes when the command succeeds.
check() {
    local what="$1"; shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}
expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$3', got '$2'"; fi; }
expect_contains() {
    if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1: expected to contain '$3', got: ${2:0:600}"; fi
}
expect_not_contains() {
    if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1: must not contain '$3'"; fi
}

e2e_cleanup() {
    stop_sluiced
    stop_fake_openai 2>/dev/null
    "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" unload >/dev/null 2>&1
    if [[ -d "$E2E_CGROUP" ]]; then
        local pid dir
        for pid in $(find "$E2E_CGROUP" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        sleep 0.2
        # Children first: a test may make sub-cgroups for clients of other "units".
        find "$E2E_CGROUP" -depth -type d 2>/dev/null | while read -r dir; do rmdir "$dir" 2>/dev/null; done
    fi
    rm -rf "$E2E_PIN_DIR" 2>/dev/null
    if [[ "${E2E_KEEP:-0}" != 1 ]]; then rm -rf "$E2E_DIR"; else echo "kept $E2E_DIR"; fi
}
trap e2e_cleanup EXIT

# Prints the totals in the plain form CI reads, exits non-zero on any failure.
e2e_finish() {
    echo "$E2E_NAME: $E2E_PASSED passed, $E2E_FAILED failed"
    [[ $E2E_FAILED -eq 0 && $E2E_PASSED -gt 0 ]]
    exit $?
}

e2e_require_root() {
    if [[ $(id -u) -ne 0 ]]; then
        echo "$E2E_NAME needs root (eBPF, cgroups, mount namespaces)" >&2
        exit 1
    fi
}

e2e_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# e2e_write_config [extra YAML appended at top level]
e2e_write_config() {
    cat >"$E2E_CONFIG" <<EOF
listen: 127.0.0.1:$E2E_PROXY_PORT
cgroup: $E2E_CGROUP
state_dir: $E2E_DIR/state
intercept:
  - host: api.openai.com
    port: 443
    addresses: [$E2E_UPSTREAM_IP]
upstream:
  api.openai.com:
    ca_file: $E2E_DIR/pki/upstream-ca.crt
    api_key_file: $E2E_DIR/openai.key
audit:
  path: $E2E_AUDIT
admin: $E2E_DIR/admin.sock
pin_dir: $E2E_PIN_DIR
${1:-}
EOF
}

e2e_setup() {
    e2e_require_root
    id "$E2E_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$E2E_USER"
    E2E_UID="$(id -u "$E2E_USER")"
    make_test_ca "$E2E_DIR/pki" >/dev/null
    chmod 755 "$E2E_DIR/pki"
    chmod 644 "$E2E_DIR/pki/ca.crt"
    mkdir -p "$E2E_CGROUP"
    E2E_PROXY_PORT="$(e2e_free_port)"
    printf '%s\n' "$E2E_REAL_KEY" >"$E2E_DIR/openai.key"
    chmod 600 "$E2E_DIR/openai.key"
    printf '127.0.0.1 localhost\n%s api.openai.com\n127.10.0.2 other.example\n' "$E2E_UPSTREAM_IP" >"$E2E_DIR/hosts"
    chmod 644 "$E2E_DIR/hosts"
    e2e_write_config
}

# start_sluiced: runs sluiced inside the test cgroup (so a redirect loop would show) and waits
# for "ready".
start_sluiced() {
    local log="$E2E_DIR/sluiced.log"
    echo "--- start $(date +%T.%N)" >>"$log"
    sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$E2E_CGROUP" \
        ${SLUICED_WRAPPER:-} "$E2E_BIN_DIR/sluiced" --config "$E2E_CONFIG" --log-level "${SLUICED_LOG_LEVEL:-info}" >>"$log" 2>&1 &
    SLUICED_PID=$!
    local deadline=$((SECONDS + ${SLUICED_START_TIMEOUT:-20}))
    until tail -n +"$(grep -n -- '--- start' "$log" | tail -1 | cut -d: -f1)" "$log" | grep -q 'ready'; do
        if ! kill -0 "$SLUICED_PID" 2>/dev/null; then
            echo "sluiced exited during start-up:" >&2; cat "$log" >&2; SLUICED_PID=; return 1
        fi
        if ((SECONDS >= deadline)); then echo "sluiced not ready in 20 s" >&2; cat "$log" >&2; return 1; fi
        sleep 0.05
    done
    # What an install does: make sluice's CA certificate readable to clients.
    install -m 644 "$E2E_DIR/state/ca.crt" "$E2E_DIR/client-ca.crt"
}

stop_sluiced() {
    [[ -n "${SLUICED_PID:-}" ]] || return 0
    kill -TERM "$SLUICED_PID" 2>/dev/null
    local i
    for i in $(seq 100); do kill -0 "$SLUICED_PID" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$SLUICED_PID" 2>/dev/null
    wait "$SLUICED_PID" 2>/dev/null
    SLUICED_PID=
}

start_upstream() {
    start_fake_openai "$E2E_BIN_DIR" "$E2E_DIR/pki" "$E2E_UPSTREAM_IP:443" \
        --expect-key "$E2E_REAL_KEY" --record "$E2E_RECORD" "$@"
}

# run_client [--root] CMD...: in the test cgroup, with api.openai.com -> fake upstream via
# /etc/hosts, as $E2E_USER (unless --root), trusting sluice's CA and nothing else new.
# E2E_CLIENT_USER / E2E_CLIENT_CGROUP (a cgroup under $E2E_CGROUP) run it as someone else.
run_client() {
    local as_user=1
    if [[ "${1:-}" == "--root" ]]; then as_user=0; shift; fi
    local ca="$E2E_DIR/client-ca.crt"
    local user="${E2E_CLIENT_USER:-$E2E_USER}"
    local drop=()
    # The primary group by number: nobody's is nogroup on Debian.
    ((as_user)) && drop=(setpriv --reuid "$user" --regid "$(id -g "$user")" --init-groups --)
    unshare -m -- sh -c '
        mount --bind "$1" /etc/hosts && echo $$ > "$2/cgroup.procs" && shift 2 && exec "$@"' sh \
        "$E2E_DIR/hosts" "${E2E_CLIENT_CGROUP:-$E2E_CGROUP}" \
        env HOME=/tmp NODE_EXTRA_CA_CERTS="$ca" SSL_CERT_FILE="$ca" CURL_CA_BUNDLE="$ca" \
        NODE_PATH="$E2E_NODE_DIR/node_modules" OPENAI_API_KEY="$E2E_DUMMY_KEY" \
        "${drop[@]}" "$@"
}

# e2e_add_user NAME [GROUP]: a system user for a second identity (and a group it belongs to).
e2e_add_user() {
    local group="${2:-}"
    if [[ -n "$group" ]] && ! getent group "$group" >/dev/null; then groupadd --system "$group"; fi
    id "$1" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$1"
    [[ -z "$group" ]] || usermod -a -G "$group" "$1"
}

# jsonl_query FILE PYTHON_EXPR: evaluates EXPR with `records` = FILE's JSON lines (list of dicts)
# and body(r) = a recorded request's JSON body.
jsonl_query() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
def body(r):  # a recorded request's JSON body as a dict ({} when absent or not JSON)
    try:
        value = json.loads(r.get("body") or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}
records = []
try:
    with open(sys.argv[1]) as f:
        for line in f:
            try:
                records.append(json.loads(line))
            except ValueError:
                pass  # a line a crash cut (the audit chain seals it; docs/audit.md)
except FileNotFoundError:
    pass
# The audit's "forwarded" records (written as a request leaves, before its final record) are in
# `forwarded`; the chain's own records (checkpoints, crash recovery) in `chain`; `records` holds
# every other record.
forwarded = [r for r in records if r.get("kind") == "forwarded"]
chain = [r for r in records if r.get("kind") in ("checkpoint", "audit_recovery")]
records = [r for r in records if r.get("kind") not in ("forwarded", "checkpoint", "audit_recovery")]
print(eval(sys.argv[2]))
EOF
}
audit_query() { jsonl_query "$E2E_AUDIT" "$1"; }        # what sluice audited
upstream_query() { jsonl_query "$E2E_RECORD" "$1"; }    # what fake-openai received

# Waits until the audit has at least N records besides "forwarded" ones and the chain's own
# (the writer is asynchronous).
wait_audit_lines() {
    local n="$1" i
    for i in $(seq 100); do
        [[ -f "$E2E_AUDIT" && $(grep -Evc '"kind":"(forwarded|checkpoint|audit_recovery)"' "$E2E_AUDIT") -ge $n ]] && return 0
        sleep 0.05
    done
    return 1
}
