#!/usr/bin/env bash
# A full disk under the audit file is reported, and with failure_mode: closed sluiced stops
# serving new requests (503, OpenAI-shaped) rather than serve unaudited; with failure_mode: open
# it keeps serving and says so.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
start_upstream || exit 1
curl_api() { run_client curl -sS --max-time 10 -H "Authorization: Bearer $E2E_DUMMY_KEY" "$@"; }

sed -i "s|path: $E2E_AUDIT|path: /dev/full|" "$E2E_CONFIG"   # every write fails with ENOSPC
start_sluiced || exit 1
curl_api -o /dev/null https://api.openai.com/v1/models
sleep 0.5
reply="$(curl_api -w '\n%{http_code}' https://api.openai.com/v1/models)"
expect_contains "closed: with the audit failing new requests get 503" "$reply" "503"
expect_contains "closed: the 503 says the audit is the reason" "$reply" "audit_unavailable"
expect_contains "the failure is reported in the log" "$(cat "$E2E_DIR/sluiced.log")" "audit: write to /dev/full failed"
status="$("$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" status)"
expect_contains "status shows the audit as unhealthy" "$status" '"healthy": false'
stop_sluiced

echo "failure_mode: open" >>"$E2E_CONFIG"
start_sluiced || exit 1
curl_api -o /dev/null https://api.openai.com/v1/models
sleep 0.5
status="$(curl_api -o /dev/null -w '%{http_code}' https://api.openai.com/v1/models)"
expect_eq "open: requests keep being served while the audit fails" "$status" "200"

e2e_finish
