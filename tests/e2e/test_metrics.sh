#!/usr/bin/env bash
# Prometheus metrics (issue 20): sluiced serves GET /metrics in the text format on its own
# loopback address; scraped with curl, the exposition passes Prometheus's parser (and promtool's
# strict check where promtool is installed), and the
# counters a user watches (requests by decision/status/endpoint/model, latency, connections,
# tokens) move with real requests from a real client.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
METRICS_ADDR="${E2E_UPSTREAM_IP%.*}.6:$(e2e_free_port)"
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<YAML
version: 1
default: deny
rules:
  - name: small-models
    match: {users: [$E2E_USER]}
    models: {allow: [gpt-4o-mini]}
YAML
e2e_write_config "policy: $POLICY
metrics: {listen: \"$METRICS_ADDR\"}"
start_upstream || exit 1
start_sluiced || exit 1
scrape() { curl -s --max-time 5 "http://$METRICS_ADDR/metrics"; }
metric() {  # metric TEXT 'name{labels}': the sample's value, 0 when absent
    printf '%s\n' "$1" | awk -v m="$2" 'index($0, m " ") == 1 { print $NF; found=1 } END { if (!found) print 0 }'
}
burst() { run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/burst.py" "$@"; }

before="$(scrape)"
expect_contains "GET /metrics answers in the text format" "$before" "# TYPE sluice_requests_total counter"
expect_eq "with Prometheus's content type" \
    "$(curl -s -o /dev/null -w '%{content_type}' "http://$METRICS_ADDR/metrics")" \
    "text/plain; version=0.0.4; charset=utf-8"
expect_eq "another path is 404" "$(curl -s -o /dev/null -w '%{http_code}' "http://$METRICS_ADDR/")" "404"
expect_eq "POST is 405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://$METRICS_ADDR/metrics")" "405"

burst 3 '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"counted"}]}' >/dev/null
burst 2 '{"model":"gpt-4o","messages":[{"role":"user","content":"refused"}]}' >/dev/null
wait_audit_lines 5
after="$(scrape)"
ALLOW='sluice_requests_total{decision="allow",status="200",endpoint="/v1/chat/completions",model="gpt-4o-mini"}'
DENY='sluice_requests_total{decision="deny",status="403",endpoint="/v1/chat/completions",model="gpt-4o"}'
expect_eq "allowed requests are counted by decision, status, endpoint and model" \
    "$(($(metric "$after" "$ALLOW") - $(metric "$before" "$ALLOW")))" "3"
expect_eq "refused ones too" "$(($(metric "$after" "$DENY") - $(metric "$before" "$DENY")))" "2"
LAT='sluice_request_duration_seconds_count{endpoint="/v1/chat/completions"}'
expect_eq "the latency histogram saw all five" "$(($(metric "$after" "$LAT") - $(metric "$before" "$LAT")))" "5"
check "upstream time is observed for the three that went upstream" \
    test "$(metric "$after" 'sluice_upstream_first_byte_seconds_count{endpoint="/v1/chat/completions"}')" -eq 3
check "connections redirected to sluiced are counted" \
    test "$(metric "$after" 'sluice_connections_total{outcome="intercepted"}')" -ge 5
check "tokens upstream reported are counted" \
    test "$(metric "$after" 'sluice_tokens_total{model="gpt-4o-mini",direction="output"}')" -gt 0
expect_eq "policy refusals are counted" "$(metric "$after" 'sluice_policy_refusals_total')" "2"
expect_eq "nothing is held for approval" "$(metric "$after" 'sluice_approvals_held')" "0"
check "the audit queue depth is exposed" grep -q '^sluice_audit_queue_depth ' <<<"$after"
expect_not_contains "no user name becomes a label" "$after" "$E2E_USER"
# Policy reloads: a policy that does not load is refused (the old one stays), one that does applies.
cp "$POLICY" "$POLICY.good"
echo "rules: [ {name: broken" >"$POLICY"
"$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" reload >/dev/null 2>&1
cp "$POLICY.good" "$POLICY"
"$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" reload >/dev/null 2>&1
reloads="$(scrape)"
expect_eq "a refused policy reload is counted" "$(metric "$reloads" 'sluice_policy_reloads_total{outcome="refused"}')" "1"
check "an applied one too" test "$(metric "$reloads" 'sluice_policy_reloads_total{outcome="applied"}')" -ge 1
if command -v promtool >/dev/null; then
    problems="$(scrape | promtool check metrics 2>&1)"
    check "promtool check metrics accepts the exposition ($problems)" test -z "$problems"
fi
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
    check "Prometheus's own Python parser reads every family" /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
assert any(f.name == "sluice_requests" for f in families), [f.name for f in families]
' <<<"$after"
fi
e2e_finish
