#!/usr/bin/env bash
# The approvals chat webhook end to end (docs/approvals.md, "Chat webhook"): a held request is
# announced to a real HTTPS receiver on loopback in Slack's shape, without the prompt; a
# receiver that answers 500 twice gets it on the third attempt while the hold goes on
# regardless; a receiver that never accepts it is audited as notify_failed; the webhook URL's
# secret path is in no log and no audit record.
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/approvals.sh"
e2e_setup
HOOK_IP="${E2E_UPSTREAM_IP%.*}.3"
HOOK_PORT="$(e2e_free_port)"
HOOK_RECORD="$E2E_DIR/webhook.jsonl"
SECRET_PATH="/services/T000/B000/hook-secret-$RANDOM$RANDOM"
make_test_leaf "$E2E_DIR/pki" hook "IP:$HOOK_IP"
approval_policy "$E2E_USER"
e2e_write_config "policy: $POLICY
approvals:
  timeout: 30s
  notify:
    webhook: https://$HOOK_IP:$HOOK_PORT$SECRET_PATH
    ca_file: $E2E_DIR/pki/ca.crt
    attempts: 4
    initial_backoff: 1s"
HOOK_PID=
start_receiver() {
    python3 "$E2E_LIB_DIR/webhook_receiver.py" --listen "$HOOK_IP:$HOOK_PORT" --cert "$E2E_DIR/pki/hook.crt" \
        --key "$E2E_DIR/pki/hook.key" --record "$HOOK_RECORD" --fail-first "$1" >"$E2E_DIR/receiver.log" 2>&1 &
    HOOK_PID=$!
    local i
    for i in $(seq 50); do grep -q listening "$E2E_DIR/receiver.log" && return 0; sleep 0.1; done
    return 1
}
stop_receiver() { [[ -n "$HOOK_PID" ]] && kill "$HOOK_PID" 2>/dev/null && wait "$HOOK_PID" 2>/dev/null; HOOK_PID=; }
trap 'stop_receiver; e2e_cleanup' EXIT
hook_count() { jsonl_query "$HOOK_RECORD" 'len(records)'; }
wait_hook_count() {  # N [seconds]
    local i
    for i in $(seq $((${2:-10} * 10))); do [[ "$(hook_count)" -ge "$1" ]] && return 0; sleep 0.1; done
    return 1
}

check "the receiver starts (fails its first two requests)" start_receiver 2
start_upstream
start_sluiced || { fail "sluiced starts"; e2e_finish; }

# --- a receiver that fails twice gets the notice on the third attempt; the hold never waits ------
run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "deploy to production ZEBRA-42 now" >"$E2E_DIR/held.out" &
client=$!
id="$(wait_for_hold)"
check "the request is held at once" test -n "$id"
check "held while the receiver has not yet accepted the notice" test "$(jsonl_query "$HOOK_RECORD" "sum(1 for r in records if r['status'] == 200)")" = 0
check "the receiver gets three POSTs (two 500s, backoff, then 200)" wait_hook_count 3 15
expect_eq "answered 500, 500, 200" "$(jsonl_query "$HOOK_RECORD" "[r['status'] for r in records]")" "[500, 500, 200]"
expect_eq "posted to the configured path as JSON" \
    "$(jsonl_query "$HOOK_RECORD" "sorted(set((r['path'] == '$SECRET_PATH', r['content_type']) for r in records))")" \
    "[(True, 'application/json')]"
notice="$(jsonl_query "$HOOK_RECORD" "records[-1]['body']")"
check "the notice is Slack's shape: text and blocks" python3 -c '
import json, sys
n = json.loads(sys.argv[1])
sys.exit(0 if isinstance(n["text"], str) and isinstance(n["blocks"], list) and n["blocks"][0]["type"] == "section" else 1)' "$notice"
expect_contains "it names the approval id" "$notice" "$id"
expect_contains "the requester" "$notice" "$E2E_USER (uid $E2E_UID)"
expect_contains "the model" "$notice" "gpt-4o-mini"
expect_contains "the rule" "$notice" "production-changes"
expect_contains "and how to decide" "$notice" "sluicectl approvals approve|deny $id"
expect_not_contains "never the prompt" "$notice" "ZEBRA-42"
ctl approvals approve "$id" >/dev/null
wait "$client"
expect_contains "the held request completes after approval" "$(cat "$E2E_DIR/held.out")" '"ok":true'
sleep 0.5
expect_eq "the delivery is audited with its attempts" \
    "$(audit_query "[(r['approval']['event'], r['approval']['attempts']) for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'].startswith('notif')]")" \
    "[('notified', 3)]"

# --- a receiver that never accepts: audited as notify_failed, the hold unaffected --------------------
stop_receiver
check "the receiver restarts (failing every request)" start_receiver 1000
before="$(hook_count)"
SDK_MAX_RETRIES=0 run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "production again" >"$E2E_DIR/held2.out" &
client=$!
id="$(wait_for_hold)"
check "held while every notice attempt fails" test -n "$id"
check "four attempts reach the receiver" wait_hook_count "$((before + 4))" 15
sleep 0.5
failed="$(audit_query "[r['approval'] for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'notify_failed']")"
expect_contains "the failure is audited" "$failed" "'attempts': 4"
expect_contains "with the receiver's answer" "$failed" "answered 500"
expect_contains "naming the receiver's origin" "$failed" "https://$HOOK_IP:$HOOK_PORT"
ctl approvals deny "$id" --reason "no" >/dev/null
wait "$client"
expect_contains "the hold still ends by the approver's decision" "$(cat "$E2E_DIR/held2.out")" '"code":"approval_denied"'
stop_sluiced
check "the webhook's secret path is in no log" bash -c "! grep -q 'hook-secret' '$E2E_DIR/sluiced.log'"
check "and in no audit record" bash -c "! grep -rq 'hook-secret' '$E2E_DIR/audit'"
e2e_finish
