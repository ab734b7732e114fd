#!/usr/bin/env bash
# Masking end to end with the real `openai` SDK, Chat Completions and Responses, streamed and
# not: values the policy masks never reach upstream (emails become <EMAIL_1> placeholders,
# keys are redacted, cards partly masked), placeholders come back restored in the answer —
# streams included — and a phone number the upstream "answers" with (split across several
# deltas) never reaches the client raw. The audit lists entity counts, never values.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<'YAML'
version: 1
default: deny
rules:
  - name: masked
    match: {}
    masking:
      - entities: [email]
        action: token
      - entities: [openai_key]
        action: redact
      - entities: [credit_card]
        direction: request
        action: partial
      - entities: [phone]
        direction: response
        action: redact
YAML
e2e_write_config "policy: $POLICY"
start_upstream || exit 1
start_sluiced || exit 1

EMAIL="alice.smith@example.com"
KEY="sk-proj-AbCdEfGhIjKlMnOpQrStUvWx0123"
CARD="4111 1111 1111 1111"
PHONE="+1 415 555 2671"
PROMPT="mail $EMAIL key $KEY card $CARD phone $PHONE done"
# The prompt travels in the environment (E2E_PROMPT), not argv: the audit records each client's
# command line, and this test is about bodies.
prompted() { run_client env E2E_PROMPT="$PROMPT" "$@"; }

upstream_saw() { upstream_query '[r["body"] for r in records if r["method"] == "POST"][-1]'; }
assert_upstream_masked() {  # assert_upstream_masked WHAT
    local seen; seen="$(upstream_saw)"
    expect_not_contains "$1: upstream never sees the email" "$seen" "$EMAIL"
    expect_contains "$1: upstream sees a placeholder instead" "$seen" "<EMAIL_1>"
    expect_not_contains "$1: upstream never sees the key" "$seen" "$KEY"
    expect_contains "$1: the key is redacted" "$seen" "[OPENAI_KEY]"
    expect_not_contains "$1: upstream never sees the card" "$seen" "$CARD"
    expect_contains "$1: the card is partly masked" "$seen" "1111"
    expect_contains "$1: the phone goes upstream (request direction not masked)" "$seen" "$PHONE"
}
assert_client_restored() {  # assert_client_restored WHAT TEXT
    expect_contains "$1: the client gets its email back" "$2" "$EMAIL"
    expect_not_contains "$1: no placeholder leaks to the client" "$2" "<EMAIL_1>"
    expect_not_contains "$1: the phone in the answer never reaches the client" "$2" "$PHONE"
    expect_not_contains "$1: nor its digits in a row" "$2" "555 2671"
    expect_contains "$1: it is redacted" "$2" "[PHONE]"
}

out="$(prompted node "$E2E_NODE_DIR/clients/chat.mjs")"
assert_upstream_masked "chat"
assert_client_restored "chat" "$out"

out="$(prompted node "$E2E_NODE_DIR/clients/chat_stream.mjs")"
assert_upstream_masked "chat stream"
assert_client_restored "chat stream" "$out"
expect_contains "chat stream: usage still arrives" "$out" '"prompt_tokens"'

out="$(prompted node "$E2E_NODE_DIR/clients/responses_stream.mjs")"
assert_upstream_masked "responses stream"
assert_client_restored "responses stream" "$out"

python3 -c 'import json,sys; print(json.dumps({"model":"gpt-4.1-mini","input":sys.argv[1]}))' "$PROMPT" >"$E2E_DIR/body.json"
chmod 644 "$E2E_DIR/body.json"
out="$(run_client curl -sS --max-time 10 https://api.openai.com/v1/responses -H "Authorization: Bearer $E2E_DUMMY_KEY" \
    -H 'content-type: application/json' -d "@$E2E_DIR/body.json")"
assert_upstream_masked "responses"
assert_client_restored "responses" "$out"
check "responses: the answer is still valid JSON" python3 -c 'import json,sys; json.loads(sys.argv[1])' "$out"

wait_audit_lines 4
expect_eq "the audit counts masked entities per direction" \
    "$(audit_query '[(r["masking"]["request"].get("email"), r["masking"]["response"].get("phone")) for r in records]')" \
    "[(1, 1), (1, 1), (1, 1), (1, 1)]"
check "no masked value is in the audit" bash -c "! grep -qE '$EMAIL|$KEY|4111 1111|415 555' '$E2E_AUDIT'"
e2e_finish
