#!/usr/bin/env bash
# Issue 21, end to end: the Realtime API over WebSocket through sluice, with unmodified clients
# (the `openai` SDK's realtime WebSocket client and a plain `ws` client), a dummy key and only
# CA trust set. A session opens and a text response streams back; the upstream sees the real
# key and never the client's (not in Authorization, not in the openai-insecure-api-key.*
# subprotocol); OpenAI-Beta and subprotocols are preserved; binary frames, pings and close codes are
# relayed; usage is audited per response and per session; a blocked prompt closes the session
# with 1008 and reaches nobody; a model the policy does not allow is refused at the upgrade
# (403 in OpenAI's shape) and mid-session; an email split across delta frames never reaches the
# client, and the client's own never reaches the upstream.
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/realtime.sh"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<'YAML'
version: 1
default: deny
rules:
  - name: voice
    match: {}
    models: {allow: [gpt-realtime, gpt-realtime-mini]}
    block_prompts:
      patterns: ['TOPSECRET-[0-9]']
    masking:
      - entities: [email]
        action: redact
YAML
e2e_write_config "policy: $POLICY"
start_upstream --answer-suffix " Reach me at jane.roe@example.com today." || exit 1
start_sluiced || exit 1


# 1. The openai SDK's realtime client: a session opens, text streams back, masked across frames.
out="$(run_client node "$E2E_NODE_DIR/clients/realtime_sdk.mjs" "hello there")"
expect_eq "sdk: the session opens" "$(field "$out" opened)" "True"
expect_contains "sdk: the response streams back" "$(field "$out" text)" "echo: hello there Reach me at"
expect_contains "sdk: the email split across delta frames arrives redacted" "$(field "$out" text)" "[EMAIL]"
expect_not_contains "sdk: and never whole" "$out" "jane.roe@example.com"
expect_not_contains "sdk: nor in pieces" "$out" "example.com"
expect_contains "sdk: usage arrives" "$(field "$out" usage)" '"output_tokens": '
expect_eq "sdk: the client closed normally" "$(field "$out" close.code)" "1000"
expect_eq "sdk: no errors" "$(field "$out" errors)" "[]"
expect_eq "upstream: the upgrade carried the real key" \
    "$(upstream_query '[r["headers"].get("authorization") for r in records if r["method"] == "GET"][-1]')" "Bearer $E2E_REAL_KEY"

wait_audit_lines 2
expect_eq "audit: one line for the session, with its model and status 101" \
    "$(audit_query '[(r["request"]["path"], r["request"]["model"], r["response"]["status"]) for r in records if r.get("realtime", {}).get("client")]')" \
    "[('/v1/realtime?model=gpt-realtime', 'gpt-realtime', 101)]"
expect_eq "audit: the session counts frames each way and says audio is not inspected" \
    "$(audit_query '[(r["realtime"]["client"]["frames"] >= 2, r["realtime"]["upstream"]["frames"] >= 10, r["realtime"]["audio"], r["realtime"]["responses"]) for r in records if r.get("realtime", {}).get("client")]')" \
    "[(True, True, 'not inspected', 1)]"
expect_eq "audit: the session's usage totals match its response's" \
    "$(audit_query '[r["response"]["usage"]["output_tokens"] for r in records if r.get("realtime", {}).get("client")] == [r["response"]["usage"]["output_tokens"] for r in records if r["kind"] == "realtime_response"]')" "True"
expect_eq "audit: masking is accounted" \
    "$(audit_query '[r["masking"]["response"]["email"] >= 1 for r in records if r.get("realtime", {}).get("client")]')" "[True]"

# 2. A browser-style client: the key in the openai-insecure-api-key subprotocol, beta events.
out="$(rt_ws "{\"headers\":{\"OpenAI-Beta\":\"realtime=v1\"},\"protocols\":[\"realtime\",\"openai-insecure-api-key.$E2E_DUMMY_KEY\",\"openai-beta.realtime-v1\"],\"send\":[$(item "hi beta"),{\"type\":\"response.create\"}],\"responses\":1}")"
expect_eq "ws: the upstream's subprotocol comes back" "$(field "$out" protocol)" "realtime"
expect_contains "ws: beta text deltas stream back" "$(field "$out" text)" "echo: hi beta Reach me at [EMAIL] today."
expect_contains "ws: audio transcript deltas too" "$(field "$out" transcript)" "(audio)"
expect_eq "upstream: subprotocols preserved without the key" \
    "$(upstream_query '[r["headers"].get("sec-websocket-protocol") for r in records if r["method"] == "GET"][-1]')" \
    "realtime, openai-beta.realtime-v1"
expect_eq "upstream: OpenAI-Beta preserved" \
    "$(upstream_query '[r["headers"].get("openai-beta") for r in records if r["method"] == "GET"][-1]')" "realtime=v1"
expect_eq "upstream: the real key in Authorization" \
    "$(upstream_query '[r["headers"].get("authorization") for r in records if r["method"] == "GET"][-1]')" "Bearer $E2E_REAL_KEY"
expect_not_contains "upstream: the client's key never arrives anywhere" "$(cat "$E2E_RECORD")" "$E2E_DUMMY_KEY"

# 3. Binary frames and the upstream's close code come back as they were.
out="$(rt_ws '{"binary":"raw-bytes-1","responses":0}')"
expect_eq "ws: a binary frame is relayed both ways" "$(field "$out" binary)" "raw-bytes-1"
out="$(rt_ws '{"send":[{"type":"fake.close","code":4001,"reason":"upstream says bye"}],"responses":1}')"
expect_eq "ws: the upstream's close code is relayed" "$(field "$out" close.code)" "4001"
expect_eq "ws: with its reason" "$(field "$out" close.reason)" "upstream says bye"

# A binary message is forwarded piece by piece as it arrives, not read whole first: its three
# fragments, sent 400 ms apart, reach the upstream as far apart.
out="$(rt_ws '{"fragments":["piece-one|","piece-two|","piece-three"],"gap_ms":400,"responses":0}')"
expect_eq "ws: a fragmented binary message comes back whole" "$(field "$out" binary)" "piece-one|piece-two|piece-three"
check "ws: its fragments reached the upstream as they were sent, not gathered first" \
    python3 -c 'import sys, json; a = json.loads(sys.argv[1]); assert len(a) >= 3 and a[-1][0] >= 600 and sum(b for _, b in a) == 31, a' \
    "$(upstream_query '[r["body"] for r in records if r["method"] == "WSBIN"][-1]')"

out="$(rt_ws '{"ping":"are-you-there","responses":0}')"
expect_eq "ws: a ping is answered" "$(field "$out" pong)" "are-you-there"
sleep 0.2
expect_eq "ws: and relayed to the upstream with its payload" \
    "$(upstream_query '[r["body"] for r in records if r["method"] == "PING"]')" "['are-you-there']"

# 4. A blocked prompt closes the session with 1008 and reaches nobody.
out="$(rt_ws "{\"send\":[$(item "the code is TOPSECRET-7"),{\"type\":\"response.create\"}],\"responses\":1}")"
expect_eq "blocked: closed with 1008" "$(field "$out" close.code)" "1008"
expect_contains "blocked: the reason says why" "$(field "$out" close.reason)" "blocked pattern"
expect_eq "blocked: no response was made" "$(field "$out" usage)" "[]"
expect_eq "blocked: nothing with the marker reached the upstream" \
    "$(upstream_query 'sum("TOPSECRET" in (r.get("body") or "") for r in records)')" "0"
sleep 0.3
expect_eq "blocked: the session's audit line says so" \
    "$(audit_query '[(r["decision"]["action"], r["decision"]["code"], r["realtime"]["close"]["code"]) for r in records if r.get("realtime", {}).get("close", {}).get("code") == 1008]')" \
    "[('deny', 'prompt_blocked', 1008)]"

# 5. A model the policy does not allow: refused at the upgrade, and by session.update.
out="$(rt_ws '{"model":"gpt-4o-realtime-preview"}')"
expect_eq "model: refused at the upgrade with 403" "$(field "$out" status)" "403"
expect_contains "model: in OpenAI's error shape" "$(field "$out" body)" '"code":"model_not_allowed"'
expect_eq "model: the upstream never saw it" \
    "$(upstream_query 'sum("gpt-4o-realtime" in r["path"] for r in records)')" "0"
out="$(rt_ws '{"send":[{"type":"session.update","session":{"model":"gpt-4o-realtime-preview"}},{"type":"response.create"}],"responses":1}')"
expect_eq "model: a session.update to it closes with 1008" "$(field "$out" close.code)" "1008"
expect_contains "model: saying which model" "$(field "$out" close.reason)" "gpt-4o-realtime-preview"
expect_eq "model: the update never reached the upstream" \
    "$(upstream_query 'sum("gpt-4o-realtime" in (r.get("body") or "") for r in records)')" "0"

# 6. The client's own personal data is masked before it goes upstream.
out="$(rt_ws "{\"send\":[$(item "write to bob.smith@example.org"),{\"type\":\"response.create\"}],\"responses\":1}")"
expect_contains "client masking: the session still answers" "$(field "$out" text)" "echo: write to [EMAIL]"
expect_eq "client masking: the email never reached the upstream" \
    "$(upstream_query 'sum("bob.smith@example.org" in (r.get("body") or "") for r in records)')" "0"

# 7. A message over the size cap (16 MiB) closes the session with 1009; nothing of it goes on.
out="$(rt_ws '{"big":17000000,"responses":1}')"
expect_eq "size cap: closed with 1009" "$(field "$out" close.code)" "1009"
expect_eq "size cap: nothing of it reached the upstream" \
    "$(upstream_query 'sum(len(r.get("body") or "") > 1000000 for r in records)')" "0"
# A text event larger than one piece (64 KiB) is read whole, decided and masked, then sent on whole.
out="$(rt_ws '{"big":300000,"responses":0}')"
expect_eq "large event: the session closes normally" "$(field "$out" close.code)" "1000"
expect_eq "large event: it reached the upstream whole, as one message" \
    "$(upstream_query 'sum(1 for r in records if r["method"] == "WS" and r["body_bytes"] == 300000 + len("{\"type\":\"conversation.item.create\",\"pad\":\"\"}"))')" "1"
# A binary message relayed piece by piece is held to the same cap: past 16 MiB, closed with 1009.
out="$(rt_ws '{"big_binary":17000000,"responses":1}')"
expect_eq "size cap: a binary message over it closes with 1009 too" "$(field "$out" close.code)" "1009"
expect_eq "size cap: and never reached the upstream whole" \
    "$(upstream_query 'sum(1 for r in records if r["method"] == "WSBIN" and sum(b for _, b in __import__("json").loads(r["body"])) >= 17000000)')" "0"

# 8. The SDK client refused at the upgrade sees the 403.
out="$(run_client node "$E2E_NODE_DIR/clients/realtime_sdk.mjs" "hello" "gpt-4o-realtime-preview")"
expect_eq "sdk: a disallowed model never opens" "$(field "$out" opened)" "False"
expect_contains "sdk: and the SDK reports the 403" "$(field "$out" errors)" "403"

e2e_finish
