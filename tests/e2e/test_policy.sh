#!/usr/bin/env bash
# Policy end to end with the real `openai` SDK: two users in two cgroups get different outcomes
# for the same call; a rate-limited client gets 429 with Retry-After and the SDK's own retry
# succeeds after the refill; a streamed call counts toward the budget (usage asked for on the
# client's behalf) and the exhausted budget refuses with 429; budgets survive a restart; a bad
# policy is refused on reload and the old one stays; `sluicectl policy check/explain`; uid 65534
# in a sub-cgroup it made itself and named like the CI unit is not the CI unit (issue 23).
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
SLUICECTL="$E2E_BIN_DIR/sluicectl"
E2E_CI_USER=sluice-e2e-ci
e2e_add_user "$E2E_CI_USER"
CI_CGROUP="$E2E_CGROUP/ci-build.service"
RATE_CGROUP="$E2E_CGROUP/ci-rate.service"
mkdir -p "$CI_CGROUP" "$RATE_CGROUP"
POLICY="$E2E_DIR/policy.yaml"
e2e_write_config "policy: $POLICY"

write_policy() {  # write_policy DAILY_TOKENS
    cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: ci-rate
    match: {units: ["ci-rate.service"]}
    rate_limit: {requests_per_minute: 6, per: unit}
  - name: ci
    match: {units: ["ci-*.service"]}
    models: {allow: [gpt-4o-mini]}
    max_tokens: {limit: 64, mode: clamp}
    budget: {tokens_per_day: $1, per: rule}
  - name: nobody-own-units
    match: {uids: [65534], user_units: ["ci-*.service"]}
    models: {allow: [gpt-4o-mini]}
  - name: people
    match: {users: [$E2E_USER]}
YAML
}
write_policy 120
check "policy check accepts the file" "$SLUICECTL" policy check "$POLICY"
chmod 0644 "$POLICY"
expect_contains "policy check warns when every user may read the policy" \
    "$("$SLUICECTL" policy check "$POLICY")" "is readable by every user (mode 0644)"
chmod 0640 "$POLICY"
expect_not_contains "and not once it is 0640" "$("$SLUICECTL" policy check "$POLICY")" "readable by every user"

start_upstream || exit 1
start_sluiced || exit 1
ci() { E2E_CLIENT_USER="$E2E_CI_USER" E2E_CLIENT_CGROUP="$CI_CGROUP" run_client "$@"; }
rate() { E2E_CLIENT_USER="$E2E_CI_USER" E2E_CLIENT_CGROUP="$RATE_CGROUP" run_client "$@"; }
node_client() { echo node "$E2E_NODE_DIR/clients/$1"; }

# --- the same call, two identities, two outcomes ---------------------------------------------
out="$(run_client $(node_client chat_or_error.mjs) "same call" gpt-4o)"
expect_contains "a person may use gpt-4o" "$out" '"ok":true'
out="$(ci $(node_client chat_or_error.mjs) "same call" gpt-4o)"
expect_contains "CI gets the SDK's 403" "$out" '"status":403'
expect_contains "the SDK shows the policy code" "$out" '"code":"model_not_allowed"'
expect_contains "the SDK shows the error type" "$out" '"type":"policy_violation"'
wait_audit_lines 2
expect_eq "audit: the person's call is allowed by rule people" \
    "$(audit_query '[(r["decision"]["action"], r["decision"]["rule"]) for r in records if r["identity"]["user"] == "'$E2E_USER'"]')" \
    "[('allow', 'people')]"
expect_eq "audit: CI's call is denied by rule ci, from its unit" \
    "$(audit_query '[(r["decision"]["action"], r["decision"]["rule"], r["identity"]["unit"], r["response"]["status"]) for r in records if r["identity"]["user"] == "'$E2E_CI_USER'"]')" \
    "[('deny', 'ci', 'ci-build.service', 403)]"
expect_eq "the denied call never reached upstream" "$(upstream_query 'sum(1 for r in records if body(r).get("model") == "gpt-4o")')" "1"

# --- a unit name a user made is that user's label, never the CI system unit --------------------
# What systemd's Delegate=yes does for user@65534.service: the directory and its control files
# belong to the user, who then makes any sub-cgroup it likes, without privilege.
NOBODY_SUBTREE="$E2E_CGROUP/user@65534.service"
mkdir "$NOBODY_SUBTREE"
chown 65534:65534 "$NOBODY_SUBTREE" "$NOBODY_SUBTREE"/cgroup.{procs,subtree_control,threads}
check "uid 65534 makes app.slice/ci-build.service in its own subtree" \
    setpriv --reuid 65534 --regid 65534 --clear-groups mkdir -p "$NOBODY_SUBTREE/app.slice/ci-build.service"
nobody_ci() { E2E_CLIENT_USER=nobody E2E_CLIENT_CGROUP="$NOBODY_SUBTREE/app.slice/ci-build.service" run_client "$@"; }
out="$(nobody_ci $(node_client chat_or_error.mjs) "not ci" gpt-4o-mini)"
expect_contains "uid 65534 is served by its own rule" "$out" '"ok":true'
wait_audit_lines 3
expect_eq "audit: uid 65534 does not get the CI rule, only the one for its own units" \
    "$(audit_query '[r["decision"]["rule"] for r in records if r["identity"]["uid"] == 65534]')" \
    "['nobody-own-units']"
expect_eq "audit: the system unit is its user manager, the CI-like name is its own label" \
    "$(audit_query '[(r["identity"]["unit"], r["identity"]["cgroup"].endswith("/user@65534.service"), r["identity"]["user_controlled"]["uid"], r["identity"]["user_controlled"]["unit"], r["identity"]["user_controlled"]["cgroup"]) for r in records if r["identity"]["uid"] == 65534]')" \
    "[('user@65534.service', True, 65534, 'ci-build.service', '/app.slice/ci-build.service')]"
out="$(nobody_ci $(node_client chat_or_error.mjs) "not ci either" gpt-4o)"
expect_contains "and gets none of CI's models" "$out" '"status":403'

out="$(ci $(node_client chat_or_error.mjs) "who am i" unknown-model)"
expect_contains "an unlisted model is refused too" "$out" '"status":403'

# --- clamp: the body upstream carries the cap --------------------------------------------------
ci $(node_client chat_or_error.mjs) "clamp me" gpt-4o-mini 5000 >/dev/null
expect_eq "max_tokens above the cap reaches upstream clamped" \
    "$(upstream_query '[body(r).get("max_tokens") for r in records if (body(r).get("messages") or [{}])[0].get("content") == "clamp me"]')" "[64]"

# --- a streamed call counts toward the budget ------------------------------------------------
out="$(ci $(node_client chat_stream_plain.mjs) "stream toward the budget")"
expect_contains "the streamed call succeeds" "$out" '"content":'
expect_eq "usage was asked for on the client's behalf" \
    "$(upstream_query '[body(r).get("stream_options") for r in records if body(r).get("stream")]')" \
    "[{'include_usage': True}]"
used_after_stream="$("$SLUICECTL" --config "$E2E_CONFIG" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["budgets"].get("budget|ci", {}).get("tokens", 0))')"
audited_total="$(audit_query 'sum((r["response"]["usage"] or {}).get("total_tokens", 0) for r in records if r["decision"]["rule"] == "ci" and r["decision"]["action"] == "allow")')"
expect_eq "the budget holds exactly what upstream reported (stream included)" "$used_after_stream" "$audited_total"
check "the budget is not empty after the stream" test "$used_after_stream" -gt 0
# Burn the rest: each call reserves prompt + 64; once the remainder cannot cover that, 429.
for i in $(seq 12); do
    out="$(SDK_MAX_RETRIES=0 ci $(node_client chat_or_error.mjs) "spend $i" gpt-4o-mini)"
    [[ "$out" == *'"status":429'* ]] && break
done
expect_contains "the exhausted budget refuses with 429" "$out" '"code":"budget_exceeded"'
used="$("$SLUICECTL" --config "$E2E_CONFIG" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["budgets"]["budget|ci"]["tokens"])')"
check "the budget never overshoots its limit ($used <= 120)" test "$used" -le 120

# --- budgets survive a restart --------------------------------------------------------------
stop_sluiced
start_sluiced || exit 1
after="$("$SLUICECTL" --config "$E2E_CONFIG" status | python3 -c 'import json,sys; print(json.load(sys.stdin)["policy"]["budgets"].get("budget|ci", {}).get("tokens", 0))')"
expect_eq "the budget's use survives a restart" "$after" "$used"
out="$(SDK_MAX_RETRIES=0 ci $(node_client chat_or_error.mjs) "after restart" gpt-4o-mini)"
expect_contains "and still refuses after the restart" "$out" '"status":429'

# --- rate limit: 429 + Retry-After, the SDK's own retry succeeds after the refill -------------
for i in $(seq 6); do
    rate curl -sS -o /dev/null --max-time 10 https://api.openai.com/v1/chat/completions \
        -H "Authorization: Bearer $E2E_DUMMY_KEY" -H 'content-type: application/json' \
        -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"fill"}]}'
done
headers="$(rate curl -sS -D - -o /dev/null --max-time 10 https://api.openai.com/v1/chat/completions \
    -H "Authorization: Bearer $E2E_DUMMY_KEY" -H 'content-type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"over"}]}')"
expect_contains "the 7th request in a minute gets 429" "$headers" "HTTP/1.1 429"
retry_after="$(printf '%s' "$headers" | tr -d '\r' | awk -F': ' 'tolower($1)=="retry-after" {print $2}')"
check "Retry-After is a whole number of seconds within the refill ($retry_after)" \
    bash -c "[[ '$retry_after' =~ ^[0-9]+$ ]] && (( $retry_after >= 1 && $retry_after <= 10 ))"
out="$(rate $(node_client chat_or_error.mjs) "retry me" gpt-4o-mini)"
expect_contains "the SDK's own retry succeeds after the refill" "$out" '"ok":true'
elapsed="$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["elapsed_ms"])')"
check "the SDK waited for the refill ($elapsed ms)" test "$elapsed" -ge 1000

# --- reload: a broken policy is refused and the old one stays ---------------------------------
cp "$POLICY" "$E2E_DIR/policy.good"
printf 'version: 1\ndefault: deny\nrules:\n  - name: x\n    modles: {}\n' >"$POLICY"
out="$("$SLUICECTL" policy check "$POLICY" 2>&1)"; rc=$?
expect_eq "policy check refuses a bad file" "$rc" "1"
expect_contains "naming file, line and key" "$out" "$POLICY:5"
expect_eq "in one line" "$(printf '%s\n' "$out" | wc -l)" "1"
out="$("$SLUICECTL" --config "$E2E_CONFIG" reload)"; rc=$?
expect_eq "sluicectl reload reports the refusal" "$rc" "1"
out="$(run_client $(node_client chat_or_error.mjs) "still allowed" gpt-4o)"
expect_contains "the old policy stays in force" "$out" '"ok":true'
status="$("$SLUICECTL" --config "$E2E_CONFIG" status)"
expect_contains "status shows the refused reload" "$status" "last_reload_error"

# A good change is picked up without a signal (the file is watched).
sed "s/users: \[$E2E_USER\]/users: [nobody-else]/" "$E2E_DIR/policy.good" >"$POLICY.new" && mv "$POLICY.new" "$POLICY"
for i in $(seq 40); do
    out="$(SDK_MAX_RETRIES=0 run_client $(node_client chat_or_error.mjs) "after edit" gpt-4o)"
    [[ "$out" == *'"status":403'* ]] && break
    sleep 0.25
done
expect_contains "an edited policy takes effect without a restart" "$out" '"status":403'
check "the change is logged" grep -q "policy reloaded from $POLICY" "$E2E_DIR/sluiced.log"

# --- explain -----------------------------------------------------------------------------------
out="$("$SLUICECTL" --config "$E2E_CONFIG" policy explain --user "$E2E_CI_USER" --unit ci-build.service --model gpt-4o --path /v1/chat/completions)"
expect_contains "explain names the decision" "$out" "decision: deny"
expect_contains "explain names the rule" "$out" "rule: ci"
out="$("$SLUICECTL" --config "$E2E_CONFIG" policy explain --uid 65534 --user-unit ci-build.service --model gpt-4o-mini)"
expect_contains "explain: a user-made unit gets the user's rule" "$out" "rule: nobody-own-units"
expect_contains "explain: and says why the CI rule did not match" "$out" "unit '' matches none of"
printf 'version: 1\ndefault: deny\nrules:\n  - {name: runner, match: {exes: ["*/ci-runner"]}}\n  - {name: apps, match: {units: ["app-*.scope"]}}\n' >"$E2E_DIR/spoofable.yaml"
out="$("$SLUICECTL" policy check "$E2E_DIR/spoofable.yaml")"; rc=$?
expect_eq "policy check still accepts a file with spoofable globs" "$rc" "0"
expect_contains "policy check warns about an exes glob users can reach" "$out" "warning: $E2E_DIR/spoofable.yaml:4: rule 'runner': exes glob '*/ci-runner' reaches places users can write"
expect_contains "policy check warns about a units glob only user-made names meet" "$out" "rule 'apps': units glob 'app-*.scope' can only match names made inside a user's own cgroup subtree"
check "the real API key is not in sluiced's log" bash -c "! grep -q '$E2E_REAL_KEY' '$E2E_DIR/sluiced.log'"
e2e_finish
