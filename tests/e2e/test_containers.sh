#!/usr/bin/env bash
# Containers on the host are served, not refused (docs/architecture.md, "Containers"): real
# podman containers (runc, netavark bridge networking) with their own network namespace run an
# unmodified curl and the `openai` npm client against api.openai.com and get their answers on
# the first try; the upstream sees the real key; the audit names the container (runtime, id,
# name, image). --network=host uses the host's listener, a container with IPv6 off is served
# over IPv4, a container without network (--network=none) is not given one, and 50 containers
# started back to back, each calling at once, are all served.
#
# No image registry is reachable: the image is a few directories and symlinks imported with
# `podman import`, and the host's /usr (curl, node) is bind-mounted read-only into it.
source "$(dirname "$0")/lib/e2e.sh"

for tool in podman runc; do
    if ! command -v "$tool" >/dev/null; then
        echo "$E2E_NAME needs $tool (scripts/deps installs it)" >&2
        exit 1
    fi
done

# Everything this test makes is named sluice-c17-*: the cgroup sluiced attaches to (the
# containers' cgroup parent, so they are inside it), the pin dir, the image, the containers.
E2E_CGROUP="$(e2e_cgroup2_root)/sluice-c17-containers-$$"
E2E_PIN_DIR="/sys/fs/bpf/sluice-c17-containers-$$"
CGROUP_PARENT="/$(basename "$E2E_CGROUP")"
IMAGE="localhost/sluice-c17-root:$$"
NAME="sluice-c17-$$"
# A target address no namespace reaches by itself except through a route of its own (the
# bridge's default route, the host's): sluiced dials the fake upstream instead (upstream.connect).
TARGET_IP=198.18.17.1

e2e_setup
cat >"$E2E_CONFIG" <<EOF
listen: 127.0.0.1:$E2E_PROXY_PORT
cgroup: $E2E_CGROUP
state_dir: $E2E_DIR/state
intercept:
  - host: api.openai.com
    port: 443
    addresses: [$TARGET_IP]
upstream:
  api.openai.com:
    connect: $E2E_UPSTREAM_IP:443
    ca_file: $E2E_DIR/pki/upstream-ca.crt
    api_key_file: $E2E_DIR/openai.key
audit:
  path: $E2E_AUDIT
admin: $E2E_DIR/admin.sock
pin_dir: $E2E_PIN_DIR
EOF

# podman with runc (crun refuses this host's hybrid cgroup layout), cgroupfs (no systemd here),
# netavark, and explicit ulimits below the hard limits runc inherits (it cannot raise them).
export CONTAINERS_CONF="$E2E_DIR/containers.conf"
nofile=$(ulimit -Hn); ((nofile > 65536)) && nofile=65536
cat >"$CONTAINERS_CONF" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
helper_binaries_dir = ["/usr/lib/podman", "/usr/libexec/podman"]
[network]
network_backend = "netavark"
EOF

containers_cleanup() {
    podman ps -aq --filter "name=^sluice-c17-$$" 2>/dev/null | xargs -r podman rm -f -t 0 >/dev/null 2>&1
    podman rmi -f "$IMAGE" >/dev/null 2>&1
    e2e_cleanup
    # runc made the cgroup parent in every v1 hierarchy too.
    local dir
    for dir in /sys/fs/cgroup/*"$CGROUP_PARENT"; do
        [[ -d "$dir" ]] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
    done
}
trap containers_cleanup EXIT

# The image: an empty root whose /bin, /lib... point into /usr, which each container gets from
# the host, read-only.
mkdir -p "$E2E_DIR/root"/{etc,tmp,proc,sys,dev,run,var,usr,e2e}
for d in bin lib lib64 sbin; do ln -s "usr/$d" "$E2E_DIR/root/$d"; done
tar -C "$E2E_DIR/root" -cf "$E2E_DIR/root.tar" .
podman import -q "$E2E_DIR/root.tar" "$IMAGE" >/dev/null || { fail "podman import"; e2e_finish; }

start_upstream || exit 1
start_sluiced || exit 1

# run_container NAME [podman run options...] -- COMMAND...: a container in the test's cgroup,
# trusting sluice's CA, api.openai.com resolving to the target address, the openai SDK and its
# clients at /e2e.
run_container() {
    local name="$1"; shift
    local opts=()
    while [[ $# -gt 0 && "$1" != "--" ]]; do opts+=("$1"); shift; done
    shift
    podman run --rm --name "$name" --cgroup-parent="$CGROUP_PARENT" \
        --add-host "api.openai.com:$TARGET_IP" \
        -v /usr:/usr:ro -v "$E2E_NODE_DIR/clients:/e2e/clients:ro" \
        -v "$(readlink -f "$E2E_NODE_DIR/node_modules"):/e2e/node_modules:ro" \
        -v "$E2E_DIR/client-ca.crt:/etc/sluice-ca.crt:ro" \
        -e CURL_CA_BUNDLE=/etc/sluice-ca.crt -e NODE_EXTRA_CA_CERTS=/etc/sluice-ca.crt \
        -e SSL_CERT_FILE=/etc/sluice-ca.crt -e OPENAI_API_KEY="$E2E_DUMMY_KEY" -e HOME=/tmp \
        "${opts[@]}" "$IMAGE" "$@"
}
chat_body() { printf '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"%s"}]}' "$1"; }
curl_chat() {  # curl_chat PROMPT: one chat completion, the answer on stdout
    echo curl -sS --max-time 20 https://api.openai.com/v1/chat/completions \
        -H "'Authorization: Bearer $E2E_DUMMY_KEY'" -H "'Content-Type: application/json'" \
        -d "'$(chat_body "$1")'"
}
container_id() { podman inspect --format '{{.Id}}' "$1" 2>/dev/null; }

# --- the default network: a netns of its own, netavark's bridge -------------------------------
out="$(run_container "$NAME-curl" -- sh -c "$(curl_chat "from a container")")"
expect_contains "curl in a container (own network namespace) gets its answer" "$out" "from a container"
sdk="$(run_container "$NAME-sdk" -- node /e2e/clients/chat.mjs "sdk in a container")"
expect_contains "the openai SDK in a container gets its answer" "$sdk" "sdk in a container"

expect_eq "upstream saw both container requests with the real key only" \
    "$(upstream_query "sorted(r['headers'].get('authorization') for r in records if 'container' in json.dumps(body(r)))")" \
    "['Bearer $E2E_REAL_KEY', 'Bearer $E2E_REAL_KEY']"
wait_audit_lines 2
container_record() {  # container_record PROMPT FIELD: the identity field of that request's audit line
    audit_query "[r['identity'].get('$2') for r in records if r['kind'] == 'request' and r.get('request', {}).get('model') and '$1' in json.dumps(r)]"
}
expect_eq "audit: the runtime" "$(audit_query "sorted({r['identity'].get('container_runtime') for r in records if r['kind'] == 'request'})")" "['podman']"
expect_eq "audit: the container's name" \
    "$(audit_query "sorted(r['identity'].get('container_name') for r in records if r['kind'] == 'request')")" \
    "['$NAME-curl', '$NAME-sdk']"
expect_eq "audit: the image" \
    "$(audit_query "sorted({r['identity'].get('container_image') for r in records if r['kind'] == 'request'})")" "['$IMAGE']"
expect_eq "audit: the container id is podman's (64 hex digits)" \
    "$(audit_query "all(len(r['identity'].get('container_id', '')) == 64 for r in records if r['kind'] == 'request')")" "True"
expect_eq "audit: the container's own pid namespace is not the pid shown (host pid)" \
    "$(audit_query "all(r['identity']['pid'] > 1 for r in records if r['kind'] == 'request')")" "True"

# --- --network=host: the host's listener ------------------------------------------------------
out="$(run_container "$NAME-host" --network=host -- sh -c "$(curl_chat "host network")")"
expect_contains "--network=host: served by the host's listener" "$out" "host network"

# --- IPv6 off in the container ----------------------------------------------------------------
out="$(run_container "$NAME-nov6" --sysctl net.ipv6.conf.all.disable_ipv6=1 --sysctl net.ipv6.conf.lo.disable_ipv6=1 -- \
    sh -c "$(curl_chat "ipv6 off")")"
expect_contains "a container with IPv6 disabled is served over IPv4" "$out" "ipv6 off"

# --- no network: sluiced is not a way out ----------------------------------------------------
out="$(run_container "$NAME-none" --network=none -- sh -c "$(curl_chat "no network"); echo exit=\$?" 2>&1)"
expect_not_contains "--network=none: no answer" "$out" "no network\""
expect_eq "--network=none: nothing reached upstream" \
    "$(upstream_query "len([r for r in records if 'no network' in json.dumps(body(r))])")" "0"
sleep 0.3
expect_eq "--network=none: refused and audited as unreachable from its namespace" \
    "$(audit_query "any(r['kind'] == 'connection' and r['decision'].get('reason') == 'netns_unreachable' and r['identity'].get('container_name') == '$NAME-none' for r in records)")" "True"

# --- the first connection: 50 containers back to back, each calling at once -----------------
before="$("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status)"
started=$SECONDS
pids=()
for i in $(seq 1 50); do
    podman run -d --name "$NAME-race-$i" --cgroup-parent="$CGROUP_PARENT" \
        --add-host "api.openai.com:$TARGET_IP" -v /usr:/usr:ro \
        -v "$E2E_DIR/client-ca.crt:/etc/sluice-ca.crt:ro" -e CURL_CA_BUNDLE=/etc/sluice-ca.crt \
        "$IMAGE" sh -c "$(curl_chat "race $i") >/tmp/out 2>&1; cat /tmp/out" </dev/null >/dev/null 2>&1 &
    pids+=($!)
    if ((${#pids[@]} == 5)); then wait "${pids[@]}"; pids=(); fi
done
((${#pids[@]})) && wait "${pids[@]}"
served=0
for i in $(seq 1 50); do
    podman wait "$NAME-race-$i" >/dev/null 2>&1
    if podman logs "$NAME-race-$i" 2>/dev/null | grep -q "race $i\""; then served=$((served + 1)); fi
done
echo "50 containers in $((SECONDS - started)) s"
expect_eq "50 containers started back to back: every first call served" "$served" "50"
after="$("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status)"
python3 - "$before" "$after" <<'EOF'
import json, sys
b, a = (json.loads(x) for x in sys.argv[1:3])
c = lambda s, k: s["kernel"]["counters"].get(k, 0)
print("race: connects held before their namespace had a listener: %d, SYNs held: %d, released: %d"
      % tuple(c(a, k) - c(b, k) for k in ("netns_held", "syn_held", "hold_released")))
n = a.get("namespaces", {})
print("race: namespaces served %s, ready latency p50 %.0f us max %.0f us over %d"
      % (n.get("served_total"), n["ready_latency"]["p50_us"], n["ready_latency"]["max_us"], n["ready_latency"]["count"]))
on = lambda s, k: s.get("namespaces", {}).get("served_on", {}).get(k, 0)
print("race: what told sluiced first about each namespace served: " +
      ", ".join("%s %d" % (k, on(a, k) - on(b, k)) for k in ("clone", "exec", "connect", "rescan")))
EOF
podman ps -aq --filter "name=^$NAME-race-" | xargs -r podman rm -f -t 0 >/dev/null 2>&1

check "the real key is in no log or audit line" bash -c "! grep -q '$E2E_REAL_KEY' '$E2E_DIR/sluiced.log' '$E2E_AUDIT'"
e2e_finish
