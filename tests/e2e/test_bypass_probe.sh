#!/usr/bin/env bash
# An attacker inside an intercepted cgroup, with the dummy key and raw clients (Python ssl,
# hand-made ClientHellos): every way of writing a request that policy would refuse is either
# refused before upstream sees it, or reaches upstream as exactly the canonical request the
# policy decided on (docs/bypass-coverage.md, "What upstream receives").
#   - Content-Type (case, parameters, missing, wrong) and Content-Encoding do not decide whether
#     the body is read;
#   - request targets (absolute form, dot segments, doubled slashes, percent-encoding, case) and
#     Host values cannot route a request around endpoint rules or to another authority;
#   - TLS without SNI is served as the intercepted host; a foreign SNI or Encrypted Client Hello
#     is refused unless allowlisted; a trailing-dot SNI dials the configured upstream;
#   - 2,000 stalled ClientHellos cost little CPU, do not delay a real client and end at the
#     deadline; a slowloris request header gets 408 and an audit line;
#   - a request in flight when sluiced is killed is in the audit after the restart;
#   - sluicectl status says "permission denied" to a user it refuses; a key file others may read
#     is refused; pooled upstream connections the upstream closed are reaped.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
PROBE="/usr/bin/python3 $E2E_NODE_DIR/clients/probe.py"
POLICY="$E2E_DIR/policy.yaml"
MARKER="SLUICE-BLOCKED-4242"
cat >"$POLICY" <<YAML
version: 1
default: deny
pattern_sets:
  markers:
    - name: test_marker
      regex: 'SLUICE-BLOCKED-[0-9]+'
block_prompts:
  sets: [markers]
rules:
  - name: people
    match: {users: [$E2E_USER]}
    endpoints: {deny: ["POST /v1/embeddings"]}
    models: {allow: [gpt-4o-mini]}
    max_tokens: {limit: 64, mode: clamp}
YAML
# The upstream is reached through upstream.<host>.connect only: the intercepted address itself
# (127.14.0.9, what api.openai.com resolves to for clients) has nothing listening.
INTERCEPTED_IP=127.14.0.9
e2e_write_config "policy: $POLICY
passthrough_sni: [\"allowed.example\"]"
sed -i "s/addresses: \[$E2E_UPSTREAM_IP\]/addresses: [$INTERCEPTED_IP]/" "$E2E_CONFIG"
sed -i "s|    ca_file: |    connect: $E2E_UPSTREAM_IP:443\n    ca_file: |" "$E2E_CONFIG"
printf '127.0.0.1 localhost\n%s api.openai.com\n' "$INTERCEPTED_IP" >"$E2E_DIR/hosts"
start_upstream || exit 1
start_sluiced || exit 1

upstream_count() { upstream_query 'len(records)'; }
probe() { run_client $PROBE request "$@"; }
GOOD='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
BAD_MODEL='{"model":"gpt-4o","messages":[{"role":"user","content":"hello"}]}'
BLOCKED="{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"$MARKER\"}]}"

out="$(probe POST /v1/chat/completions --content-type application/json --body "$GOOD")"
expect_contains "a canonical request goes through" "$out" "STATUS 200"

# --- 1. the body is read whatever the Content-Type says ---------------------------------------
before="$(upstream_count)"
for type in "Application/JSON" "text/plain" "application/x-www-form-urlencoded" "multipart/form-data; boundary=x" "none"; do
    args=(--content-type "$type"); [[ "$type" == none ]] && args=()
    out="$(probe POST /v1/chat/completions "${args[@]}" --body "$BAD_MODEL")"
    expect_contains "Content-Type '$type': a forbidden model is refused" "$out" "STATUS 403"
    out="$(probe POST /v1/chat/completions "${args[@]}" --body "$BLOCKED")"
    expect_contains "Content-Type '$type': a blocked prompt is refused" "$out" '"code":"prompt_blocked"'
done
out="$(probe POST /v1/chat/completions --content-type application/json --encoding gzip --body "$BLOCKED")"
expect_contains "a gzip body the policy cannot read is refused with 415" "$out" "STATUS 415"
out="$(probe POST /v1/chat/completions --content-type text/plain --body "not json at all")"
expect_contains "a body that is not JSON is refused with 400" "$out" "STATUS 400"
expect_eq "none of them reached upstream" "$(upstream_count)" "$before"
out="$(probe POST /v1/chat/completions --content-type text/plain --body '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"clamp"}],"max_tokens":5000}')"
expect_contains "a text/plain JSON body is decided on like any other" "$out" "STATUS 200"
expect_eq "and its max_tokens clamp reached upstream" \
    "$(upstream_query '[body(r).get("max_tokens") for r in records if "clamp" in r.get("body", "")]')" "[64]"

# --- 2. targets and Host ---------------------------------------------------------------------
before="$(upstream_count)"
out="$(probe POST https://evil.example/v1/chat/completions --body "$GOOD")"
expect_contains "an absolute target naming another authority gets 421" "$out" "STATUS 421"
out="$(probe POST /v1/chat/completions --host evil.example --body "$GOOD")"
expect_contains "a Host naming another authority gets 421" "$out" "STATUS 421"
for target in /v1/embeddings https://api.openai.com/v1/embeddings //v1/embeddings /v1/%65mbeddings /v1/./embeddings \
              /V1/EMBEDDINGS /v1/embeddings/ "/v1/embeddings;x"; do
    out="$(probe POST "$target" --content-type application/json --body '{"model":"gpt-4o-mini","input":"x"}')"
    check "POST $target to a denied endpoint is refused ($(head -1 <<<"$out"))" grep -qE 'STATUS (400|403)' <<<"$out"
done
expect_eq "none of them reached upstream" "$(upstream_count)" "$before"
out="$(probe POST https://API.OPENAI.COM./v1/chat/completions --host API.openai.com:443 --body "$GOOD")"
expect_contains "an absolute target naming the intercepted host is served" "$out" "STATUS 200"
expect_eq "upstream got it in origin form with the canonical Host" \
    "$(upstream_query '[(r["path"], r["headers"].get("host")) for r in records][-1]')" "('/v1/chat/completions', 'api.openai.com')"

# --- generated variants: zero reach upstream unrefused ----------------------------------------
before="$(upstream_count)"
run_client $PROBE variants 400 7 "{\"model\":\"gpt-4o-mini\",\"input\":\"$MARKER\"}" >"$E2E_DIR/variants.jsonl"
expect_eq "400 variants were sent" "$(wc -l <"$E2E_DIR/variants.jsonl")" "400"
expect_eq "no variant was answered 2xx" \
    "$(jsonl_query "$E2E_DIR/variants.jsonl" 'sum(1 for r in records if r["status"] is None or 200 <= r["status"] < 300)')" "0"
expect_eq "no variant reached upstream" "$(upstream_count)" "$before"

# --- 3. SNI ----------------------------------------------------------------------------------
out="$(probe POST /v1/chat/completions --no-sni --body "$BAD_MODEL")"
expect_contains "TLS without SNI is intercepted: the forbidden model is refused" "$out" "STATUS 403"
out="$(probe POST /v1/chat/completions --no-sni --body "$GOOD")"
expect_contains "TLS without SNI is served as api.openai.com" "$out" "STATUS 200"
before="$(upstream_count)"
out="$(probe POST /v1/chat/completions --sni other.example --body "$GOOD")"
expect_contains "a foreign SNI is refused at the handshake" "$out" "TLS"
expect_contains "with an unrecognized_name alert" "$out" "UNRECOGNIZED_NAME"
expect_eq "upstream never saw it" "$(upstream_count)" "$before"
out="$(run_client $PROBE ech)"
expect_eq "Encrypted Client Hello gets a fatal unrecognized_name alert" "$out" "15030300020270"
out="$(run_client openssl s_client -quiet -connect api.openai.com:443 -servername api.openai.com. -CAfile "$E2E_DIR/client-ca.crt" \
    2>/dev/null <<<$'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n')"
expect_contains "a trailing-dot SNI is served through upstream.<host>.connect" "$out" "HTTP/1.1 200"
wait_audit_lines 1
expect_eq "refused hellos are audited with their reason" \
    "$(audit_query 'sorted({r["decision"]["reason"] for r in records if r["decision"]["action"] == "refused"})')" \
    "['encrypted_client_hello', 'sni_not_allowed']"

# --- 4. stalled ClientHellos ------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SLUICED_PID/stat"; }
ticks_before="$(cpu_ticks)"
run_client --root $PROBE stalled-hellos 2000 12.5 >"$E2E_DIR/stalled.out" &
stalled=$!
sleep 4
ticks_mid="$(cpu_ticks)"
t0=$(date +%s%N)
out="$(probe POST /v1/chat/completions --body "$GOOD")"
t1=$(date +%s%N)
expect_contains "a real client is served while 2,000 hellos stall" "$out" "STATUS 200"
check "and is not delayed ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 1500
wait "$stalled"
expect_contains "2,000 stalled connections were opened" "$(cat "$E2E_DIR/stalled.out")" "opened 2000"
expect_contains "every stalled hello is closed by the 10 s deadline" "$(cat "$E2E_DIR/stalled.out")" "closed 2000"
ticks_used=$((ticks_mid - ticks_before))
check "holding 2,000 stalled hellos cost sluiced little CPU ($ticks_used ticks incl. accepting them)" test "$ticks_used" -lt 150

# --- 5. slowloris: a header that never finishes gets 408 and an audit line -------------------
sed -i '/^limits:/d' "$E2E_CONFIG"
printf 'limits:\n  client_idle_timeout_ms: 1500\n' >>"$E2E_CONFIG"
stop_sluiced
start_sluiced || exit 1
out="$(run_client /usr/bin/python3 "$E2E_NODE_DIR/clients/raw_tls.py" 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\n<pause><pause><pause><pause><pause>X-Late: 1\r\n')"
expect_contains "a header that never finishes gets 408" "$out" "HTTP/1.1 408"
wait_audit_lines 1
expect_eq "the slowloris is audited" "$(audit_query 'sum(1 for r in records if r["response"]["status"] == 408)')" "1"

# --- 6. smaller gaps --------------------------------------------------------------------------
out="$(run_client "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status 2>&1)"; rc=$?
expect_contains "sluicectl status as a user the admin socket refuses says so" "$out" "permission denied"
check "and exits non-zero ($rc), not 'not running'" test "$rc" -ne 0
expect_not_contains "it does not claim sluiced is down" "$out" "not running"

chmod 644 "$E2E_DIR/openai.key"
"$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" reload >/dev/null
out="$(probe POST /v1/chat/completions --body "$GOOD")"
expect_contains "a key file others may read is refused: 503" "$out" "STATUS 503"
expect_contains "status says why" "$("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status)" "accessible by group or others (mode 0644)"
chmod 600 "$E2E_DIR/openai.key"
"$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" reload >/dev/null
out="$(probe POST /v1/chat/completions --body "$GOOD")"
expect_contains "once 0600 it is used again" "$out" "STATUS 200"

# Idle upstream connections the upstream closed are reaped, not left in CLOSE-WAIT.
# (Waits name their jobs: a bare `wait` would also wait for sluiced and fake-openai.)
probes=()
for i in $(seq 12); do probe POST /v1/chat/completions --body "$GOOD" >/dev/null & probes+=($!); done
wait "${probes[@]}"
close_wait() { ss -Htn state close-wait "( dport = :443 )" dst "$E2E_UPSTREAM_IP" | wc -l; }
stop_fake_openai
sleep 0.5
idle_before="$(close_wait)"
sleep 4.5
expect_eq "pooled connections the upstream closed are reaped within seconds (were $idle_before)" "$(close_wait)" "0"
start_upstream || exit 1

# --- 7. a request in flight when sluiced is killed is in the audit after the restart ---------
stop_fake_openai
start_upstream --latency-ms 3000 || exit 1
probe POST /v1/chat/completions --body "$GOOD" >/dev/null &
cut_probe=$!
sleep 1
kill -9 "$SLUICED_PID"; wait "$SLUICED_PID" 2>/dev/null; SLUICED_PID=
start_sluiced || exit 1
sleep 0.5
expect_eq "the request cut by the crash is recorded as never completed" \
    "$(audit_query 'sum(1 for r in records if r["decision"]["reason"] == "sluiced_stopped")')" "1"
wait "$cut_probe"

e2e_finish
