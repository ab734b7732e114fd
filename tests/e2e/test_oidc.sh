#!/usr/bin/env bash
# OIDC identity end to end with the real `openai` SDK: a token from a test issuer (keys the test
# generates) presented as the API key is verified, shown in the audit and matched by policy;
# expired, wrong-audience, tampered and unknown-issuer tokens get a 401 the SDK surfaces and
# never reach upstream; a token bound to another person is refused as an identity mismatch; a
# plain dummy key still works on the kernel identity alone.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
MINT="$E2E_BIN_DIR/test-jwt-mint"
ISSUER="https://issuer.sluice-e2e.test"
KEYS="$E2E_DIR/oidc"
mkdir -p "$KEYS"
"$MINT" keygen --alg ES256 --kid es1 --key "$KEYS/es1.pem" --jwks "$KEYS/jwks.json" >/dev/null
"$MINT" keygen --alg RS256 --kid rs1 --key "$KEYS/rs1.pem" --jwks "$KEYS/jwks.json" >/dev/null
"$MINT" keygen --alg EdDSA --kid ed1 --key "$KEYS/ed1.pem" --jwks "$KEYS/jwks.json" >/dev/null
"$MINT" keygen --alg ES256 --kid rogue --key "$KEYS/rogue.pem" >/dev/null  # not in the JWKS
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: bound
    match: {users: [$E2E_USER], oidc: {subjects: ["*"]}}
    oidc_binding: {claim: sub, users: {$E2E_USER: [alice]}}
  - name: ml-team-token
    match: {oidc: {groups: [ml]}}
  - name: kernel-user
    match: {users: [$E2E_USER]}
    models: {allow: [gpt-4o-mini]}
YAML
e2e_write_config "policy: $POLICY
oidc:
  - issuer: $ISSUER
    audience: sluice
    jwks_file: $KEYS/jwks.json"
start_upstream || exit 1
start_sluiced || exit 1

sign() { "$MINT" sign --iss "$ISSUER" --aud sluice --sub alice --email alice@example.test --group ml "$@"; }
chat_with() {  # chat_with TOKEN MODEL
    OPENAI_API_KEY="$1" SDK_MAX_RETRIES=0 run_client env OPENAI_API_KEY="$1" \
        node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "oidc call" "$2"
}

# --- each algorithm verifies; the token's groups pick the rule --------------------------------
for key in es1 rs1 ed1; do
    out="$(chat_with "$(sign --key "$KEYS/$key.pem" --kid "$key")" gpt-4o)"
    expect_contains "a $key-signed token is accepted and its group allows gpt-4o" "$out" '"ok":true'
done
wait_audit_lines 3
expect_eq "the audit shows the token's identity next to the kernel's" \
    "$(audit_query '[(r["identity"]["user"], r["identity"]["oidc"]["subject"], r["identity"]["oidc"]["groups"], r["decision"]["rule"]) for r in records][:1]')" \
    "[('$E2E_USER', 'alice', ['ml'], 'bound')]"
check "upstream never saw the token (only the real key)" \
    test "$(upstream_query 'sum(1 for r in records if "eyJ" in json.dumps(r["headers"]))')" = 0

# --- binding: this kernel user may only present alice's token ---------------------------------
out="$(chat_with "$("$MINT" sign --iss "$ISSUER" --aud sluice --sub bob --group ml --key "$KEYS/es1.pem" --kid es1)" gpt-4o)"
expect_contains "bob's valid token from alice's kernel user is refused" "$out" '"status":403'
expect_contains "as an identity mismatch" "$out" '"code":"identity_mismatch"'
expect_eq "the mismatch is audited as such" \
    "$(audit_query '[r["decision"].get("code") for r in records if r["identity"].get("oidc", {}).get("subject") == "bob"]')" "['identity_mismatch']"

# --- a plain dummy key: kernel identity alone ------------------------------------------------
out="$(SDK_MAX_RETRIES=0 run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "dummy" gpt-4o)"
expect_contains "without a token the kernel user's rule applies (gpt-4o denied)" "$out" '"status":403'
out="$(SDK_MAX_RETRIES=0 run_client node "$E2E_NODE_DIR/clients/chat_or_error.mjs" "dummy" gpt-4o-mini)"
expect_contains "and its allowed model works" "$out" '"ok":true'

# --- bad tokens: 401, never a silent downgrade, never upstream ---------------------------------
before="$(upstream_query 'len(records)')"
bad() {  # bad NAME TOKEN EXPECTED_MESSAGE_PART
    local out
    out="$(chat_with "$2" gpt-4o-mini)"
    expect_contains "$1: 401" "$out" '"status":401'
    expect_contains "$1: says why" "$out" "$3"
}
bad "expired token" "$(sign --key "$KEYS/es1.pem" --kid es1 --exp-in -600)" "expired"
bad "wrong audience" "$("$MINT" sign --key "$KEYS/es1.pem" --kid es1 --iss "$ISSUER" --aud someone-else --sub alice)" "aud"
bad "unknown issuer" "$("$MINT" sign --key "$KEYS/es1.pem" --kid es1 --iss https://evil.test --aud sluice --sub alice)" "issuer"
bad "key not in the JWKS" "$(sign --key "$KEYS/rogue.pem" --kid rogue)" "key"
bad "alg none" "$(sign --key "$KEYS/es1.pem" --kid es1 --alg-header none)" "alg"
tampered="$(sign --key "$KEYS/es1.pem" --kid es1)"
payload="$(printf '%s' "$tampered" | cut -d. -f2 | tr '_-' '/+' | base64 -d 2>/dev/null | sed 's/"alice"/"mallory"/' | base64 -w0 | tr '/+' '_-' | tr -d '=')"
bad "tampered claims" "$(printf '%s' "$tampered" | cut -d. -f1).$payload.$(printf '%s' "$tampered" | cut -d. -f3)" "signature"
bad "truncated token" "$(sign --key "$KEYS/es1.pem" --kid es1 | cut -d. -f1-2)" "token"
expect_eq "no refused token reached upstream" "$(upstream_query 'len(records)')" "$before"
expect_eq "refusals are audited with the reason" \
    "$(audit_query 'sum(1 for r in records if r["response"]["status"] == 401 and r["identity"].get("oidc", {}).get("outcome") == "invalid")')" "7"
check "no token is in the audit" bash -c "! grep -q 'eyJ' '$E2E_AUDIT'"
check "no token is in sluiced's log" bash -c "! grep -q 'eyJ' '$E2E_DIR/sluiced.log'"

# --- key rotation: a new key added to the JWKS file is picked up ------------------------------
"$MINT" keygen --alg ES256 --kid es2 --key "$KEYS/es2.pem" --jwks "$KEYS/jwks.json" >/dev/null
for i in $(seq 20); do
    out="$(chat_with "$(sign --key "$KEYS/es2.pem" --kid es2)" gpt-4o)"
    [[ "$out" == *'"ok":true'* ]] && break
    sleep 0.25
done
expect_contains "a key added to the JWKS file is accepted" "$out" '"ok":true'
e2e_finish
