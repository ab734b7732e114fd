#!/usr/bin/env bash
# Issue 24, end to end with Python's urllib: a generated corpus puts a blocked marker, a secret
# and an email into every kind of string-carrying field of Chat Completions, Responses and
# Embeddings requests (member names included), spelled plainly, with JSON escapes, fullwidth,
# with format characters, in data: URIs, as JSON in a string and split across parts. No marker
# and no secret or email, in any reading of what arrived, reaches the fake upstream; every
# marker is refused and audited without the value; every secret and email is masked. Bodies
# parsers read differently (BOM, duplicate members, NaN, lone surrogates) are refused, 400.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<'YAML'
version: 1
default: deny
pattern_sets:
  markers:
    - {name: marker, regex: 'SLUICE-MARKER-[0-9]{4}'}
block_prompts:
  sets: [markers]
rules:
  - name: everyone
    match: {}
    masking:
      - entities: [all]
        action: redact
YAML
e2e_write_config "policy: $POLICY"
start_upstream || exit 1
start_sluiced || exit 1

MARKER="SLUICE-MARKER-4242"
SECRET="AKIAIOSFODNN7EXAMPLE"
EMAIL="jane.roe@example.com"

results="$(run_client env E2E_MARKER="$MARKER" E2E_SECRET="$SECRET" E2E_EMAIL="$EMAIL" \
    /usr/bin/python3 "$E2E_NODE_DIR/clients/inspection_corpus.py")"
total=$(grep -c . <<<"$results")
check "the corpus ran (>= 250 requests)" test "$total" -ge 250
expect_eq "every marker is refused as prompt_blocked" \
    "$(python3 -c 'import json,sys; print(sorted({(r["status"], r["code"]) for r in map(json.loads, sys.stdin) if r["expect"] == "blocked"}))' <<<"$results")" \
    "[(403, 'prompt_blocked')]"
expect_eq "every masked value is forwarded (200)" \
    "$(python3 -c 'import json,sys; print(sorted({r["status"] for r in map(json.loads, sys.stdin) if r["expect"] == "masked"}))' <<<"$results")" \
    "[200]"

# Every reading of what the upstream received: each string decoded (JSON in strings, data:
# URIs), folded (NFKC, format characters dropped), and all strings of a body joined.
READER='
import base64, json, sys, unicodedata
def fold(s):
    s = unicodedata.normalize("NFKC", s)
    return "".join(" " if unicodedata.category(c) in ("Zs", "Zl", "Zp") else c
                   for c in s if unicodedata.category(c) != "Cf")
def strings(v):
    if isinstance(v, str):
        yield v
        t = v.strip()
        if t[:1] in "{[":
            try: yield from strings(json.loads(t))
            except ValueError: pass
        if v[:5].lower() == "data:" and ";base64," in v:
            try: yield base64.b64decode(v.split(",", 1)[1]).decode("utf-8", "replace")
            except ValueError: pass
    elif isinstance(v, list):
        for x in v: yield from strings(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            yield k
            yield from strings(x)
def readings(raw):
    yield raw
    try: texts = list(strings(json.loads(raw)))
    except ValueError: return
    yield from texts
    yield "".join(texts)
    yield from (fold(t) for t in texts)
    yield fold("".join(texts))
'
upstream_has() {  # upstream_has VALUE: every body the upstream received, every reading
    python3 -c "$READER"'
value = sys.argv[2]
found = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("method") == "POST" and any(value in t for t in readings(r.get("body") or "")):
        found += 1
print(found)' "$E2E_RECORD" "$1"
}
expect_eq "no marker reaches the upstream in any reading" "$(upstream_has "$MARKER")" "0"
expect_eq "no secret reaches the upstream in any reading" "$(upstream_has "$SECRET")" "0"
expect_eq "no email reaches the upstream in any reading" "$(upstream_has "$EMAIL")" "0"
masked=$(grep -c '"masked"' <<<"$results")
expect_eq "the upstream received every masked request" \
    "$(upstream_query 'len([r for r in records if r["method"] == "POST"])')" "$masked"
check "the upstream saw the masks" test "$(upstream_has '[AWS_ACCESS_KEY]')" -gt 0 -a "$(upstream_has '[EMAIL]')" -gt 0

wait_audit_lines "$total"
expect_eq "every refusal is audited as a deny naming the pattern" \
    "$(audit_query 'sorted({(r["decision"]["action"], r["decision"]["reason"]) for r in records if r.get("response", {}).get("status") == 403})')" \
    "[('deny', 'prompt matches blocked pattern markers/marker')]"
audit_has() {
    python3 -c "$READER"'
print(sum(1 for line in open(sys.argv[1]) if any(sys.argv[2] in t for t in (line, fold(line)))))' "$E2E_AUDIT" "$1"
}
expect_eq "no marker in the audit" "$(audit_has "$MARKER")" "0"
expect_eq "no secret in the audit" "$(audit_has "$SECRET")" "0"
expect_eq "no email in the audit" "$(audit_has "$EMAIL")" "0"

# Bodies parsers read differently: refused with 400 naming the problem, never forwarded.
before="$(upstream_query 'len(records)')"
for body in $'\xEF\xBB\xBF{"model":"gpt-4o","messages":[{"role":"user","content":"jane.roe@example.com"}]}' \
            '{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"messages":[{"role":"user","content":"jane.roe@example.com"}]}' \
            '{"model":"gpt-4o","temperature":NaN,"messages":[{"role":"user","content":"jane.roe@example.com"}]}' \
            '{"model":"gpt-4o","messages":[{"role":"user","content":"\ud800 jane.roe@example.com"}]}'; do
    printf '%s' "$body" >"$E2E_DIR/odd.json"; chmod 644 "$E2E_DIR/odd.json"
    out="$(run_client curl -sS --max-time 10 -w ' %{http_code}' https://api.openai.com/v1/chat/completions \
        -H "Authorization: Bearer $E2E_DUMMY_KEY" -H 'content-type: application/json' --data-binary "@$E2E_DIR/odd.json")"
    expect_contains "odd body refused 400: ${body:0:40}" "$out" " 400"
    expect_contains "odd body: OpenAI error shape" "$out" '"param":null'
    expect_contains "odd body: the closed control refuses it" "$out" '"code":"prompt_unscannable"'
    expect_contains "odd body: the problem is named" "$out" 'the request body'
done
expect_eq "no odd body reached the upstream" "$(upstream_query 'len(records)')" "$before"
e2e_finish
