#!/usr/bin/env bash
# Bad input and failures get a clean error to that client while other connections carry on and
# the audit records it: malformed HTTP, conflicting framing, plain text on the TLS port,
# oversized bodies, upstream down (502), slow (504), reset mid-stream (a reset, never a
# truncated success), no key (503), and sluiced stopped (fail closed, no bypass).
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
e2e_write_config "limits:
  max_body_bytes: 1048576
  upstream_read_timeout_ms: 1500
  client_idle_timeout_ms: 2500"
start_upstream --event-gap-ms 40 || exit 1
start_sluiced || exit 1
CLIENTS="$E2E_SOURCE_DIR/tests/e2e/clients"
raw() { run_client /usr/bin/python3 "$CLIENTS/raw_tls.py" "$@"; }
curl_api() { run_client curl -sS --max-time 10 -H "Authorization: Bearer $E2E_DUMMY_KEY" "$@"; }

# A long streamed request runs throughout the bad inputs below and must still succeed.
run_client node "$CLIENTS/chat_stream.mjs" "$(seq -f 'word%g' 60 | tr '\n' ' ')" >"$E2E_DIR/concurrent.out" 2>&1 &
concurrent=$!
sleep 0.3

reply="$(raw 'BLAH BLAH\r\n\r\n')"
expect_contains "malformed HTTP gets 400" "$reply" "HTTP/1.1 400"
expect_contains "malformed HTTP error is OpenAI-shaped" "$reply" '"type":"invalid_request_error"'

reply="$(raw 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n')"
expect_contains "Content-Length with Transfer-Encoding gets 400" "$reply" "HTTP/1.1 400"

reply="$(raw 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!')"
expect_contains "differing duplicate Content-Length gets 400" "$reply" "HTTP/1.1 400"

reply="$(raw 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nTransfer-Encoding: gzip\r\n\r\n')"
expect_contains "Transfer-Encoding not ending in chunked gets 400" "$reply" "HTTP/1.1 400"

reply="$(raw --plain 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')"
expect_contains "plain text on the TLS port gets a clear 400" "$reply" "tls_required"

# Keep-alive as clients use it: pipelined requests in one write, a connection left idle between
# requests, a request whose header arrives in pieces after an idle spell; answered in order.
reply="$(raw 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\nGET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n<pause>GET /v1/mo<pause>dels HTTP/1.1\r\nHost: api.openai.com\r\nConnection: close\r\n\r\n')"
expect_eq "pipelined and idle-then-split requests on one connection are all answered" \
    "$(grep -o 'HTTP/1.1 200' <<<"$reply" | wc -l)" "3"

# A keep-alive connection left idle is closed by sluice after client_idle_timeout_ms: the client
# reads the end of the connection (not its own 10 s timeout), its answer intact.
idle_started=$SECONDS
reply="$(raw 'GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n')"
idle_seconds=$((SECONDS - idle_started))
expect_eq "a request on a connection left idle is answered" "$(grep -c 'HTTP/1.1 200' <<<"$reply")" "1"
expect_eq "the idle connection is ended by sluice, not by the client's timeout" \
    "$(grep -c '^<' <<<"$reply")" "0"
expect_eq "the idle connection is closed after the idle timeout (2.5 s)" \
    "$((idle_seconds >= 2 && idle_seconds <= 6))" "1"

python3 -c 'import json; print(json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}))' >"$E2E_DIR/big.json"
chmod 644 "$E2E_DIR/big.json"
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' --data-binary "@$E2E_DIR/big.json")"
expect_eq "oversized body (Content-Length) gets 413" "$status" "413"
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' --data-binary "@$E2E_DIR/big.json")"
expect_eq "oversized body (chunked) gets 413" "$status" "413"
# A client that sends its whole oversized body before reading still gets the 413: sluice
# answers on the Content-Length, then drains what keeps coming instead of resetting the
# connection under the answer.
reply="$(raw --body-bytes 3000000 'POST /v1/chat/completions HTTP/1.1\r\nHost: api.openai.com\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\n\r\n')"
expect_contains "a client still sending its oversized body reads the 413" "$reply" "HTTP/1.1 413"
expect_not_contains "its sending is not cut off by a reset (curl gives up on that)" "$reply" "<send:"

# Limits at the edge: exactly max_body_bytes passes, one more byte does not.
python3 - "$E2E_DIR" <<'EOF'
import json, sys
base = json.dumps({"model": "m", "messages": [{"role": "user", "content": ""}]})
for name, size in (("at_limit", 1048576), ("over_limit", 1048577)):
    pad = size - len(base)
    open(f"{sys.argv[1]}/{name}.json", "w").write(json.dumps({"model": "m", "messages": [{"role": "user", "content": "y" * pad}]}))
EOF
chmod 644 "$E2E_DIR"/*_limit.json
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' --data-binary "@$E2E_DIR/at_limit.json")"
expect_eq "body of exactly max_body_bytes is accepted" "$status" "200"
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/chat/completions -H 'Content-Type: application/json' --data-binary "@$E2E_DIR/over_limit.json")"
expect_eq "body of max_body_bytes + 1 gets 413" "$status" "413"

wait "$concurrent"
expect_eq "a concurrent streamed request succeeded throughout" "$?" "0"
expect_contains "the concurrent stream got its whole answer" "$(cat "$E2E_DIR/concurrent.out")" "word60"

wait_audit_lines 8
expect_eq "bad requests are audited as errors" \
    "$(audit_query "sum(1 for r in records if r['decision']['action'] == 'error' and r['response']['status'] in (400, 413)) >= 7")" "True"
expect_eq "plain text on the TLS port is audited" \
    "$(audit_query "any(r['decision']['reason'] == 'not_tls' for r in records)")" "True"

# --- upstream reset mid-stream reaches the client as a failure --------------------------------
stop_fake_openai
start_upstream --reset-after-events 3 || exit 1
run_client curl -sS -N --max-time 10 https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $E2E_DUMMY_KEY" \
    -H 'Content-Type: application/json' -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"one two three four five six seven"}]}' \
    >"$E2E_DIR/reset.out" 2>&1
rc=$?
check "a reset mid-stream is a client error, not a truncated success (curl exit $rc)" test "$rc" -ne 0
expect_not_contains "the truncated stream never claims to be complete" "$(cat "$E2E_DIR/reset.out")" "[DONE]"

# --- upstream slow: 504 -----------------------------------------------------------------------
stop_fake_openai
start_upstream --latency-ms 4000 || exit 1
reply="$(curl_api -w '\n%{http_code}' https://api.openai.com/v1/models)"
expect_contains "a slow upstream gives 504" "$reply" "504"
expect_contains "the 504 is OpenAI-shaped" "$reply" '"code":"upstream_timeout"'

# --- upstream down: 502 -----------------------------------------------------------------------
stop_fake_openai
reply="$(curl_api -w '\n%{http_code}' https://api.openai.com/v1/models)"
expect_contains "an unreachable upstream gives 502" "$reply" "502"
expect_contains "the 502 is OpenAI-shaped" "$reply" '"type":"upstream_error"'
start_upstream || exit 1

# --- no key: 503, then the key file comes back and is picked up -------------------------------
mv "$E2E_DIR/openai.key" "$E2E_DIR/openai.key.away"
sleep 1.5
reply="$(curl_api -w '\n%{http_code}' https://api.openai.com/v1/models)"
expect_contains "without a key file requests get 503" "$reply" "503"
expect_contains "the 503 says why" "$reply" "api_key_unavailable"
mv "$E2E_DIR/openai.key.away" "$E2E_DIR/openai.key"
touch "$E2E_DIR/openai.key"
sleep 1.5
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/models)"
expect_eq "the restored key file is picked up without a restart" "$status" "200"

# --- fail closed: sluiced stopped means refused, never direct ----------------------------------
before="$(upstream_query 'len(records)')"
stop_sluiced
run_client curl -sS --max-time 5 -o /dev/null https://api.openai.com/v1/models 2>"$E2E_DIR/closed.err"
rc=$?
check "with sluiced stopped the client's connection fails (curl exit $rc)" test "$rc" -eq 7
expect_eq "with sluiced stopped nothing reached the upstream directly" "$(upstream_query 'len(records)')" "$before"
start_sluiced || exit 1
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/models)"
expect_eq "a restarted sluiced re-adopts the redirect and serves again" "$status" "200"

e2e_finish
