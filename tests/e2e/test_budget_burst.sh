#!/usr/bin/env bash
# Budget bursts (issue 24): parallel requests asking for many outputs each (`n`), streamed and
# not, against a daily token budget. The upstream bills every output at the request's cap (the
# most a provider may bill), and the sum it reported must stay within the budget. Also: the
# budget writes its assumed output as the cap when a request names none, and a body without a
# string model is refused by a rule that restricts models before anything goes upstream.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
SLUICECTL="$E2E_BIN_DIR/sluicectl"
E2E_OTHER_USER=sluice-e2e-burst
e2e_add_user "$E2E_OTHER_USER"
POLICY="$E2E_DIR/policy.yaml"
e2e_write_config "policy: $POLICY"
cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: capped
    match: {users: [$E2E_USER]}
    models: {allow: [gpt-4o-mini]}
    budget: {tokens_per_day: 2000, per: rule}
  - name: uncapped
    match: {users: [$E2E_OTHER_USER]}
    budget: {tokens_per_day: 2000, per: rule, assumed_output_tokens: 100}
YAML

start_upstream --bill-to-cap || exit 1
start_sluiced || exit 1
burst() { run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" "$@"; }
other() { E2E_CLIENT_USER="$E2E_OTHER_USER" run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" "$@"; }
# reported OUTPUT: the sum of total_tokens upstream reported over the admitted requests.
reported() { printf '%s\n' "$1" | /usr/bin/python3 -c 'import json,sys; print(sum((json.loads(l)["usage"] or {}).get("total_tokens", 0) for l in sys.stdin if l.strip()))'; }
admitted() { printf '%s\n' "$1" | grep -c '"status": 200'; }
budget_used() { "$SLUICECTL" --config "$E2E_CONFIG" status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["budgets"].get("budget|'"$1"'", {}).get("tokens", 0))'; }

# --- the reproduction: 8 parallel streams with n: 10 against 2,000 tokens a day ---------------
out="$(burst 8 '{"model":"gpt-4o-mini","stream":true,"n":10,"max_tokens":100,"messages":[{"role":"user","content":"burst"}]}')"
sum="$(reported "$out")"
check "some of the burst is admitted ($(admitted "$out") of 8)" test "$(admitted "$out")" -ge 1
check "the sum upstream reported for the streamed burst stays within 2000 ($sum)" test "$sum" -le 2000
check "every admitted stream carried upstream's usage" \
    test "$(printf '%s\n' "$out" | grep '"status": 200' | grep -c '"total_tokens"')" -eq "$(admitted "$out")"
expect_contains "the rest are refused with budget_exceeded" "$out" '"code": "budget_exceeded"'
expect_eq "the budget holds what upstream reported" "$(budget_used capped)" "$sum"

# --- more of the same, not streamed: the budget still holds ------------------------------------
out="$(burst 8 '{"model":"gpt-4o-mini","n":4,"max_completion_tokens":50,"max_tokens":200,"messages":[{"role":"user","content":"again"}]}')"
total=$((sum + $(reported "$out")))
check "with conflicting caps and n: 4 the total stays within 2000 ($total)" test "$total" -le 2000
expect_eq "the budget holds what upstream reported, both bursts" "$(budget_used capped)" "$total"

# --- no cap named: the budget's assumed output is written as the cap ---------------------------
out="$(other 8 '{"model":"gpt-4o","n":10,"messages":[{"role":"user","content":"no cap"}]}')"
sum="$(reported "$out")"
check "an uncapped burst with n: 10 stays within 2000 ($sum)" test "$sum" -le 2000
check "and is admitted at least once" test "$(admitted "$out")" -ge 1
expect_eq "upstream received the budget's assumed output as the cap" \
    "$(upstream_query 'sorted({body(r).get("max_completion_tokens") for r in records if (body(r).get("messages") or [{}])[0].get("content") == "no cap"})')" \
    "[100]"

# --- a body without a string model: refused by the rule restricting models ---------------------
for model in '["gpt-4o-mini"]' 'null' '{"name":"gpt-4o-mini"}' '""' 'absent'; do
    if [[ "$model" == absent ]]; then
        body='{"messages":[{"role":"user","content":"model-less"}]}'
    else
        body='{"model":'"$model"',"messages":[{"role":"user","content":"model-less"}]}'
    fi
    out="$(burst 1 "$body")"
    expect_contains "model $model is refused with 400 model_unknown" "$out" '"status": 400, "usage": null, "code": "model_unknown"'
done
expect_eq "no model-less request reached upstream" \
    "$(upstream_query 'sum(1 for r in records if (body(r).get("messages") or [{}])[0].get("content") == "model-less")')" "0"
e2e_finish
