#!/usr/bin/env bash
# SAML 2.0 sign-in to the approvers' web page (docs/approvals.md, "SAML"), end to end: a test
# IdP built on Debian's python3-lasso (tests/e2e/lib/saml_idp.py, signing with a test key)
# answers sluiced's signed AuthnRequest (HTTP-Redirect) with a signed Response (HTTP-POST to
# the ACS). In Debian's Chromium (puppeteer-core) an approver signs in through it, sees the
# held request and approves it; the waiting `openai` client gets its answer and the audit names
# the approver as SAML (NameID, IdP). Then every spoiled answer (tampered NameID or group after
# signing, another audience, expired, unsigned, unsolicited, replayed, no sign-in started, a
# user in no approver group) is POSTed to the ACS of a sign-in really started: each is refused
# and none gets a session.
source "$(dirname "$0")/lib/e2e.sh"
source "$(dirname "$0")/lib/approvals.sh"
e2e_setup
command -v chromium >/dev/null || { echo "test_approvals_saml needs chromium (scripts/deps)"; exit 1; }
PY=/usr/bin/python3  # Debian's, with python3-lasso
"$PY" -c "import lasso" 2>/dev/null || { echo "test_approvals_saml needs python3-lasso (scripts/deps)"; exit 1; }
NET="${E2E_UPSTREAM_IP%.*}"
WEB="$NET.2:$(e2e_free_port)"
IDP="$NET.5:$(e2e_free_port)"
IDP_URL="http://$IDP"
make_test_leaf "$E2E_DIR/pki" web "IP:${WEB%:*}"
SAML="$E2E_DIR/saml"
mkdir -p "$SAML"
for who in idp sp; do  # self-signed signing keys, as SAML metadata carries them
    (umask 077; openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SAML/$who.key" -out "$SAML/$who.crt" \
        -days 2 -subj "/CN=sluice test SAML $who" 2>/dev/null)
done
"$PY" "$E2E_LIB_DIR/saml_idp.py" metadata --url "$IDP_URL" --cert "$SAML/idp.crt" >"$SAML/idp-metadata.xml"
SPKI_PINS="$(spki "$E2E_DIR/pki/web.crt")"  # the browser trusts the page (the IdP is plain HTTP)
approval_policy "$E2E_USER"
e2e_write_config "policy: $POLICY
approvals:
  timeout: 90s
  web:
    listen: $WEB
    cert_file: $E2E_DIR/pki/web.crt
    key_file: $E2E_DIR/pki/web.key
    saml:
      idp_metadata_file: $SAML/idp-metadata.xml
      sp_key_file: $SAML/sp.key
      sp_cert_file: $SAML/sp.crt
      group_attribute: groups
      approver_groups: [approvers]"
start_upstream
start_sluiced || { fail "sluiced starts"; e2e_finish; }

# --- our metadata, registered with the IdP ---------------------------------------------------------
curl -sf --cacert "$E2E_DIR/pki/ca.crt" "https://$WEB/saml/metadata" >"$SAML/sp-metadata.xml"
sp_metadata="$(cat "$SAML/sp-metadata.xml")"
expect_contains "the SP metadata names our entity id" "$sp_metadata" "entityID=\"https://$WEB/saml/metadata\""
expect_contains "and our ACS for HTTP-POST" "$sp_metadata" "Location=\"https://$WEB/saml/acs\""
expect_contains "and asks for signed assertions" "$sp_metadata" 'WantAssertionsSigned="true"'
IDP_LOG="$E2E_DIR/idp.jsonl"
"$PY" "$E2E_LIB_DIR/saml_idp.py" serve --listen "$IDP" --url "$IDP_URL" --cert "$SAML/idp.crt" \
    --key "$SAML/idp.key" --sp-metadata "$SAML/sp-metadata.xml" --log "$IDP_LOG" \
    --user dana:approvers,staff --user erin:staff >"$E2E_DIR/idp.out" 2>&1 &
IDP_PID=$!
trap 'kill $IDP_PID 2>/dev/null; e2e_cleanup' EXIT
for i in $(seq 50); do grep -q listening "$E2E_DIR/idp.out" && break; sleep 0.1; done

upstream_count() { upstream_query 'len(records)'; }

# --- sign in through the SAML IdP, see the held request, approve it: the client completes -----------
before="$(upstream_count)"
run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "deploy to production, then mail jane.doe@example.com" >"$E2E_DIR/held.out" &
client=$!
id="$(wait_for_hold)"
check "the request is held" test -n "$id"
out="$(approvals_browser approve dana "$id")"
expect_eq "no browser error" "$(json_field "$out" error)" "null"
expect_eq "the IdP's sign-in page was shown" "$(json_field "$out" idp_title)" "Test SAML IdP"
expect_eq "after the SAML sign-in the approver lands on the list" "$(json_field "$out" landed)" "/approvals"
expect_eq "the list shows the held request" "$(json_field "$out" list_has_id)" "true"
expect_contains "the detail view names the rule" "$(json_field "$out" detail)" "production-changes"
expect_not_contains "never the unmasked personal data" "$(json_field "$out" detail)" "jane.doe@example.com"
expect_eq "a POST without the CSRF token is refused" "$(json_field "$out" csrf_missing_status)" "403"
expect_contains "the session cookie is HttpOnly, Secure, SameSite=Strict" "$(json_field "$out" cookies)" \
    '{"name": "sluice_session", "httpOnly": true, "secure": true, "sameSite": "Strict"}'
expect_contains "the approval is confirmed" "$(json_field "$out" notice)" "Approved"
wait "$client"
expect_contains "the held openai client gets its answer" "$(cat "$E2E_DIR/held.out")" '"ok":true'
expect_eq "it went upstream once" "$(upstream_count)" "$((before + 1))"
expect_eq "the IdP got a signed AuthnRequest by HTTP-Redirect, and verified it" \
    "$(jsonl_query "$IDP_LOG" "[(r['signed'], r['outcome']) for r in records if r['step'] == 'authn_request'][0]")" \
    "(True, 'ok')"
sleep 0.5
expect_eq "the audit names the approver as signed in with SAML: NameID and IdP" \
    "$(audit_query "[(r['approval']['approver']['user'], r['approval']['approver']['via'], r['approval']['approver']['saml_name_id'], r['approval']['approver']['saml_idp']) for r in records if r.get('kind') == 'approval' and r['approval']['id'] == '$id' and r['approval']['event'] == 'approved']")" \
    "[('dana', 'web_saml', 'dana', '$IDP_URL/metadata')]"

# --- a signed-in user outside the approver groups gets no session -------------------------------
out="$(approvals_browser signin erin)"
expect_contains "a SAML user in no approver group is refused" "$(json_field "$out" text)" "erin is not in an approver group"
expect_not_contains "and gets no session" "$(json_field "$out" cookies)" '"sluice_session"'

# --- every spoiled answer to a sign-in really started here is refused, with no session -----------
variants="$("$PY" "$E2E_NODE_DIR/clients/saml_variants.py" "https://$WEB/" "$E2E_DIR/pki/ca.crt" "$IDP_URL" \
    "$SAML/idp.crt" "$SAML/idp.key" "$SAML/sp-metadata.xml" 2>"$E2E_DIR/variants.err")"
variant() { python3 -c 'import json,sys; v=json.loads(sys.argv[1])[sys.argv[2]]; print(v["status"], v["session"])' "$variants" "$1"; }
expect_eq "the control: a good answer signs in" "$(variant good)" "200 True"
refused() { [[ "$(variant "$1")" =~ ^(400|403)\ False$ ]] || { echo "  $1: $(variant "$1")"; return 1; }; }
for case in tampered regrouped audience expired unsigned unsolicited replayed replayed_fresh_login no_login_cookie; do
    check "SAML $case: refused, no session" refused "$case"
done
expect_eq "SAML outsider (signed, but in no approver group): refused, no session" "$(variant outsider)" "403 False"
sleep 0.3
log="$(cat "$E2E_DIR/sluiced.log" 2>/dev/null)"
expect_contains "a tampered answer fails lasso's signature check" "$log" "SAML sign-in refused: Response:"
expect_contains "another audience is named" "$log" "another audience"
expect_contains "an expired one is named" "$log" "expired"
expect_contains "a replay is named" "$log" "unsolicited, replayed or expired"
expect_eq "each refused sign-in is audited (the outsider in the browser, and ten answers)" \
    "$(audit_query "len([r for r in records if r.get('kind') == 'approval_sign_in' and r['approval']['event'] == 'refused' and r['approval']['via'] == 'web_saml' and r['decision']['action'] == 'deny'])")" "11"
expect_eq "a tampered answer is audited with lasso's reason and the IdP" \
    "$(audit_query "[(r['approval']['reason'], r['approval']['idp']) for r in records if r.get('kind') == 'approval_sign_in' and 'verify signature' in r['approval']['reason']][0]")" \
    "('Response: Failed to verify signature.', '$IDP_URL/metadata')"
expect_eq "and each accepted one, naming the NameID" \
    "$(audit_query "sorted({(r['approval']['user'], r['approval']['subject']) for r in records if r.get('kind') == 'approval_sign_in' and r['approval']['event'] == 'signed_in'})")" \
    "[('dana', 'dana')]"
check "sluiced still serves after all that" curl -sf --cacert "$E2E_DIR/pki/ca.crt" -o /dev/null "https://$WEB/saml/metadata"
e2e_finish
