#!/usr/bin/env bash
# The approvers' web page end to end (docs/approvals.md, "Web page"), in Debian's Chromium
# driven headless by puppeteer-core: an approver signs in through a test OIDC provider (code +
# PKCE, real RS256 ID tokens), sees the held request with its masked excerpt, and approves it;
# the waiting `openai` client gets its answer. A POST without (or with a wrong) CSRF token is
# refused, a signed-in user outside the approver groups gets no session, and an approver may
# not approve a request made with their own token (OIDC subject). Screenshots of the list and
# the detail view are saved (E2E_SCREENSHOTS_DIR=docs keeps them for docs/approvals.md).
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/approvals.sh"
e2e_setup
command -v chromium >/dev/null || { echo "test_approvals_web needs chromium (scripts/deps)"; exit 1; }
SLUICECTL="$E2E_BIN_DIR/sluicectl"
NET="${E2E_UPSTREAM_IP%.*}"
WEB="$NET.2:$(e2e_free_port)"
IDP="$NET.4:$(e2e_free_port)"
make_test_leaf "$E2E_DIR/pki" web "IP:${WEB%:*}"
make_test_leaf "$E2E_DIR/pki" idp "IP:${IDP%:*}"
SPKI_PINS="$(spki "$E2E_DIR/pki/web.crt"),$(spki "$E2E_DIR/pki/idp.crt")"
approval_policy "$E2E_USER"
e2e_write_config "policy: $POLICY
oidc:
  - issuer: https://$IDP
    audience: sluice-api
    ca_file: $E2E_DIR/pki/ca.crt
approvals:
  timeout: 90s
  web:
    listen: $WEB
    cert_file: $E2E_DIR/pki/web.crt
    key_file: $E2E_DIR/pki/web.key
    oidc:
      issuer: https://$IDP
      client_id: sluice-approvals
      ca_file: $E2E_DIR/pki/ca.crt
      approver_groups: [approvers]"
IDP_LOG="$E2E_DIR/idp.jsonl"
node "$E2E_LIB_DIR/fake_idp.mjs" --listen "$IDP" --cert "$E2E_DIR/pki/idp.crt" --key "$E2E_DIR/pki/idp.key" \
    --client-id sluice-approvals --log "$IDP_LOG" --user dana:sub-dana:approvers,staff \
    --user erin:sub-erin:staff >"$E2E_DIR/idp.out" 2>&1 &
IDP_PID=$!
trap 'kill $IDP_PID 2>/dev/null; e2e_cleanup' EXIT
for i in $(seq 50); do grep -q listening "$E2E_DIR/idp.out" && break; sleep 0.1; done
start_upstream
start_sluiced || { fail "sluiced starts"; e2e_finish; }
upstream_count() { upstream_query 'len(records)'; }

# --- sign in, see the held request, approve it: the waiting client completes ----------------------
before="$(upstream_count)"
run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "deploy to production, then mail jane.doe@example.com" >"$E2E_DIR/held.out" &
client=$!
id="$(wait_for_hold)"
check "the request is held" test -n "$id"
out="$(SCREENSHOTS="$E2E_DIR/approvals" approvals_browser approve dana "$id")"
expect_eq "no browser error" "$(json_field "$out" error)" "null"
expect_eq "after sign-in the approver lands on the list" "$(json_field "$out" landed)" "/approvals"
expect_eq "the list shows the held request" "$(json_field "$out" list_has_id)" "true"
detail="$(json_field "$out" detail)"
expect_contains "the detail view names the rule" "$detail" "production-changes"
expect_contains "and the requester" "$detail" "$E2E_USER (uid $E2E_UID)"
expect_contains "and shows the masked excerpt" "$detail" "deploy to production"
expect_not_contains "never the unmasked personal data" "$detail" "jane.doe@example.com"
expect_eq "a POST without the CSRF token is refused" "$(json_field "$out" csrf_missing_status)" "403"
expect_eq "a POST with a wrong CSRF token is refused" "$(json_field "$out" csrf_wrong_status)" "403"
expect_contains "the session cookie is HttpOnly, Secure, SameSite=Strict" "$(json_field "$out" cookies)" \
    '{"name": "sluice_session", "httpOnly": true, "secure": true, "sameSite": "Strict"}'
expect_eq "page scripts cannot read it" "$(json_field "$out" script_sees_cookie)" "false"
expect_contains "the approval is confirmed" "$(json_field "$out" notice)" "Approved"
wait "$client"
expect_contains "the held openai client gets its answer" "$(cat "$E2E_DIR/held.out")" '"ok":true'
expect_eq "it went upstream once" "$(upstream_count)" "$((before + 1))"
sleep 0.5
expect_eq "the refused POSTs decided nothing: one decision, by dana on the web" \
    "$(audit_query "[(r['approval']['approver']['user'], r['approval']['approver']['via'], r['approval']['approver']['oidc_subject'], r['approval']['reason']) for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] in ('approved', 'denied', 'partially_approved')]")" \
    "[('dana', 'web_oidc', 'sub-dana', 'looks fine (web)')]"
expect_eq "the sign-in used the code flow with PKCE" \
    "$(jsonl_query "$IDP_LOG" "[(r['grant_type'], r['has_verifier'], r['outcome']) for r in records][0]")" \
    "('authorization_code', True, 'ok')"
for view in list detail; do
    check "a screenshot of the $view view is saved" test -s "$E2E_DIR/approvals-$view.png"
    [[ -n "${E2E_SCREENSHOTS_DIR:-}" ]] && cp "$E2E_DIR/approvals-$view.png" "$E2E_SCREENSHOTS_DIR/"
done

# --- a signed-in user outside the approver groups gets no session -------------------------------
out="$(approvals_browser signin erin)"
expect_contains "a non-approver is refused" "$(json_field "$out" text)" "erin is not in an approver group"
expect_not_contains "and gets no session" "$(json_field "$out" cookies)" '"sluice_session"'
expect_eq "the refused sign-in is audited with the OIDC subject" \
    "$(audit_query "[(r['approval']['via'], r['approval']['user'], r['approval']['subject'], r['approval']['reason']) for r in records if r.get('kind') == 'approval_sign_in' and r['approval']['event'] == 'refused']")" \
    "[('web_oidc', 'erin', 'sub-erin', 'not in an approver group')]"

# --- an approver may not approve a request made with their own token --------------------------------
token="$(curl -s --cacert "$E2E_DIR/pki/ca.crt" "https://$IDP/mint?user=dana&aud=sluice-api")"
run_client env OPENAI_API_KEY="$token" node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "dana's production change" >"$E2E_DIR/self.out" &
client=$!
id="$(wait_for_hold)"
check "dana's own request is held" test -n "$id"
out="$(approvals_browser approve dana "$id")"
expect_contains "self-approval by OIDC subject is refused" "$(json_field "$out" notice)" "self-approval refused: OIDC subject sub-dana"
check "the request is still held" bash -c "'$SLUICECTL' --config '$E2E_CONFIG' approvals show '$id' | grep -q '\"state\": \"held\"'"
ctl approvals approve "$id" >/dev/null
wait "$client"
expect_contains "another approver may approve it" "$(cat "$E2E_DIR/self.out")" '"ok":true'
e2e_finish
