#!/usr/bin/env bash
# Network namespaces come and go (docs/architecture.md, "Containers"): sluiced serves each one
# with a listener of its own and lets go of it with the namespace's last task. 1,000 namespaces
# made and left by `unshare -n` and 200 by `ip netns add/exec/del` leave sluiced's descriptors,
# memory and BPF map entries as they were; a namespace's first connection (curl, at once after
# `unshare -n`) is served, and a namespace with no route to the target is not given one.
source "$(dirname "$0")/lib/e2e.sh"
E2E_CGROUP="$(e2e_cgroup2_root)/sluice-c17-namespaces-$$"
E2E_PIN_DIR="/sys/fs/bpf/sluice-c17-namespaces-$$"
NETNS_PREFIX="sluice-c17-$$"
e2e_setup
start_upstream || exit 1
start_sluiced || exit 1

namespaces_cleanup() {
    local ns
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NETNS_PREFIX"); do
        ip netns del "$ns" 2>/dev/null
    done
    e2e_cleanup
}
trap namespaces_cleanup EXIT

status_json() { "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status; }
status_field() { status_json | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$SLUICED_PID/status"; }
# sluiced serves every namespace on the host, this test's and any other's: what is compared is
# sluiced's state apart from the namespaces it serves at that moment (each holds three
# descriptors: its IPv4 and IPv6 listeners and a route probe; and one kernel route).
served() { status_field "d['namespaces']['served']"; }
fds_besides_served() { echo $(( $(ls "/proc/$SLUICED_PID/fd" | wc -l) - 3 * $(served) )); }
routes_besides_served() { status_field "d['kernel']['served_namespaces'] - d['namespaces']['served']"; }
# Waits until sluiced serves no more namespaces than it did before the churn.
wait_released() {
    local i
    for i in $(seq 200); do
        (( $(served) <= base_served )) && return 0
        sleep 0.05
    done
    return 1
}
in_cgroup() { sh -c 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"' sh "$E2E_CGROUP" "$@"; }

# --- the first connection of a brand-new namespace ------------------------------------------
# unshare -n, lo up, then curl at once: exec tells sluiced first; if curl still outruns it, the
# redirect holds the SYN until the listener is up. The namespace routes the target to its lo
# (the fake upstream's address is loopback), so it is reachable from there.
out="$(in_cgroup unshare -n sh -c "ip link set lo up && env CURL_CA_BUNDLE='$E2E_DIR/client-ca.crt' \
    curl -sS --max-time 10 --resolve api.openai.com:443:$E2E_UPSTREAM_IP https://api.openai.com/v1/models \
    -H 'Authorization: Bearer $E2E_DUMMY_KEY'")"
expect_contains "curl at once in a new namespace: served on the first try" "$out" '"object":"list"'
wait_audit_lines 1
expect_eq "its audit line has the namespace's process" \
    "$(audit_query "[r['identity']['exe'].endswith('/curl') for r in records if r['kind'] == 'request']")" "[True]"

# --- no route to the target: not served --------------------------------------------------------
# The target is an address the namespace has no route to (its lo is up, nothing else): the
# connect reaches sluiced's listener there, which refuses rather than be the way out.
"$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status >/dev/null
sed -i "s/addresses: \[$E2E_UPSTREAM_IP\]/addresses: [$E2E_UPSTREAM_IP, 198.18.17.2]/" "$E2E_CONFIG"
stop_sluiced
start_sluiced || exit 1
out="$(in_cgroup unshare -n sh -c "ip link set lo up && env CURL_CA_BUNDLE='$E2E_DIR/client-ca.crt' \
    curl -sS --max-time 5 --resolve api.openai.com:443:198.18.17.2 https://api.openai.com/v1/models; echo exit=\$?" 2>&1)"
expect_not_contains "a namespace with no route to the target gets no answer" "$out" '"object":"list"'
sleep 0.3
expect_eq "refused and audited: netns_unreachable" \
    "$(audit_query "any(r['kind'] == 'connection' and r['decision'].get('reason') == 'netns_unreachable' for r in records)")" "True"

# --- 1,000 namespaces by unshare -n, 200 by ip netns ----------------------------------------
sleep 0.5  # the namespaces above are released
base_served=$(served)
base_fds=$(fds_besides_served)
base_rss=$(rss_kb)
base_routes=$(routes_besides_served)
base_served_total=$(status_field "d['namespaces']['served_total']")
started=$SECONDS
for i in $(seq 1000); do
    unshare -n true
done
for i in $(seq 200); do
    ip netns add "$NETNS_PREFIX-$i" && ip netns exec "$NETNS_PREFIX-$i" true && ip netns del "$NETNS_PREFIX-$i"
done
echo "1200 namespaces made and left in $((SECONDS - started)) s"
check "every namespace released" wait_released
served_total=$(( $(status_field "d['namespaces']['served_total']") - base_served_total ))
echo "namespaces served during the churn: $served_total (the rest were gone before sluiced got to them)"
check "most namespaces were served while they lived" test "$served_total" -ge 600
expect_eq "descriptors as before" "$(fds_besides_served)" "$base_fds"
expect_eq "kernel routes as before" "$(routes_besides_served)" "$base_routes"
rss=$(rss_kb)
echo "RSS before $base_rss kB, after $rss kB"
check "memory as before (within 2 MB)" test "$((rss - base_rss))" -lt 2048
expect_eq "no namespace failed" "$(status_field "d['namespaces']['failed_total']")" "0"
status_field "'ready latency over the last %d: p50 %.0f us, max %.0f us' % (d['namespaces']['ready_latency']['count'], d['namespaces']['ready_latency']['p50_us'], d['namespaces']['ready_latency']['max_us'])"

check "the real key is in no log or audit line" bash -c "! grep -q '$E2E_REAL_KEY' '$E2E_DIR/sluiced.log' '$E2E_AUDIT'"
e2e_finish
