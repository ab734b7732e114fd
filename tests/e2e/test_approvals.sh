#!/usr/bin/env bash
# Approval holds end to end with the real `openai` SDK (docs/approvals.md): a prompt the rule
# holds waits until `sluicectl approvals approve` (plain and streamed, the stream kept alive by
# SSE comments), a denial reaches the SDK as 403 approval_denied with the reason, a timeout
# gives 403 approval_timeout and a later approval lets the identical retry through once, the
# requester may not approve its own request, an approver group member (not root) may decide,
# a rule's min_approvers releases a hold only after that many distinct approvers (never the
# requester), and a restart while held gives the client a clean 503 with nothing sent upstream.
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/approvals.sh"
e2e_setup
SLUICECTL="$E2E_BIN_DIR/sluicectl"
APPROVER=sluice-e2e-approver
APPROVERS=sluice-e2e-approvers
e2e_add_user "$APPROVER" "$APPROVERS"
# Needs two approvers; is an approver itself (and may still not approve its own request).
TWO_PERSON=sluice-e2e-2p
e2e_add_user "$TWO_PERSON" "$APPROVERS"
approval_policy "$E2E_USER, $APPROVER"
cat >>"$POLICY" <<YAML
  - name: two-person
    match: {users: [$TWO_PERSON]}
    require_approval: {min_approvers: 2}
YAML
e2e_write_config "policy: $POLICY
approvals:
  timeout: 6s
  keepalive_interval: 1s
  approvers: {groups: [$APPROVERS]}"
start_upstream
start_sluiced || { fail "sluiced starts"; e2e_finish; }
node_client() { echo node "$E2E_NODE_DIR/clients/$1"; }
as_approver() { setpriv --reuid "$APPROVER" --regid "$(id -g "$APPROVER")" --init-groups -- "$SLUICECTL" --config "$E2E_CONFIG" "$@"; }
upstream_count() { upstream_query 'len(records)'; }

check "policy check accepts require_approval conditions" "$SLUICECTL" policy check "$POLICY"
out="$(ctl policy explain --user "$E2E_USER" --prompt "deploy to production")"
expect_contains "explain says a matching prompt needs approval" "$out" "approval_required"
out="$(ctl policy explain --user "$E2E_USER" --prompt "deploy to production" --approved)"
expect_contains "explain: once approved it is allowed" "$out" "decision: allow"
out="$(ctl policy explain --user "$E2E_USER" --prompt "hello")"
expect_contains "explain: a prompt meeting no condition is allowed" "$out" "require_approval: no condition met"

out="$(SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "a harmless question")"
expect_contains "a prompt no condition matches is not held" "$out" '"ok":true'

# --- a held plain request completes after approval -----------------------------------------------
before="$(upstream_count)"
run_client $(node_client chat_or_error.mjs) "deploy to production please, then mail jane.doe@example.com" >"$E2E_DIR/plain.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
check "the plain request is listed as held" test -n "$id"
sleep 0.5
expect_eq "nothing went upstream while held" "$(upstream_count)" "$before"
shown="$(ctl approvals show "$id")"
expect_contains "show names the rule" "$shown" '"rule": "production-changes"'
expect_contains "show names why" "$shown" 'prompt matches pattern'
expect_contains "show has a masked excerpt of the prompt" "$shown" '"excerpt": "deploy to production please, then mail'
expect_not_contains "with personal data masked" "$shown" "jane.doe@example.com"
out="$(ctl approvals approve "$id" --reason "change ticket 42")"
expect_contains "approve answers" "$out" '"decision": "approved"'
wait "$client"
out="$(cat "$E2E_DIR/plain.out")"
expect_contains "the held plain request completes" "$out" '"ok":true'
expect_eq "it went upstream once" "$(upstream_count)" "$((before + 1))"
sleep 0.5  # the audit is written in the background
expect_eq "the hold is audited" "$(audit_query "sum(1 for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'held')")" "1"
expect_eq "the decision is audited with approver, reason and scope" \
    "$(audit_query "[(r['approval']['approver']['user'], r['approval']['reason'], r['approval']['scope']) for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'approved'][0]")" \
    "('root', 'change ticket 42', 'once')"
expect_eq "the request record carries the approval" \
    "$(audit_query "[r['approval']['decision'] for r in records if r.get('kind') == 'request' and (r.get('approval') or {}).get('id') == '$id'][0]")" "approved"

# --- a held stream is kept alive and completes after approval -------------------------------------
run_client $(node_client chat_stream_or_error.mjs) "stream the production plan" >"$E2E_DIR/stream.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
sleep 2.5  # keep-alive comments go out every second meanwhile
as_approver approvals approve "$id" >/dev/null
check "an approver group member (not root) may approve" test $? -eq 0
wait "$client"
out="$(cat "$E2E_DIR/stream.out")"
expect_contains "the held stream completes after approval" "$out" '"ok":true'
check "the held stream carries content" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d["chunks"] > 0 and d["content"] else 1)' "$out"

# What a held stream carries, as curl sees it: the head, keep-alive comments, then the answer.
run_client curl -sN https://api.openai.com/v1/chat/completions -H "Authorization: Bearer $E2E_DUMMY_KEY" \
    -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"production via curl"}]}' \
    >"$E2E_DIR/curl.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
sleep 2.5
ctl approvals approve "$id" >/dev/null
wait "$client"
out="$(cat "$E2E_DIR/curl.out")"
expect_contains "a held stream gets SSE keep-alive comments" "$out" ": held for approval $id"
expect_contains "then the upstream's stream to its end" "$out" "data: [DONE]"

# A stream denied after its keep-alives began: the refusal is its last event, which the SDK raises.
SDK_MAX_RETRIES=0 run_client $(node_client chat_stream_or_error.mjs) "stream a production secret" >"$E2E_DIR/stream-deny.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
sleep 2.5
ctl approvals deny "$id" --reason "streams denied too" >/dev/null
wait "$client"
out="$(cat "$E2E_DIR/stream-deny.out")"
expect_contains "a held stream that is denied fails in the SDK" "$out" '"ok":false'
expect_contains "with the approver's reason" "$out" "streams denied too"

# --- deny --------------------------------------------------------------------------------------------
before="$(upstream_count)"
SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "drop the production database" >"$E2E_DIR/deny.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
ctl approvals deny "$id" --reason "not during the freeze" >/dev/null
wait "$client"
out="$(cat "$E2E_DIR/deny.out")"
expect_contains "a denial is the SDK's 403" "$out" '"status":403'
expect_contains "with code approval_denied" "$out" '"code":"approval_denied"'
expect_contains "and the approver's reason" "$out" "not during the freeze"
expect_eq "nothing went upstream for the denied request" "$(upstream_count)" "$before"

# --- who may decide ------------------------------------------------------------------------------------
out="$(setpriv --reuid "$E2E_USER" --regid "$(id -g "$E2E_USER")" --init-groups -- "$SLUICECTL" --config "$E2E_CONFIG" approvals list 2>&1)"; rc=$?
expect_eq "a non-approver cannot list held requests" "$rc" "1"
E2E_CLIENT_USER="$APPROVER" SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "my own production change" >"$E2E_DIR/self.out" &
client=$!
id="$(wait_for_hold "$APPROVER")"
out="$(as_approver approvals approve "$id" 2>&1)"; rc=$?
expect_eq "self-approval is refused" "$rc" "1"
expect_contains "and says so" "$out" "self-approval refused"
ctl approvals approve "$id" >/dev/null
wait "$client"
expect_contains "another approver may approve it" "$(cat "$E2E_DIR/self.out")" '"ok":true'

# --- timeout, then a late approval lets the identical retry through once --------------------------------
SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "rotate the production keys" >"$E2E_DIR/timeout.out"
out="$(cat "$E2E_DIR/timeout.out")"
expect_contains "an unanswered hold times out with the SDK's 403" "$out" '"status":403'
expect_contains "with code approval_timeout" "$out" '"code":"approval_timeout"'
id="$(grep -o 'ap-[0-9a-f]*' "$E2E_DIR/timeout.out" | head -1)"
check "the timeout names the approval id" test -n "$id"
ctl approvals approve "$id" --reason "approved late" >/dev/null
check "a timed-out request can be approved later" test $? -eq 0
before="$(upstream_count)"
out="$(SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "rotate the production keys")"
expect_contains "the identical retry goes through without a hold" "$out" '"ok":true'
expect_eq "the retry went upstream" "$(upstream_count)" "$((before + 1))"
SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "rotate the production keys" >"$E2E_DIR/again.out" &
client=$!
id2="$(wait_for_hold "$E2E_USER")"
check "the late approval let one retry through, not two" test -n "$id2"
ctl approvals deny "$id2" >/dev/null
wait "$client"

# --- approve --for: the same identity and rule pass for a while ---------------------------------------
run_client $(node_client chat_or_error.mjs) "production report one" >"$E2E_DIR/for.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
ctl approvals approve "$id" --for 10m >/dev/null
wait "$client"
out="$(SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "production report two")"
expect_contains "with --for another request of the same rule passes without a hold" "$out" '"ok":true'

# --- min_approvers: two distinct approvers, never the requester -------------------------------------
as_two_person() { setpriv --reuid "$TWO_PERSON" --regid "$(id -g "$TWO_PERSON")" --init-groups -- "$SLUICECTL" --config "$E2E_CONFIG" "$@"; }
out="$(ctl policy explain --user "$TWO_PERSON" --prompt "anything")"
expect_contains "explain names the approvers a rule needs" "$out" "by 2 approvers"
before="$(upstream_count)"
E2E_CLIENT_USER="$TWO_PERSON" run_client $(node_client chat_or_error.mjs) "a two-person change" >"$E2E_DIR/2p.out" &
client=$!
id="$(wait_for_hold "$TWO_PERSON")"
check "a min_approvers rule holds the request" test -n "$id"
out="$(as_two_person approvals approve "$id" 2>&1)"
expect_contains "the requester, an approver, may not approve its own request" "$out" "self-approval refused"
out="$(ctl approvals approve "$id" --reason "first of two")"
expect_contains "one approval of two is counted" "$out" '"decision": "partially_approved"'
expect_contains "and says how many" "$out" '"approvals": "1 of 2"'
sleep 0.5
check "the client still waits after one approval" kill -0 "$client"
expect_eq "nothing went upstream after one approval" "$(upstream_count)" "$before"
out="$(ctl approvals approve "$id" 2>&1)"
expect_contains "the same approver twice counts once" "$out" "already approved"
out="$(ctl approvals show "$id")"
expect_contains "show lists who approved so far" "$out" '"approvals": [
    "root"'
out="$(as_approver approvals approve "$id")"
expect_contains "a second, distinct approver releases it" "$out" '"decision": "approved"'
wait "$client"
expect_contains "the two-person request completes" "$(cat "$E2E_DIR/2p.out")" '"ok":true'
expect_eq "it went upstream once" "$(upstream_count)" "$((before + 1))"
sleep 0.5
expect_eq "the first approval is audited as partial" \
    "$(audit_query "[(r['approval']['approver']['user'], r['approval']['decision']) for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'partially_approved']")" \
    "[('root', 'approved')]"
expect_eq "the release is audited with both approvers" \
    "$(audit_query "[r['approval']['approvers'] for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'approved']")" \
    "[['root', '$APPROVER']]"
E2E_CLIENT_USER="$TWO_PERSON" SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "another two-person change" >"$E2E_DIR/2p-deny.out" &
client=$!
id="$(wait_for_hold "$TWO_PERSON")"
ctl approvals approve "$id" >/dev/null
as_approver approvals deny "$id" --reason "second approver says no" >/dev/null
wait "$client"
expect_contains "with min_approvers one denial denies" "$(cat "$E2E_DIR/2p-deny.out")" "second approver says no"

# --- restart while held: a clean error, nothing upstream ----------------------------------------------
# (a fresh sluiced: the --for grant above lives in memory only)
stop_sluiced
start_sluiced || fail "sluiced restarts"
before="$(upstream_count)"
run_client $(node_client chat_or_error.mjs) "production restart test" >"$E2E_DIR/restart.out" &
client=$!
id="$(wait_for_hold "$E2E_USER")"
check "held before the restart" test -n "$id"
stop_sluiced
wait "$client"
out="$(cat "$E2E_DIR/restart.out")"
expect_contains "the held client gets a clean error" "$out" '"status":503'
expect_contains "naming the interruption" "$out" '"code":"approval_interrupted"'
expect_eq "upstream saw nothing of it" "$(upstream_count)" "$before"
e2e_finish
