#!/usr/bin/env bash
# Several intercepted hosts, each with its own upstream entry: each gets its own real key and
# trusts only its own extra CA, so a key is never sent to a host it was not configured for; a
# host with no upstream entry gets a 503 of its own (upstream_not_configured), audited.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup

OTHER_HOST=other.example
UNCONFIGURED_HOST=unconfigured.example
OTHER_IP="${E2E_UPSTREAM_IP%.*}.$(( ${E2E_UPSTREAM_IP##*.} + 2 ))"
UNCONFIGURED_IP="${E2E_UPSTREAM_IP%.*}.$(( ${E2E_UPSTREAM_IP##*.} + 3 ))"
OTHER_KEY="sk-other-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
OTHER_RECORD="$E2E_DIR/other-requests.jsonl"
# The second upstream's certificate comes from a CA of its own, given only as its ca_file.
make_test_ca "$E2E_DIR/pki-other" >/dev/null
printf '%s\n' "$OTHER_KEY" >"$E2E_DIR/other.key"
chmod 600 "$E2E_DIR/other.key"
printf '127.0.0.1 localhost\n%s api.openai.com\n%s %s\n%s %s\n' "$E2E_UPSTREAM_IP" "$OTHER_IP" "$OTHER_HOST" \
    "$UNCONFIGURED_IP" "$UNCONFIGURED_HOST" >"$E2E_DIR/hosts"

cat >"$E2E_CONFIG" <<YAML
listen: 127.0.0.1:$E2E_PROXY_PORT
cgroup: $E2E_CGROUP
state_dir: $E2E_DIR/state
intercept:
  - host: api.openai.com
    addresses: [$E2E_UPSTREAM_IP]
  - host: $OTHER_HOST
    addresses: [$OTHER_IP]
  - host: $UNCONFIGURED_HOST
    addresses: [$UNCONFIGURED_IP]
upstream:
  api.openai.com:
    ca_file: $E2E_DIR/pki/upstream-ca.crt
    api_key_file: $E2E_DIR/openai.key
  $OTHER_HOST:
    ca_file: $E2E_DIR/pki-other/ca.crt
    api_key_file: $E2E_DIR/other.key
audit:
  path: $E2E_AUDIT
admin: $E2E_DIR/admin.sock
pin_dir: $E2E_PIN_DIR
YAML

start_upstream || exit 1
"$E2E_BIN_DIR/fake-openai" --listen "$OTHER_IP:443" --cert "$E2E_DIR/pki-other/$OTHER_HOST.crt" \
    --key "$E2E_DIR/pki-other/$OTHER_HOST.key" --expect-key "$OTHER_KEY" --record "$OTHER_RECORD" \
    >"$E2E_DIR/other-upstream.log" 2>&1 &
OTHER_PID=$!
trap 'kill "$OTHER_PID" 2>/dev/null; e2e_cleanup' EXIT
for _ in $(seq 100); do grep -q '^listening on ' "$E2E_DIR/other-upstream.log" && break; sleep 0.05; done
start_sluiced || exit 1

chat() {
    run_client curl -sS --max-time 10 -H "Authorization: Bearer $E2E_DUMMY_KEY" -H 'Content-Type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}' "https://$1/v1/chat/completions"
}

reply="$(chat api.openai.com)"
expect_contains "api.openai.com answers with its own key" "$reply" '"echo: hello"'
reply="$(chat "$OTHER_HOST")"
expect_contains "$OTHER_HOST answers (its own key, its own CA)" "$reply" '"echo: hello"'
expect_eq "$OTHER_HOST received only its own key" \
    "$(jsonl_query "$OTHER_RECORD" "sorted({r['headers'].get('authorization', '') for r in records})")" \
    "['Bearer $OTHER_KEY']"
expect_eq "api.openai.com received only its own key" \
    "$(upstream_query "sorted({r['headers'].get('authorization', '') for r in records})")" "['Bearer $E2E_REAL_KEY']"
if grep -q -- "$E2E_REAL_KEY" "$OTHER_RECORD"; then fail "the OpenAI key reached $OTHER_HOST"
else pass "the OpenAI key never reached $OTHER_HOST"; fi

reply="$(chat "$UNCONFIGURED_HOST")"
expect_contains "a host with no upstream entry gets 503 upstream_not_configured" "$reply" '"code":"upstream_not_configured"'
wait_audit_lines 3
expect_eq "the refusal is audited for that host" \
    "$(audit_query "[(r['connection']['sni'], r['response']['status'], r['decision'].get('code')) for r in records if r['connection']['sni'] == '$UNCONFIGURED_HOST']")" \
    "[('$UNCONFIGURED_HOST', 503, 'upstream_not_configured')]"

status="$("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status)"
expect_eq "status shows each host's key" \
    "$(python3 -c 'import json,sys; u=json.load(sys.stdin)["upstreams"]; print(sorted((h, v["api_key_loaded"]) for h, v in u.items()))' <<<"$status")" \
    "[('api.openai.com', True), ('$OTHER_HOST', True)]"
expect_not_contains "status holds no key material" "$status" "$OTHER_KEY"

e2e_finish
