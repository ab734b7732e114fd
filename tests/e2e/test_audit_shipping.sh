#!/usr/bin/env bash
# Audit shipping (issue 20): sluiced ships every audit line to a real rsyslog this test starts
# (RFC 5424 over TCP, and over TLS with rsyslog's GnuTLS driver) and to a small OTLP/HTTP
# receiver on loopback. Every line arrives once, in order, byte for byte, so what rsyslog wrote
# verifies with `sluicectl audit verify`. Collectors down for a while: nothing is lost, the
# spool delivers when they are back. A spool past its bound with failure_mode open drops the
# oldest and the audit says so; with failure_mode closed requests are refused (503
# audit_unavailable) until the collector has taken the spool, then served again.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
SLUICECTL="$E2E_BIN_DIR/sluicectl"
RSYSLOGD=/usr/sbin/rsyslogd
if [[ ! -x "$RSYSLOGD" ]]; then echo "rsyslog is not installed (scripts/deps)"; exit 1; fi
COLLECTOR_IP="${E2E_UPSTREAM_IP%.*}.7"
TCP_PORT="$(e2e_free_port)"
TLS_PORT="$(e2e_free_port)"
OTLP_PORT="$(e2e_free_port)"
COLLECTOR_DIR="$E2E_DIR/collector"
mkdir -p "$COLLECTOR_DIR/work"

# --- a certificate for the TLS collector, from the test CA --------------------------------------
(
    cd "$E2E_DIR/pki" && umask 077
    openssl ecparam -name prime256v1 -genkey -noout -out collector.key 2>/dev/null
    openssl req -new -key collector.key -subj "/CN=collector.test" -out collector.csr 2>/dev/null
    printf '%s\n' "basicConstraints=critical,CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" "subjectAltName=DNS:collector.test" >collector.ext
    openssl x509 -req -in collector.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days 2 -extfile collector.ext -out collector.crt 2>/dev/null
)

# --- rsyslog: a config of its own, listening on the test's addresses only ----------------------
cat >"$COLLECTOR_DIR/rsyslog.conf" <<EOF
global(workDirectory="$COLLECTOR_DIR/work" maxMessageSize="1m"
       defaultNetstreamDriverCAFile="$E2E_DIR/pki/ca.crt"
       defaultNetstreamDriverCertFile="$E2E_DIR/pki/collector.crt"
       defaultNetstreamDriverKeyFile="$E2E_DIR/pki/collector.key")
module(load="imtcp" maxSessions="20")
template(name="line" type="string" string="%msg%\n")
ruleset(name="plain") { action(type="omfile" file="$COLLECTOR_DIR/tcp.jsonl" template="line") }
ruleset(name="tls") { action(type="omfile" file="$COLLECTOR_DIR/tls.jsonl" template="line") }
input(type="imtcp" address="$COLLECTOR_IP" port="$TCP_PORT" ruleset="plain")
input(type="imtcp" address="$COLLECTOR_IP" port="$TLS_PORT" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
EOF
RSYSLOG_PID=
start_rsyslog() {
    "$RSYSLOGD" -n -f "$COLLECTOR_DIR/rsyslog.conf" -i "$COLLECTOR_DIR/rsyslog.pid" \
        >>"$COLLECTOR_DIR/rsyslog.log" 2>&1 &
    RSYSLOG_PID=$!
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/$COLLECTOR_IP/$TLS_PORT") 2>/dev/null && return 0
        sleep 0.05
    done
    echo "rsyslog did not start" >&2; cat "$COLLECTOR_DIR/rsyslog.log" >&2; return 1
}
stop_rsyslog() {
    [[ -n "$RSYSLOG_PID" ]] || return 0
    kill -TERM "$RSYSLOG_PID" 2>/dev/null; wait "$RSYSLOG_PID" 2>/dev/null; RSYSLOG_PID=
}

# --- an OTLP/HTTP receiver: appends each log record's body to a file ----------------------------
OTLP_PID=
start_otlp() {
    python3 - "$COLLECTOR_IP" "$OTLP_PORT" "$COLLECTOR_DIR/otlp.jsonl" <<'PY' &
import http.server, json, sys
host, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        ok = self.path == "/v1/logs" and self.headers.get("Content-Type") == "application/json"
        if ok:
            with open(out, "a") as f:
                for rl in body["resourceLogs"]:
                    for sl in rl["scopeLogs"]:
                        for r in sl["logRecords"]:
                            f.write(r["body"]["stringValue"] + "\n")
        self.send_response(200 if ok else 400)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
    def log_message(self, *args):
        pass
http.server.HTTPServer((host, port), Receiver).serve_forever()
PY
    OTLP_PID=$!
    local i
    for i in $(seq 100); do (exec 3<>"/dev/tcp/$COLLECTOR_IP/$OTLP_PORT") 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
stop_otlp() { [[ -n "$OTLP_PID" ]] || return 0; kill "$OTLP_PID" 2>/dev/null; wait "$OTLP_PID" 2>/dev/null; OTLP_PID=; }
trap 'stop_rsyslog; stop_otlp; e2e_cleanup' EXIT

# set_audit_extra YAML: the lines after "  path: …" in the config's audit block.
set_audit_extra() {
    python3 - "$E2E_CONFIG" "$1" <<'PY'
import sys
path, extra = sys.argv[1], sys.argv[2]
out, skipping = [], False
for line in open(path).read().splitlines():
    if skipping and line.startswith("  "):
        continue
    skipping = False
    out.append(line)
    if line.startswith("  path: ") and out[-2] == "audit:":
        out.extend(extra.splitlines())
        skipping = True
open(path, "w").write("\n".join(out) + "\n")
PY
}
# The TLS collector is named collector.test in its certificate; sluice checks that name.
set_audit_extra "  checkpoint_records: 5
  ship:
    syslog: tls://$COLLECTOR_IP:$TLS_PORT
    otlp: http://$COLLECTOR_IP:$OTLP_PORT
    tls: {ca_file: $E2E_DIR/pki/ca.crt, server_name: collector.test}"
request() { run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" "$@" >/dev/null; }
ONE='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"shipped"}]}'
same_lines() {  # same_lines FILE: FILE holds exactly the local audit's lines, in order
    local i
    for i in $(seq 200); do cmp -s "$E2E_AUDIT" "$1" && return 0; sleep 0.05; done
    diff <(cut -c1-120 "$E2E_AUDIT") <(cut -c1-120 "$1") | head -5
    return 1
}

start_rsyslog || exit 1
start_otlp || exit 1
start_upstream || exit 1
start_sluiced || exit 1
request 3 "$ONE"
wait_audit_lines 3
check "rsyslog (TLS) received every audit line, once, in order, byte for byte" same_lines "$COLLECTOR_DIR/tls.jsonl"
check "the OTLP receiver received every audit line, once, in order" same_lines "$COLLECTOR_DIR/otlp.jsonl"

# --- collectors down for a while: nothing lost, delivered when back ---------------------------
stop_rsyslog
stop_otlp
request 4 "$ONE"
wait_audit_lines 7
sleep 0.5
status="$("$SLUICECTL" --config "$E2E_CONFIG" status)"
check "status shows lines waiting in the spools while the collectors are down" python3 -c '
import json, sys; s = json.load(sys.stdin)["audit_shipping"]
assert s["syslog"]["spooled_bytes"] > 0 and s["otlp"]["spooled_bytes"] > 0, s' <<<"$status"
expect_eq "requests are still served (the local file is the source of truth)" \
    "$(audit_query 'sum(1 for r in records if r.get("response", {}).get("status") == 200)')" "7"
start_rsyslog || exit 1
start_otlp || exit 1
request 1 "$ONE"
check "after the outage rsyslog holds every line exactly once, in order" same_lines "$COLLECTOR_DIR/tls.jsonl"
check "and so does the OTLP receiver" same_lines "$COLLECTOR_DIR/otlp.jsonl"

# --- the collector side can verify the chain --------------------------------------------------
stop_sluiced
check "the shutdown checkpoint reached rsyslog too" same_lines "$COLLECTOR_DIR/tls.jsonl"
verify_out="$("$SLUICECTL" --config "$E2E_CONFIG" audit verify "$COLLECTOR_DIR/tls.jsonl" 2>&1)"; verify_rc=$?
expect_eq "sluicectl audit verify passes on what rsyslog wrote ($verify_out)" "$verify_rc" "0"
expect_contains "with signatures checked" "$verify_out" "with verified signatures"
python3 - "$COLLECTOR_DIR/otlp.jsonl" <<'PY'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[1], "w").write(text.replace('"status":200', '"status":201', 1))
PY
"$SLUICECTL" --config "$E2E_CONFIG" audit verify "$COLLECTOR_DIR/otlp.jsonl" >/dev/null 2>&1; rc=$?
expect_eq "an edited line in the collector's copy fails verify" "$rc" "1"

# --- plain TCP, and a spool past its bound with failure_mode open ------------------------------
set_audit_extra "  ship:
    syslog: tcp://$COLLECTOR_IP:$TCP_PORT
    spool_max_bytes: 4096"
echo "failure_mode: open" >>"$E2E_CONFIG"
rm -rf "$E2E_DIR/state/audit-spool"
start_sluiced || exit 1
request 1 "$ONE"
for i in $(seq 100); do [[ -s "$COLLECTOR_DIR/tcp.jsonl" ]] && break; sleep 0.05; done
check "rsyslog over plain TCP receives the lines" grep -q '"kind":"request"' "$COLLECTOR_DIR/tcp.jsonl"
stop_rsyslog
request 8 "$ONE"
for i in $(seq 60); do grep -q '"kind":"audit_ship_dropped"' "$E2E_AUDIT" && break; sleep 0.1; done
expect_eq "past the spool's bound (failure_mode open) the oldest are dropped and the audit says so" \
    "$(audit_query 'sum(1 for r in records if r.get("kind") == "audit_ship_dropped" and r.get("destination") == "syslog" and r.get("records", 0) > 0) > 0')" "True"
expect_eq "and requests are still served" \
    "$(audit_query 'sum(1 for r in records if r.get("response", {}).get("status") == 200)')" "17"

# --- a spool past its bound with failure_mode closed: refused until the collector is back -----
stop_sluiced
sed -i '/^failure_mode: open$/d' "$E2E_CONFIG"
rm -rf "$E2E_DIR/state/audit-spool"
start_sluiced || exit 1
served_before="$(audit_query 'sum(1 for r in records if r.get("response", {}).get("status") == 200)')"
out="$(run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" 12 "$ONE")"
echo "collector down, failure_mode closed: $(grep -oE '"(status|code)": [^,}]*' <<<"$out" | sort | uniq -c | tr "\n" " ")"
expect_contains "past the spool's bound (failure_mode closed) requests are refused: 503 audit_unavailable" \
    "$out" '"status": 503, "usage": null, "code": "audit_unavailable"'
refused_upstream_before="$(upstream_query 'len(records)')"
start_rsyslog || exit 1
served_again() {
    local i
    for i in $(seq 100); do
        run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" 1 "$ONE" | grep -q '"status": 200' && return 0
        sleep 0.1
    done
    return 1
}
check "once the collector has taken the spool, requests are served again" served_again
check "and the collector got the lines of the refused period too" \
    grep -q '"code":"audit_unavailable"' "$COLLECTOR_DIR/tcp.jsonl"
expect_eq "nothing refused went upstream" \
    "$(( $(upstream_query 'len(records)') - refused_upstream_before ))" "1"
e2e_finish
