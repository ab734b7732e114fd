# Helpers the approvals tests share (sourced after lib/e2e.sh).

# approval_policy USERS: the approvals tests' policy (a prompt naming production is held for a
# person's approval when one of USERS, a YAML list's items, sends it), in $POLICY.
approval_policy() {
    POLICY="$E2E_DIR/policy.yaml"
    cat >"$POLICY" <<YAML
version: 1
default: allow
rules:
  - name: production-changes
    match: {users: [$1]}
    require_approval: {patterns: ["(?i)production"]}
YAML
}

# spki CERT: the base64 SHA-256 of a certificate's public key, as Chromium pins it.
spki() { openssl x509 -in "$1" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64; }

# sluicectl against this test's sluiced.
ctl() { "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" "$@"; }

# wait_for_hold [USER]: prints the id of the first held request (USER's, when named) once it is
# listed; fails after 15 s.
wait_for_hold() {
    local i id
    for i in $(seq 150); do
        id="$(ctl approvals list 2>/dev/null | python3 -c '
import json, sys
user = sys.argv[1] if len(sys.argv) > 1 else ""
held = [a for a in json.load(sys.stdin)["approvals"]
        if a["state"] == "held" and (not user or a["requester"]["user"] == user)]
print(held[0]["id"] if held else "")' "$@")"
        [[ -n "$id" ]] && { echo "$id"; return 0; }
        sleep 0.1
    done
    return 1
}

# json_field JSON NAME: a field of a JSON object (a string bare, anything else as JSON).
json_field() {
    python3 -c 'import json,sys; v=json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v) if not isinstance(v, str) else v)' "$1" "$2"
}

# approvals_browser ACTION USER [ID]: Chromium on the page at https://$WEB/, trusting the keys in
# $SPKI_PINS (clients/approvals_browser.mjs); prints what it saw as JSON. SCREENSHOTS optional.
approvals_browser() {
    local profile
    profile="$(mktemp -d "$E2E_DIR/profile.XXXXXX")"
    HOME="$E2E_DIR" SPKI_PINS="$SPKI_PINS" PROFILE_DIR="$profile" CA_FILE="$E2E_DIR/pki/ca.crt" \
        SCREENSHOTS="${SCREENSHOTS:-}" timeout 120 node "$E2E_NODE_DIR/clients/approvals_browser.mjs" \
        "$1" "https://$WEB/" "$2" "${3:-}" 2>>"$E2E_DIR/browser.err"
}
