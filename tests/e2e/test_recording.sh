#!/usr/bin/env bash
# Session recording and replay end to end (docs/recording.md), with the real `openai` SDK and
# an `@openai/agents` run: a rule with `record: full` stores each request and answer, after
# masking, zstd-compressed and appended to a segment file under the SHA-256 its audit line
# names. After decompression no masked value is on disk (only its placeholder); `audit verify` matches every recording to its
# line and names a tampered one; `sessions` lists, shows (tool call and its output), replays
# with the original event timing, exports HAR 1.2 and JSONL, and resends only to a named URL.
# Recordings are encrypted at rest with a key file, and only root reads them.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<'YAML'
version: 1
default: deny
rules:
  - name: recorded
    match: {}
    record: full
    masking:
      - entities: [email]
        action: token
YAML
e2e_write_config "policy: $POLICY"
start_upstream --event-gap-ms 40 || exit 1
start_sluiced || exit 1
RECORDINGS="$E2E_DIR/state/recordings"
CTL=("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG")

EMAIL="alice.smith@example.com"
PROMPT="please write to $EMAIL today"
prompted() { run_client env E2E_PROMPT="$PROMPT" "$@"; }

out="$(prompted node "$E2E_NODE_DIR/clients/chat.mjs")"
expect_contains "chat: the client gets its email back" "$out" "$EMAIL"
out="$(prompted node "$E2E_NODE_DIR/clients/chat_stream.mjs")"
expect_contains "chat stream: the client gets its email back" "$out" "$EMAIL"
out="$(run_client node "$E2E_NODE_DIR/clients/agent_tool.mjs" "What is the weather in Paris?")"
expect_contains "agent run: the tool ran" "$out" '"toolCalls":1'
# Two connections marked as one run.
for i in 1 2; do
    run_client curl -sS --max-time 10 https://api.openai.com/v1/chat/completions \
        -H "Authorization: Bearer $E2E_DUMMY_KEY" -H 'content-type: application/json' \
        -H 'x-sluice-session: nightly-42' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' >/dev/null
done

# chat, chat stream, two agent turns, two marked requests: six recorded requests.
wait_audit_lines 6
expect_eq "every request's audit line names its recording" \
    "$(audit_query 'sum(1 for r in records if len(r.get("recording", {}).get("sha256", "")) == 64)')" "6"
shas="$(audit_query '" ".join(r["recording"]["sha256"] for r in records if "recording" in r)')"
ENTRIES=(python3 "$(dirname "$0")/lib/recording_entries.py")
entries="$("${ENTRIES[@]}" "$RECORDINGS"/*.recs)"
all_named=1
for sha in $shas; do grep -q "\"sha256\": \"$sha\"" <<<"$entries" || all_named=0; done
expect_eq "each named recording is on disk under its hash" "$all_named" 1
expect_eq "... appended to one segment file, not a file each" "$(ls "$RECORDINGS" | wc -l)" 1
expect_eq "the recordings directory is 0700" "$(stat -c %a "$RECORDINGS")" 700
expect_eq "segments are 0600" "$(stat -c %a "$RECORDINGS"/*.recs | sort -u)" 600

# Decompressed (each entry's payload is a zstd frame), nothing masked is on disk.
plain="$E2E_DIR/plain.jsonl"
"${ENTRIES[@]}" --decompress "$RECORDINGS"/*.recs >"$plain"
check "decompressed recordings hold the request and answer" grep -q 'sunny-and-21C' "$plain"
check "the masked email never appears on disk, compressed or not" \
    bash -c "! grep -qF '$EMAIL' '$plain' && ! grep -rqF '$EMAIL' '$RECORDINGS'"
check "its placeholder is what was recorded" grep -qF '<EMAIL_1>' "$plain"
check "the audit holds no email either" bash -c "! grep -qF '$EMAIL' '$E2E_AUDIT'"
check "a streamed answer is recorded event by event with its timing" \
    python3 -c 'import json,sys; rs=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; assert any(len(r["response"].get("events",[]))>3 and all("t_ms" in e for e in r["response"]["events"]) for r in rs)' "$plain"

verify="$("${CTL[@]}" audit verify 2>/dev/null)"; rc=$?
expect_contains "audit verify matches every recording to its line" "$verify" "recordings: 6 named, 6 match"
check "audit verify passes (intact, tail possibly unsealed)" test "$rc" -eq 0 -o "$rc" -eq 3

# sessions
list="$("${CTL[@]}" sessions list)"
expect_contains "sessions list shows the client's user" "$list" "$E2E_USER"
expect_contains "a marked run is one session across connections" \
    "$(grep 'run-nightly-42' <<<"$list")" " 2 "
expect_eq "sessions list --model filters" \
    "$("${CTL[@]}" sessions list --model gpt-4.1-mini | tail -n +2 | wc -l)" 1
expect_eq "sessions list --user of nobody shows none" \
    "$("${CTL[@]}" sessions list --user nobody-else | tail -n +2 | wc -l)" 0
agent_request="$(audit_query '[r["id"] for r in records if r["request"]["path"] == "/v1/responses"][0]')"
show="$("${CTL[@]}" sessions show "$agent_request")"
expect_contains "show: who" "$show" "who: $E2E_USER"
expect_contains "show: the agent's tool call" "$show" "tool call get_weather("
expect_contains "show: the tool's output sent back" "$show" "tool output"
expect_contains "show: ... holding what the tool returned" "$show" "sunny-and-21C"
expect_contains "show: decisions" "$show" "decision: allow (rule recorded)"

stream_request="$(audit_query '[r["id"] for r in records if r["request"]["stream"] and r["request"]["path"] == "/v1/chat/completions"][0]')"
expect_contains "show: a stream's event timing" "$("${CTL[@]}" sessions show "$stream_request")" "events: "
recorded_ms="$("${CTL[@]}" sessions export "$stream_request" --format jsonl | python3 -c '
import json,sys
r=[json.loads(l) for l in sys.stdin][0]
print(int(r["response"]["events"][-1]["t_ms"]))')"
# Timed from replay's first output (the request's line, at offset 0) to its end, so the CLI's
# start-up and reading the store (slow on a loaded machine) are not counted as the stream's.
replay_timed() {  # ARGS...: prints the output; on stderr the ms from its first byte to its end
    python3 -c '
import subprocess, sys, time
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
first = p.stdout.read(1)
t0 = time.monotonic()
rest = p.stdout.read()
elapsed = (time.monotonic() - t0) * 1000
p.wait()
sys.stdout.buffer.write(first + rest)
print(int(elapsed), file=sys.stderr)' "$@"
}
replayed="$(replay_timed "${CTL[@]}" sessions replay "$stream_request" 2>"$E2E_DIR/replay-ms")"
elapsed_ms="$(cat "$E2E_DIR/replay-ms")"
check "replay reproduces the stream's timing within 10% (recorded ${recorded_ms} ms, replayed ${elapsed_ms} ms)" \
    python3 -c "import sys; r,e=$recorded_ms,$elapsed_ms; sys.exit(0 if r>200 and abs(e-r)<=0.1*r else 1)"
expect_contains "replay prints the streamed answer (restored placeholders are not: it is masked)" \
    "$replayed" "<EMAIL_1>"
replay_timed "${CTL[@]}" sessions replay "$stream_request" --speed 4 >/dev/null 2>"$E2E_DIR/replay-ms"
fast_ms="$(cat "$E2E_DIR/replay-ms")"
check "replay --speed 4 is about four times faster (${fast_ms} ms)" test "$fast_ms" -lt $((recorded_ms / 2))

har="$("${CTL[@]}" sessions export "$agent_request" --format har)"
check "export --format har is valid HAR 1.2 with both agent turns (one run over two connections)" python3 -c '
import json,sys
h=json.loads(sys.argv[1])["log"]
assert h["version"]=="1.2" and len(h["entries"])==2
for e in h["entries"]:
    assert e["request"]["url"]=="https://api.openai.com/v1/responses"
    assert e["response"]["status"]==200 and "text" in e["response"]["content"]
    assert set(e["timings"])>={"send","wait","receive"} and e["startedDateTime"].endswith("Z")
' "$har"

out="$("${CTL[@]}" sessions resend "$stream_request" 2>&1)"; rc=$?
expect_eq "resend without --to is refused" "$rc" 2
expect_contains "... saying it is never sent by default" "$out" "never sent anywhere by default"
PLAIN_PORT="$(e2e_free_port)"
"$E2E_BIN_DIR/fake-openai" --listen "$E2E_UPSTREAM_IP:$PLAIN_PORT" --plain >"$E2E_DIR/plain-upstream.log" 2>&1 &
PLAIN_PID=$!
for i in $(seq 100); do grep -q '^listening on' "$E2E_DIR/plain-upstream.log" && break; sleep 0.05; done
out="$("${CTL[@]}" sessions resend "$stream_request" --to "http://$E2E_UPSTREAM_IP:$PLAIN_PORT")"
expect_contains "resend --to sends the recorded request there and compares the answer" "$out" \
    "status 200 (recorded 200), answer same"
kill "$PLAIN_PID" 2>/dev/null; wait "$PLAIN_PID" 2>/dev/null

out="$(setpriv --reuid "$E2E_USER" --regid "$(id -g "$E2E_USER")" --init-groups -- \
    "${CTL[@]}" sessions list 2>&1)"; rc=$?
expect_eq "a user cannot read recordings (exit 1)" "$rc" 1
expect_contains "... and is told who can" "$out" "readable by root and sluiced's user only"

# Tampering: one changed byte in a recording is named by audit verify.
victim="$(grep "\"sha256\": \"$(awk '{print $1}' <<<"$shas")\"" <<<"$entries")"
python3 - "$victim" <<'PY'
import json, sys
entry = json.loads(sys.argv[1])
data = bytearray(open(entry["segment"], "rb").read())
data[entry["payload_offset"] + entry["payload_bytes"] // 2] ^= 0x40
open(entry["segment"], "wb").write(bytes(data))
PY
verify="$("${CTL[@]}" audit verify 2>/dev/null)"; rc=$?
expect_eq "a tampered recording fails audit verify (exit 1)" "$rc" 1
expect_contains "... naming it" "$verify" "BAD recording $(awk '{print $1}' <<<"$shas")"

# An upload (multipart: files, audio) is recorded as its size and the SHA-256 of its bytes, never
# the bytes themselves, even with record: full.
upload="$E2E_DIR/upload.multipart"
{
    printf -- '--sluiceb\r\ncontent-disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
    printf -- '--sluiceb\r\ncontent-disposition: form-data; name="file"; filename="a.wav"\r\n'
    printf -- 'content-type: audio/wav\r\n\r\nRIFF-upload-marker-7731\r\n'
    head -c 200000 /dev/urandom
    printf -- '\r\n--sluiceb--\r\n'
} >"$upload"
chmod 644 "$upload"
run_client curl -sS --max-time 20 https://api.openai.com/v1/files \
    -H "Authorization: Bearer $E2E_DUMMY_KEY" \
    -H 'content-type: multipart/form-data; boundary=sluiceb' --data-binary "@$upload" >/dev/null
wait_audit_lines 7
upload_id="$(audit_query '[r["id"] for r in records if r.get("request", {}).get("path") == "/v1/files"][0]')"
recorded="$("${CTL[@]}" sessions export "$upload_id" --format jsonl | python3 -c '
import json,sys
for r in map(json.loads, sys.stdin):
    if r["request"]["path"] == "/v1/files": print(json.dumps(r["request"]))')"
expect_contains "an upload is recorded as its size" "$recorded" "\"bytes\": $(stat -c %s "$upload")"
expect_contains "... and the SHA-256 of its bytes" "$recorded" \
    "\"body_sha256\": \"$(sha256sum "$upload" | cut -d' ' -f1)\""
check "... never its bytes" \
    bash -c "! '${CTL[0]}' --config '$E2E_CONFIG' sessions export '$upload_id' --format jsonl | grep -q RIFF-upload-marker-7731"
expect_contains "sessions show says so" "$("${CTL[@]}" sessions show "$upload_id")" "(upload of $(stat -c %s "$upload") bytes, sha256"

# Encryption at rest: with a key file, a new recording is unreadable without it.
stop_sluiced
openssl rand -hex 32 >"$E2E_DIR/recording.key"
chmod 644 "$E2E_DIR/recording.key"
e2e_write_config "policy: $POLICY
recording:
  key_file: $E2E_DIR/recording.key"
check "sluiced refuses a recording key others can read" \
    bash -c "! timeout 10 '$E2E_BIN_DIR/sluiced' --config '$E2E_CONFIG' 2>&1 | grep -q ready"
chmod 600 "$E2E_DIR/recording.key"
start_sluiced || exit 1
before="$(ls "$RECORDINGS" | sort)"
prompted node "$E2E_NODE_DIR/clients/chat.mjs" >/dev/null
wait_audit_lines 8
new="$RECORDINGS/$(comm -13 <(echo "$before") <(ls "$RECORDINGS" | sort))"
check "a restart appends to a new segment" test -f "$new"
expect_contains "an encrypted recording's entry is sealed (format 1)" \
    "$("${ENTRIES[@]}" "$new")" '"format": 1'
check "... and holds no readable text" bash -c "! grep -qa 'gpt-4o-mini' '$new'"
expect_contains "sessions show decrypts it with the key file" "$(${CTL[@]} sessions export "$(audit_query 'records[-1]["id"]')" --format jsonl)" '<EMAIL_1>'
e2e_finish
