#!/usr/bin/env bash
# The .deb in a booted Debian 12 (systemd-nspawn, systemd as the container's PID 1): install,
# readiness through sd_notify, clients in every runtime reaching api.openai.com through sluice
# with no trust set up by hand, restart and upgrade with no connection going direct, a killed
# and a stopped (SIGSTOP: the watchdog) daemon restarted, removal leaving no program attached
# and no CA trusted, purge leaving no state or user.
#
# Usage: test_installed_service.sh BUILD_DIR   (BUILD_DIR/packages from scripts/package)
#
# Isolation: the container has a private network (loopback only): the fake upstream, the
# target address and the clients all live inside it. It runs in a cgroup this test makes under
# the host's cgroup2 tree, and sluiced inside attaches at the container's cgroup root, which is
# that child cgroup: the test checks that nothing is attached at the host's root. bpffs is a
# fresh mount of the test's own, bound in at /sys/fs/bpf.
set -uo pipefail

BUILD_DIR="$(cd "${1:?usage: $0 BUILD_DIR}" && pwd)"
SOURCE_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
NAME=installed_service
PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "ok: $*"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
expect_eq() { if [[ "$2" == "$3" ]]; then pass "$1"; else fail "$1: expected '$3', got '$2'"; fi; }
expect_contains() { if [[ "$2" == *"$3"* ]]; then pass "$1"; else fail "$1: expected '$3' in: ${2:0:800}"; fi; }
expect_not_contains() { if [[ "$2" != *"$3"* ]]; then pass "$1"; else fail "$1: must not contain '$3': ${2:0:800}"; fi; }

version=$(sed -n 's/^project(sluice VERSION \([^ ]*\).*/\1/p' "$SOURCE_DIR/CMakeLists.txt")
arch=$(dpkg --print-architecture)
DEB="$BUILD_DIR/packages/sluice_${version}_${arch}.deb"
[[ -f "$DEB" ]] || { echo "$DEB: not built (scripts/package)"; exit 1; }

WORK="$(mktemp -d /var/tmp/sluice-nspawn.XXXXXX)"
ROOT="$WORK/root"
CGROUP2="$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)"
TEST_CGROUP="$CGROUP2/sluice-nspawn-$$"
# On a hybrid host, nspawn places the container by the name=systemd hierarchy too.
LEGACY_CGROUP=""
if mountpoint -q /sys/fs/cgroup/systemd 2>/dev/null; then LEGACY_CGROUP="/sys/fs/cgroup/systemd/sluice-nspawn-$$"; fi
BPFFS="$WORK/bpffs"
NSPAWN_PID=""
LEADER=""

cleanup() {
    if [[ -n "$NSPAWN_PID" ]] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID" 2>/dev/null # nspawn asks the container's systemd to power off
        for _ in $(seq 1 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
    fi
    local dir
    for dir in "$TEST_CGROUP" "$LEGACY_CGROUP"; do
        [[ -n "$dir" && -d "$dir" ]] || continue
        for pid in $(find "$dir" -name cgroup.procs -exec cat {} + 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        sleep 0.3
        find "$dir" -depth -type d 2>/dev/null | while read -r d; do rmdir "$d" 2>/dev/null; done
    done
    umount "$BPFFS" 2>/dev/null
    if [[ "${SLUICE_KEEP:-0}" == 1 ]]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# --- the root: cached debootstrap tarball, with the .deb's own library dependencies -----------
# Virtual names (libspdlog1.10-fmt9) become the package that provides them on this machine,
# where the .deb was built against them.
deb_depends=()
for dep in $(dpkg-deb -f "$DEB" Depends | tr ',' '\n' | sed 's/[|].*//; s/(.*)//; s/ //g' | grep -v '^$'); do
    if dpkg-query -W -f='${Status}' "$dep" 2>/dev/null | grep -q "install ok installed"; then
        deb_depends+=("$dep")
    else
        deb_depends+=("$(dpkg-query -W -f='${Package} ${Provides}\n' | awk -v want="$dep" \
            '{ for (i = 2; i <= NF; i++) { gsub(/[(),].*/, "", $i); if ($i == want) { print $1; exit } } }')")
    fi
done
started=$SECONDS
tarball=$("$SOURCE_DIR/tests/packaging/rootfs.sh" "${deb_depends[@]}") || { echo "cannot make the Debian 12 root"; exit 1; }
echo "root: $tarball ($((SECONDS - started)) s)"
mkdir -p "$ROOT" "$BPFFS"
tar -C "$ROOT" -xf "$tarball"
mount -t bpf bpf "$BPFFS"

# Test material inside the root: packages (N and N+1), the fake upstream and its PKI, clients.
T="$ROOT/opt/sluice-test"
mkdir -p "$T/clients"
cp "$DEB" "$T/sluice_N.deb"
next="$WORK/next"
dpkg-deb -R "$DEB" "$next"
sed -i "s/^Version: .*/Version: ${version}+1/" "$next/DEBIAN/control"
dpkg-deb --root-owner-group -b "$next" "$T/sluice_N1.deb" >/dev/null
cp "$BUILD_DIR/bin/fake-openai" "$T/"
source "$SOURCE_DIR/tests/e2e/lib/make_test_ca.sh"
make_test_ca "$T/pki"
chmod 755 "$T/pki"
chmod 644 "$T/pki"/*.key
cp -r "$SOURCE_DIR/tests/packaging/clients/." "$T/clients/"
# certifi as pip installs it: Mozilla's roots only.
cat "$ROOT"/usr/share/ca-certificates/mozilla/*.crt >"$T/clients/certifi-venv/certifi/cacert.pem"
javac -d "$T/clients" "$SOURCE_DIR/tests/packaging/clients/Models.java"
cp "$SOURCE_DIR/tests/e2e/clients/chat.mjs" "$T/clients/"
chmod -R a+rX "$T"
echo "127.16.0.1 api.openai.com" >>"$ROOT/etc/hosts"
echo "sluice-test" >"$ROOT/etc/hostname"
# A machine ID of its own: no first-boot wizard (it needs a console).
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$ROOT/etc/machine-id"

# --- boot -----------------------------------------------------------------------------------
mkdir -p "$TEST_CGROUP"
[[ -n "$LEGACY_CGROUP" ]] && mkdir -p "$LEGACY_CGROUP"
node_bin=$(command -v node)
(
    # nspawn (--keep-unit, no registration) builds the container's cgroups under its own.
    echo "$BASHPID" >"$TEST_CGROUP/cgroup.procs"
    [[ -n "$LEGACY_CGROUP" ]] && echo "$BASHPID" >"$LEGACY_CGROUP/cgroup.procs"
    export SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1
    exec systemd-nspawn -D "$ROOT" -b --register=no --keep-unit --private-network --console=pipe \
        --machine="sluice-test-$$" --system-call-filter=bpf --capability=CAP_BPF,CAP_PERFMON,CAP_NET_ADMIN \
        --bind="$BPFFS:/sys/fs/bpf" --bind-ro="$node_bin:/usr/local/bin/node" \
        --bind-ro="$SOURCE_DIR/tests/e2e/node_modules:/opt/sluice-test/node_modules"
) >"$WORK/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!

# The container's PID 1: a systemd in the test's cgroup that is PID 1 of its own namespace.
for _ in $(seq 1 120); do
    for pid in $(pgrep -x systemd); do
        grep -q "sluice-nspawn-$$" "/proc/$pid/cgroup" 2>/dev/null || continue
        [[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$pid/status")" == 1 ]] && LEADER=$pid
    done
    [[ -n "$LEADER" ]] && break
    sleep 0.5
done
[[ -n "$LEADER" ]] || { echo "the container did not start:"; tail -30 "$WORK/console.log"; exit 1; }

# Runs a command in the container as a transient unit (in the container's cgroups; the
# manager's environment, as services get it). Root unless -p User=... is passed first.
run_unit() { nsenter -t "$LEADER" -a systemd-run --quiet --pipe --wait --collect "$@"; }
# Runs a command as root straight in the container's namespaces (not in its cgroups).
in_container() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin "$@"; }

state=""
for _ in $(seq 1 240); do
    state=$(in_container systemctl is-system-running 2>/dev/null)
    [[ "$state" == running || "$state" == degraded ]] && break
    sleep 0.5
done
echo "booted in $((SECONDS - started)) s: $state"
[[ "$state" == running || "$state" == degraded ]] || { echo "boot did not finish:"; tail -40 "$WORK/console.log"; exit 1; }
in_container systemctl --failed --no-legend

# The fake upstream (what sluiced dials) and the never-accept listener on the target address
# (what a connection that went direct would reach).
in_container useradd --create-home --shell /bin/bash tester
nsenter -t "$LEADER" -a systemd-run --quiet --unit=fake-openai -p Type=exec /opt/sluice-test/fake-openai \
    --listen 127.16.0.2:443 --cert /opt/sluice-test/pki/api.openai.com.crt \
    --key /opt/sluice-test/pki/api.openai.com.key --expect-key sk-real-test-key
nsenter -t "$LEADER" -a systemd-run --quiet --unit=direct-listener -p Type=exec \
    python3 /opt/sluice-test/clients/never_accept.py 127.16.0.1 443 /var/tmp/direct-accepts
sleep 1

# --- install ----------------------------------------------------------------------------------
out=$(run_unit env DEBIAN_FRONTEND=noninteractive dpkg -i /opt/sluice-test/sluice_N.deb 2>&1)
expect_contains "dpkg -i installs the package" "$out" "Setting up sluice"
expect_eq "the service is enabled" "$(in_container systemctl is-enabled sluiced.service 2>&1)" "enabled"
expect_eq "the service is active (sd_notify READY=1)" "$(in_container systemctl is-active sluiced.service 2>&1)" "active"
[[ "$(in_container systemctl is-active sluiced.service)" == active ]] ||
    in_container journalctl -u sluiced.service --no-pager -o cat | tail -25
expect_eq "Type=notify" "$(in_container systemctl show -P Type sluiced.service)" "notify"
verify=$(in_container systemd-analyze verify sluiced.service 2>&1)
expect_eq "systemd-analyze verify is clean" "$verify" ""
expect_contains "the journal has 'ready' at info" "$(in_container journalctl -u sluiced.service -p info --no-pager)" "ready: proxy on"
expect_not_contains "... and not at warning" "$(in_container journalctl -u sluiced.service -p warning --no-pager)" "ready: proxy on"
expect_eq "runs as user sluice" "$(in_container ps -o user= -C sluiced | head -1)" "sluice"
caps=$(in_container sh -c 'grep CapEff /proc/$(pidof sluiced)/status')
expect_eq "only the documented capabilities (BPF NET_ADMIN PERFMON SYS_PTRACE DAC_READ_SEARCH SYS_ADMIN)" \
    "$(echo "$caps" | awk '{print $2}')" "000000c000281004"
expect_contains "the sluice user and group exist" "$(in_container getent passwd sluice)" "/var/lib/sluice"
expect_eq "state dir 0700 sluice" "$(in_container stat -c '%a %U' /var/lib/sluice)" "700 sluice"
expect_eq "CA key 0600" "$(in_container stat -c '%a %U' /var/lib/sluice/ca.key)" "600 sluice"
expect_eq "the CA is in the system store" \
    "$(in_container sh -c 'grep -c "BEGIN CERT" /usr/local/share/ca-certificates/sluice/sluice-ca.crt')" "1"
java_store=$(in_container sh -c 'keytool -list -cacerts -storepass changeit 2>/dev/null | grep -ci sluice')
expect_eq "the CA is in Java's cacerts (ca-certificates-java hook)" "${java_store:-0}" "1"

# The redirect sits at the container's cgroup root: a child of the host's tree, never its root.
host_root_progs=$(bpftool cgroup show "$CGROUP2" 2>/dev/null | grep -c sluice)
expect_eq "nothing attached at the host's cgroup root" "$host_root_progs" "0"
container_root=$(find "$TEST_CGROUP" -maxdepth 2 -name init.scope -printf '%h\n' | head -1)
attached_below=$(bpftool cgroup tree "$TEST_CGROUP" 2>/dev/null | grep -c "sluice_connect4\|connect4")
if [[ "$attached_below" -ge 1 ]]; then pass "attached inside the test's cgroup ($container_root)"; else
    fail "no program attached under $TEST_CGROUP"; fi

# --- the real key, the test config: intercept 127.16.0.1, dial the fake upstream --------------
in_container sh -c 'umask 077; printf sk-real-test-key >/etc/sluice/openai.key; cp /opt/sluice-test/pki/upstream-ca.crt /etc/sluice/test-upstream-ca.crt'
in_container sh -c 'cat >/etc/sluice/sluiced.yaml' <<'EOF'
intercept:
  - host: api.openai.com
    port: 443
    addresses: [127.16.0.1]
upstream:
  api.openai.com:
    connect: 127.16.0.2:443
    ca_file: /etc/sluice/test-upstream-ca.crt
    api_key_file: /etc/sluice/openai.key
EOF
in_container systemctl restart sluiced.service
expect_eq "restarted with the test config" "$(in_container systemctl is-active sluiced.service)" "active"

# --- clients, unmodified, as an ordinary user -------------------------------------------------
CURL='curl -sS -o /dev/null -w %{http_code} -H "Authorization: Bearer sk-dummy" https://api.openai.com/v1/models'
as_login() { run_unit runuser -l tester -c "$1"; }
expect_eq "curl, login shell" "$(as_login "$CURL" 2>&1)" "200"
expect_eq "python urllib, login shell" "$(as_login 'python3 /opt/sluice-test/clients/urllib_models.py' 2>&1)" "200"
expect_eq "python requests with a pip-style certifi (Mozilla roots only), login shell" \
    "$(as_login 'PYTHONPATH=/opt/sluice-test/clients/certifi-venv python3 /opt/sluice-test/clients/requests_models.py' 2>&1)" "200"
expect_eq "python httpx with a pip-style certifi, login shell" \
    "$(as_login 'PYTHONPATH=/opt/sluice-test/clients/certifi-venv python3 /opt/sluice-test/clients/httpx_models.py' 2>&1)" "200"
node_out=$(as_login 'cd /opt/sluice-test && OPENAI_API_KEY=sk-dummy node clients/chat.mjs hello' 2>&1)
expect_contains "node openai client, login shell" "$node_out" '"content":"echo: hello"'
expect_eq "java HttpClient, login shell" \
    "$(as_login 'java -cp /opt/sluice-test/clients Models' 2>&1 | tail -1)" "200"
# A service (the manager's environment, from the environment generator) and a non-login PAM
# session (pam_env reads /etc/environment, as cron's does).
node_service=$(run_unit -p User=tester -p WorkingDirectory=/opt/sluice-test -E OPENAI_API_KEY=sk-dummy \
    node clients/chat.mjs service 2>&1)
expect_contains "node openai client as a systemd service" "$node_service" '"content":"echo: service"'
expect_eq "python requests (pip-style certifi) as a systemd service" \
    "$(run_unit -p User=tester -E PYTHONPATH=/opt/sluice-test/clients/certifi-venv python3 /opt/sluice-test/clients/requests_models.py 2>&1)" "200"
# env -i drops the manager's environment: only PAM's pam_env (/etc/environment) is left, as
# for a cron job.
expect_eq "python requests (pip-style certifi), PAM session with an empty environment (as cron)" \
    "$(run_unit env -i PATH=/usr/bin:/bin su tester -s /bin/sh -c 'PYTHONPATH=/opt/sluice-test/clients/certifi-venv python3 /opt/sluice-test/clients/requests_models.py' 2>&1)" "200"
doctor=$(run_unit sluicectl doctor 2>&1)
doctor_status=$?
expect_eq "sluicectl doctor passes every line (root)" "$doctor_status" "0"
expect_contains "doctor checked node through the redirect" "$doctor" "PASS  node"
expect_contains "doctor checked java's cacerts" "$doctor" "PASS  java"
[[ $doctor_status == 0 ]] || echo "$doctor"
doctor_user=$(as_login 'sluicectl doctor --json' 2>&1)
expect_contains "doctor as a user outside group sluice: the daemon line says how to get access" "$doctor_user" "group sluice"
expect_contains "doctor --json as a user: python requests trusts sluice" "$doctor_user" '"check": "python3 requests"'
in_container usermod -aG sluice tester
expect_eq "an operator in group sluice may run sluicectl status" \
    "$(as_login 'sluicectl status >/dev/null && echo allowed' 2>&1)" "allowed"
audit=$(in_container cat /var/log/sluice/audit.jsonl)
expect_contains "requests are audited with the user" "$audit" '"user":"tester"'

# --- restart, upgrade, kill, stop: no connection ever goes direct ----------------------------
# A client loop runs throughout; a direct connection would be accepted by direct-listener.
# (No "$" in the command: systemd would expand it.)
nsenter -t "$LEADER" -a systemd-run --quiet --unit=client-loop -p User=tester -p Type=exec sh -c \
    'seq 400 | while read -r _; do curl -s -o /dev/null -m 2 https://api.openai.com/v1/models; sleep 0.05; done'

in_container systemctl restart sluiced.service
expect_eq "active after systemctl restart" "$(in_container systemctl is-active sluiced.service)" "active"

out=$(run_unit env DEBIAN_FRONTEND=noninteractive dpkg -i /opt/sluice-test/sluice_N1.deb 2>&1)
expect_contains "upgrade to N+1" "$out" "Setting up sluice (${version}+1)"
expect_eq "active after the upgrade" "$(in_container systemctl is-active sluiced.service)" "active"
expect_contains "the edited config survived the upgrade (conffile)" "$(in_container cat /etc/sluice/sluiced.yaml)" "127.16.0.2:443"
expect_eq "curl after the upgrade" "$(as_login "$CURL" 2>&1)" "200"

wait_restarted() { # $1: old main PID; waits for a new active one
    local pid=""
    for _ in $(seq 1 90); do
        pid=$(in_container systemctl show -P MainPID sluiced.service)
        [[ "$pid" != 0 && "$pid" != "$1" && "$(in_container systemctl is-active sluiced.service)" == active ]] && return 0
        sleep 0.5
    done
    return 1
}
# (A MainPID of 0 would make `kill` signal its own process group: this test.)
pid=$(in_container systemctl show -P MainPID sluiced.service)
[[ "$pid" -gt 1 ]] && in_container kill -9 "$pid"
if wait_restarted "$pid"; then pass "a killed sluiced is restarted"; else fail "a killed sluiced was not restarted"; fi
pid=$(in_container systemctl show -P MainPID sluiced.service)
[[ "$pid" -gt 1 ]] && in_container kill -STOP "$pid"
if wait_restarted "$pid"; then pass "a stopped (SIGSTOP) sluiced is restarted by the watchdog"; else
    fail "the watchdog did not restart a stopped sluiced"; fi
expect_contains "the journal names the watchdog" "$(in_container journalctl -u sluiced.service --no-pager)" "Watchdog timeout"
expect_eq "curl after the watchdog restart" "$(as_login "$CURL" 2>&1)" "200"
in_container systemctl stop client-loop.service 2>/dev/null
expect_eq "no connection went direct during restart, upgrade, kill and watchdog" \
    "$(in_container cat /var/tmp/direct-accepts 2>/dev/null || echo 0)" "0"

# --- remove: nothing attached, nothing trusted; purge: no state, no user ---------------------
ca_line=$(in_container sed -n 2p /etc/sluice/ca.crt)
expect_eq "the CA is in the system bundle before remove" \
    "$(in_container grep -cF "$ca_line" /etc/ssl/certs/ca-certificates.crt)" "1"
out=$(run_unit env DEBIAN_FRONTEND=noninteractive apt-get remove -y sluice 2>&1)
expect_contains "apt-get remove" "$out" "Removing sluice"
left=$(bpftool cgroup tree "$TEST_CGROUP" 2>/dev/null | grep -c connect4)
expect_eq "no programs attached after remove" "$left" "0"
# (progs.debug and maps.debug are the kernel's own, in every bpffs.)
expect_eq "no pins after remove" "$(find "$BPFFS" -mindepth 1 ! -name '*.debug')" ""
expect_eq "the CA is gone from the system bundle" \
    "$(in_container grep -cF "$ca_line" /etc/ssl/certs/ca-certificates.crt)" "0"
expect_eq "no sluice anchor" "$(in_container sh -c 'ls /usr/local/share/ca-certificates/sluice 2>/dev/null | wc -l')" "0"
java_store=$(in_container sh -c 'keytool -list -cacerts -storepass changeit 2>/dev/null | grep -i sluice')
expect_eq "the CA is gone from Java's cacerts" "$java_store" ""
[[ -z "$java_store" ]] || echo "$out"
expect_not_contains "no environment block" "$(in_container cat /etc/environment)" "sluice"
expect_not_contains "no manager environment" "$(in_container systemctl show-environment)" "NODE_EXTRA_CA_CERTS"
as_login "curl -s -o /dev/null -m 3 https://api.openai.com/v1/models" >/dev/null 2>&1
expect_eq "after remove, connections go to the target again (not to a closed port)" \
    "$(in_container cat /var/tmp/direct-accepts)" "1"
out=$(run_unit env DEBIAN_FRONTEND=noninteractive dpkg --purge sluice 2>&1)
expect_contains "purge" "$out" "Purging configuration files for sluice"
expect_eq "purge removes state, logs and config" \
    "$(in_container sh -c 'ls -d /var/lib/sluice /var/log/sluice /etc/sluice 2>/dev/null | wc -l')" "0"
expect_eq "purge removes the user" "$(in_container sh -c 'getent passwd sluice | wc -l')" "0"

# --- where systemd is not PID 1 (image builds, chroots): the scripts still succeed ----------
kill -TERM "$NSPAWN_PID" 2>/dev/null
for _ in $(seq 1 60); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.5; done
out=$(chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    dpkg -i /opt/sluice-test/sluice_N.deb 2>&1)
expect_contains "dpkg -i in a chroot (no systemd running)" "$out" "Setting up sluice"
expect_eq "... enables the unit for the next boot" "$(chroot "$ROOT" systemctl is-enabled sluiced.service 2>&1)" "enabled"
out=$(chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin dpkg --purge sluice 2>&1)
expect_contains "dpkg --purge in a chroot" "$out" "Purging configuration files for sluice"

echo "$NAME: $PASSED passed, $FAILED failed"
[[ $FAILED -eq 0 && $PASSED -gt 0 ]]
