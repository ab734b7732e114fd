#!/usr/bin/env bash
# Real, unmodified clients (openai npm SDK, @openai/agents, curl, Python urllib) with a dummy key
# reach the fake api.openai.com through sluice: right answers, the upstream sees only the real
# key, every request is audited with who made it, and a non-intercepted SNI is passed through.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
# other.example shares the intercepted address: allowlisted, it is spliced (passthrough below).
e2e_write_config "passthrough_sni: [other.example]"
start_upstream || exit 1
start_sluiced || exit 1
CLIENTS="$E2E_SOURCE_DIR/tests/e2e/clients"

# --- curl -------------------------------------------------------------------------------------
models="$(run_client curl -sS --max-time 10 https://api.openai.com/v1/models -H "Authorization: Bearer $E2E_DUMMY_KEY")"
expect_contains "curl lists models through sluice" "$models" '"object":"list"'

issuer="$(run_client sh -c 'openssl s_client -connect api.openai.com:443 -servername api.openai.com </dev/null 2>/dev/null | openssl x509 -noout -issuer')"
expect_contains "intercepted connection is served by sluice's CA" "$issuer" "sluice"

# --- openai SDK: chat completion, streamed chat, streamed responses ---------------------------
chat="$(run_client node "$CLIENTS/chat.mjs" "hello sluice")"
expect_contains "openai SDK chat completion answer" "$chat" "hello sluice"
expect_contains "openai SDK chat completion usage" "$chat" '"total_tokens"'

stream="$(run_client node "$CLIENTS/chat_stream.mjs" "stream through sluice")"
expect_contains "openai SDK streamed chat answer" "$stream" "stream through sluice"
expect_contains "openai SDK streamed chat got usage chunk" "$stream" '"completion_tokens"'

responses="$(run_client node "$CLIENTS/responses_stream.mjs" "responses via sluice")"
expect_contains "openai SDK streamed responses answer" "$responses" "responses via sluice"
expect_contains "openai SDK streamed responses usage" "$responses" '"output_tokens"'

# --- @openai/agents with a function tool ------------------------------------------------------
agent="$(run_client node "$CLIENTS/agent_tool.mjs" "weather in Paris?")"
expect_contains "@openai/agents run used the tool output" "$agent" "sunny-and-21C"
expect_contains "@openai/agents called the tool once" "$agent" '"toolCalls":1'

# --- Python urllib ----------------------------------------------------------------------------
py="$(run_client /usr/bin/python3 -c '
import json, os, urllib.request
req = urllib.request.Request("https://api.openai.com/v1/embeddings",
    data=json.dumps({"model": "text-embedding-3-small", "input": "embed me"}).encode(),
    headers={"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"], "Content-Type": "application/json"})
print(urllib.request.urlopen(req, timeout=10).read().decode())')"
expect_contains "python urllib embeddings" "$py" '"embedding"'

# --- large upload streams through (multipart, 3 MiB) ------------------------------------------
head -c $((3 * 1024 * 1024)) /dev/urandom >"$E2E_DIR/upload.bin"
chmod 644 "$E2E_DIR/upload.bin"
upload="$(run_client curl -sS --max-time 20 https://api.openai.com/v1/files -H "Authorization: Bearer $E2E_DUMMY_KEY" \
    -F purpose=batch -F "file=@$E2E_DIR/upload.bin")"
expect_contains "3 MiB multipart upload reaches upstream whole" "$upload" "\"bytes\":$((3 * 1024 * 1024))"

expect_eq "curl's Expect: 100-continue was answered by sluice, not forwarded" \
    "$(upstream_query "[r['headers'].get('expect', r['headers'].get('Expect', '')) for r in records if r['path'] == '/v1/files']")" "['']"
check "curl did send Expect: 100-continue for the upload" grep -q "100-continue" <(run_client curl -sv --max-time 20 https://api.openai.com/v1/files -H "Authorization: Bearer $E2E_DUMMY_KEY" -F purpose=batch -F "file=@$E2E_DIR/upload.bin" 2>&1)

# --- key custody: upstream saw the real key only ----------------------------------------------
expect_eq "upstream saw a request from every client" \
    "$(upstream_query 'len(records) >= 8')" "True"
expect_eq "every upstream request carried the real key" \
    "$(upstream_query "all(r['headers'].get('authorization', r['headers'].get('Authorization')) == 'Bearer $E2E_REAL_KEY' for r in records)")" "True"
expect_eq "the dummy key never reached upstream" \
    "$(grep -c "$E2E_DUMMY_KEY" "$E2E_RECORD")" "0"
check "the real key is in no log or audit line" bash -c "! grep -q '$E2E_REAL_KEY' '$E2E_DIR/sluiced.log' '$E2E_AUDIT'"
check "OpenSSL's record buffers went through sluiced's per-thread cache" \
    bash -c "! grep -q 'record buffers are not cached' '$E2E_DIR/sluiced.log'"

# --- audit: who asked what --------------------------------------------------------------------
wait_audit_lines 9
requests="[r for r in records if r['kind'] == 'request']"
expect_eq "every request is audited with the client's uid" \
    "$(audit_query "all(r['identity']['uid'] == $E2E_UID for r in $requests) and len($requests) >= 8")" "True"
expect_eq "audit names the user" "$(audit_query "sorted({r['identity']['user'] for r in $requests})")" "['$E2E_USER']"
expect_eq "audit names the cgroup" \
    "$(audit_query "all(r['identity']['cgroup'].endswith('$(basename "$E2E_CGROUP")') for r in $requests)")" "True"
expect_eq "audit names node's executable for SDK calls" \
    "$(audit_query "any(r['identity']['exe'].endswith('/node') for r in $requests)")" "True"
expect_eq "audit names curl's executable" \
    "$(audit_query "any(r['identity']['exe'].endswith('/curl') for r in $requests)")" "True"
expect_eq "audit has the model and stream flag" \
    "$(audit_query "any(r['request']['model'] == 'gpt-4o-mini' and r['request']['stream'] for r in $requests)")" "True"
expect_eq "audit has usage of a non-streamed chat" \
    "$(audit_query "any(r['request']['path'] == '/v1/chat/completions' and not r['request']['stream'] and (r['response']['usage'] or {}).get('total_tokens', 0) > 0 for r in $requests)")" "True"
expect_eq "audit has usage from the final chunk of a streamed chat" \
    "$(audit_query "any(r['request']['path'] == '/v1/chat/completions' and r['request']['stream'] and (r['response']['usage'] or {}).get('total_tokens', 0) > 0 for r in $requests)")" "True"
expect_eq "audit has usage from response.completed of a streamed response" \
    "$(audit_query "any(r['request']['path'] == '/v1/responses' and r['request']['stream'] and (r['response']['usage'] or {}).get('total_tokens', 0) > 0 for r in $requests)")" "True"
expect_eq "audit keeps only a fingerprint of the client's key" \
    "$(audit_query "all(r['request'].get('client_key', '').startswith('sha256:') for r in $requests)")" "True"
check "the dummy key is not in the audit" bash -c "! grep -q '$E2E_DUMMY_KEY' '$E2E_AUDIT'"

# --- passthrough: an allowlisted SNI to the same address is spliced untouched ------------------
passthrough_issuer="$(run_client sh -c 'openssl s_client -connect api.openai.com:443 -servername other.example </dev/null 2>/dev/null | openssl x509 -noout -issuer')"
expect_contains "non-target SNI sees the real server's certificate" "$passthrough_issuer" "sluice e2e test CA"
wait_audit_lines 10
expect_eq "passthrough is audited with its SNI" \
    "$(audit_query "any(r['kind'] == 'passthrough' and r['connection']['sni'] == 'other.example' for r in records)")" "True"

# --- sluiced's own upstream connections were not redirected to itself ---------------------------
# sluiced runs inside the attached cgroup; its upstream dials reach fake-openai (answers above)
# only because its sockets are exempt.
check "sluiced lives in the attached cgroup, yet its upstream dials reached fake-openai" \
    grep -qx "$SLUICED_PID" "$E2E_CGROUP/cgroup.procs"

e2e_finish
