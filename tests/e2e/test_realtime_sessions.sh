#!/usr/bin/env bash
# Issue 21, end to end: Realtime API sessions recorded and held for approval, with a plain `ws`
# client, a dummy key and only CA trust set (docs/realtime.md, docs/recording.md,
# docs/approvals.md).
#   - `record: full`: the session's text events each way with their timing, the client's events
#     after masking (its email only as a placeholder, on disk nowhere), audio and binary
#     messages by size and SHA-256; the session's audit line names the recording and `audit
#     verify` matches it; `sessions show` is a transcript of the events, `replay` plays them,
#     `export --format har` lists them as WebSocket messages.
#   - `require_approval`: the upgrade is held like an HTTP request (nothing upstream while held);
#     approved, the session opens; denied or timed out, the client gets 403 before the upgrade.
#   - `record: metadata`: timing, types and sizes, no text.
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/realtime.sh"
e2e_setup
HELD_USER=sluice-e2e-21b-voice
e2e_add_user "$HELD_USER"
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: held-voice
    match: {users: [$HELD_USER]}
    require_approval: true
    record: metadata
  - name: recorded-voice
    match: {}
    record: full
    masking:
      - entities: [email]
        action: token
YAML
e2e_write_config "policy: $POLICY
approvals:
  timeout: 4s"
start_upstream --event-gap-ms 30 || exit 1
start_sluiced || exit 1
CTL=("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG")
RECORDINGS="$E2E_DIR/state/recordings"
ENTRIES=(python3 "$(dirname "$0")/lib/recording_entries.py")

held_ws() { E2E_CLIENT_USER="$HELD_USER" rt_ws "$1"; }
sessions_lines() { audit_query 'sum(1 for r in records if r.get("realtime", {}).get("client"))'; }
wait_sessions() {  # N: waits until N session lines are audited
    local i
    for i in $(seq 100); do [[ "$(sessions_lines)" -ge "$1" ]] && return 0; sleep 0.1; done
    return 1
}
wait_for_hold() {  # prints the approval id of the held session once listed
    local i id
    for i in $(seq 100); do
        id="$("${CTL[@]}" approvals list 2>/dev/null | python3 -c '
import json, sys
held = [a for a in json.load(sys.stdin)["approvals"] if a["state"] == "held"]
print(held[0]["id"] if held else "")')"
        [[ -n "$id" ]] && { echo "$id"; return 0; }
        sleep 0.1
    done
    return 1
}
upstream_opens() { upstream_query 'sum(1 for r in records if r["method"] == "GET")'; }

# 1. record: full. The client's email is masked before it goes upstream and recorded masked.
EMAIL="bob.smith@example.org"
out="$(rt_ws "{\"send\":[$(item "write to $EMAIL"),{\"type\":\"response.create\"}],\"responses\":1,\"binary\":\"raw-bytes-1\"}")"
expect_contains "full: the session answers, the client's email restored" "$(field "$out" text)" "echo: write to $EMAIL"
expect_eq "full: the binary message came back" "$(field "$out" binary)" "raw-bytes-1"
wait_sessions 1
expect_eq "full: the session's audit line names its recording" \
    "$(audit_query '[len(r.get("recording", {}).get("sha256", "")) for r in records if r.get("realtime", {}).get("client")]')" "[64]"
session_id="$(audit_query '[r["id"] for r in records if r.get("realtime", {}).get("client")][0]')"
plain="$E2E_DIR/plain.jsonl"
"${ENTRIES[@]}" --decompress "$RECORDINGS"/*.recs >"$plain"
check "full: the recording holds the client's item as it went upstream, placeholder and all" \
    python3 -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][0]
ev = r["realtime"]["events"]
item = [e for e in ev if e["from"] == "client" and e.get("type") == "conversation.item.create"][0]
assert "write to <EMAIL_1>" in item["data"], item
assert all("t_ms" in e and "bytes" in e for e in ev)
assert any(e["from"] == "upstream" and e.get("type", "").endswith("text.delta") and "data" in e for e in ev)
assert r["request"]["path"].startswith("/v1/realtime") and r["response"]["status"] == 101
assert len(r["session"]) > len("conn-"), r["session"]' "$plain"
check "full: audio and binary messages are kept as size and SHA-256 only" \
    python3 -c '
import hashlib, json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][0]
ev = r["realtime"]["events"]
audio = [e for e in ev if e.get("type", "").endswith("audio.delta")]
binary = [e for e in ev if e.get("binary")]
assert audio and all("data" not in e and len(e["sha256"]) == 64 for e in audio), audio
assert len(binary) == 2 and all(e["sha256"] == hashlib.sha256(b"raw-bytes-1").hexdigest() for e in binary), binary' "$plain"
check "full: the client's email is on disk nowhere, compressed or not" \
    bash -c "! grep -qF '$EMAIL' '$plain' && ! grep -rqF '$EMAIL' '$RECORDINGS'"
verify="$("${CTL[@]}" audit verify 2>/dev/null)"; rc=$?
expect_contains "full: audit verify matches the session's recording to its line" "$verify" "recordings: 1 named, 1 match"
check "full: audit verify passes" test "$rc" -eq 0 -o "$rc" -eq 3

show="$("${CTL[@]}" sessions show "$session_id")"
expect_contains "show: the session is a transcript: what the client said" "$show" "> user: write to <EMAIL_1>"
expect_contains "show: what the model answered" "$show" "< assistant: echo: write to <EMAIL_1>"
expect_contains "show: audio by size and hash" "$show" "audio.delta ("
expect_contains "show: binary messages by size and hash" "$show" "binary message (11 bytes, sha256 "
expect_contains "show: the response's usage" "$show" "< response.done completed (tokens "
expect_contains "show: each event's time" "$show" " ms] > response.create"
replayed="$("${CTL[@]}" sessions replay "$session_id" --speed 4)"
expect_contains "replay: plays the answer" "$replayed" "< assistant: echo: write to <EMAIL_1>"
har="$("${CTL[@]}" sessions export "$session_id" --format har)"
check "export har: the events as the entry's WebSocket messages" python3 -c '
import json, sys
e = json.loads(sys.argv[1])["log"]["entries"][0]
m = e["_webSocketMessages"]
assert e["response"]["status"] == 101
assert any(x["type"] == "send" and "<EMAIL_1>" in x["data"] for x in m)
assert any(x["type"] == "receive" and x["opcode"] == 2 for x in m)' "$har"

# 2. require_approval: the upgrade waits for a person; nothing goes upstream meanwhile.
opens="$(upstream_opens)"
held_ws "{\"send\":[$(item "hello held"),{\"type\":\"response.create\"}],\"responses\":1}" >"$E2E_DIR/held.out" &
client=$!
id="$(wait_for_hold)"
check "hold: the session is listed as held" test -n "$id"
shown="$("${CTL[@]}" approvals show "$id")"
expect_contains "hold: approvers see the realtime endpoint" "$shown" "/v1/realtime?model=gpt-realtime"
sleep 0.5
expect_eq "hold: nothing went upstream while held" "$(upstream_opens)" "$opens"
"${CTL[@]}" approvals approve "$id" >/dev/null
wait "$client"
out="$(cat "$E2E_DIR/held.out")"
expect_eq "hold: approved, the session opens (101)" "$(field "$out" status)" "101"
expect_contains "hold: and runs" "$(field "$out" text)" "echo: hello held"
expect_eq "hold: it went upstream once approved" "$(upstream_opens)" "$((opens + 1))"
wait_sessions 2
expect_eq "hold: the session's audit line carries the approval" \
    "$(audit_query '[r["approval"]["event"] for r in records if r.get("realtime", {}).get("client") and r.get("approval")]')" "['approved']"

held_ws '{"responses":0}' >"$E2E_DIR/denied.out" &
client=$!
id="$(wait_for_hold)"
"${CTL[@]}" approvals deny "$id" --reason "no voice today" >/dev/null
wait "$client"
out="$(cat "$E2E_DIR/denied.out")"
expect_eq "deny: the client gets 403 before any upgrade" "$(field "$out" status)" "403"
expect_contains "deny: approval_denied with the reason" "$(field "$out" body)" '"code":"approval_denied"'
expect_contains "deny: ... and the reason" "$(field "$out" body)" "no voice today"

out="$(held_ws '{"responses":0}')"
expect_eq "timeout: the client gets 403" "$(field "$out" status)" "403"
expect_contains "timeout: approval_timeout" "$(field "$out" body)" '"code":"approval_timeout"'
expect_eq "deny/timeout: neither went upstream" "$(upstream_opens)" "$((opens + 1))"

# 3. record: metadata (the held rule's): timing, types and sizes, no text.
"${ENTRIES[@]}" --decompress "$RECORDINGS"/*.recs >"$plain"
check "metadata: the approved session is recorded without any text" python3 -c '
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rs if r["mode"] == "metadata"][0]
ev = r["realtime"]["events"]
assert ev and all("data" not in e and "sha256" not in e and "t_ms" in e and "bytes" in e for e in ev), ev
assert "hello held" not in json.dumps(r["realtime"]) + json.dumps(r["request"]), r' "$plain"

e2e_finish
