#!/usr/bin/env bash
# Issue 22, end to end with unmodified clients: the `@openai/agents` SDK (Responses API, plain
# and streamed) running a shell tool, and the `openai` SDK's Chat Completions (plain and
# streamed). An allowed call runs; a call refused by tool name, argument pattern or a condition on an
# argument never runs and the run ends with the explanation; the audit lists each proposed
# call with its decision; what the tool returns goes through block_prompts and masking on the
# way back to the model.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
POLICY="$E2E_DIR/policy.yaml"
cat >"$POLICY" <<'YAML'
version: 1
default: deny
rules:
  - name: agents
    match: {}
    block_prompts:
      patterns: ['TOPSECRET-[0-9]']
    masking:
      - entities: [email]
        action: redact
    tool_calls:
      - tools: [run_shell]
        arguments: {patterns: ['rm\s+-rf']}
        action: deny
      - tools: [run_shell]
        where: {"$.command": '^sudo\b'}
        action: deny
      - tools: [run_shell]
        where: {"$.command": '^deploy '}
        action: require_approval
      - tools: ["wipe_*"]
        action: deny
YAML
e2e_write_config "policy: $POLICY
approvals:
  timeout: 5s"
check "policy check accepts tool_calls" "$E2E_BIN_DIR/sluicectl" policy check "$POLICY"
start_upstream || exit 1
start_sluiced || exit 1

RAN="$E2E_DIR/ran.txt"
agent() {  # agent PROMPT [stream]
    : >"$RAN"
    chmod 666 "$RAN"
    run_client node "$E2E_NODE_DIR/clients/agent_shell.mjs" "$1" "$RAN" "${2:-}"
}

for mode in plain stream; do
    out="$(agent "ls -la" "$mode")"
    expect_contains "agents ($mode): an allowed call runs" "$out" '"ran":1'
    expect_eq "agents ($mode): the tool got the model's arguments" "$(cat "$RAN")" "ls -la"
    for prompt in "rm -rf /" "sudo reboot" "echo hi; rm  -rf ~/work"; do
        out="$(agent "$prompt" "$mode")"
        expect_contains "agents ($mode): '$prompt' never runs" "$out" '"ran":0'
        expect_eq "agents ($mode): '$prompt' left no trace of running" "$(cat "$RAN")" ""
        expect_contains "agents ($mode): '$prompt' ends with the explanation" "$out" \
            "sluice blocked the tool call run_shell (policy rule agents"
    done
done

for mode in plain stream; do
    : >"$RAN"
    out="$(run_client env TOOL_NAME=wipe_disk node "$E2E_NODE_DIR/clients/agent_shell.mjs" "ls" "$RAN" "$mode")"
    expect_contains "agents ($mode): a tool refused by name never runs" "$out" '"ran":0'
    expect_contains "agents ($mode): and the run says which" "$out" "blocked the tool call wipe_disk"
done

for mode in plain stream; do
    out="$(run_client node "$E2E_NODE_DIR/clients/chat_tools.mjs" "sudo shutdown now" "$mode")"
    expect_contains "chat ($mode): the refused call is gone" "$out" '"calls":[]'
    expect_contains "chat ($mode): the message says why" "$out" "blocked the tool call run_shell"
    expect_contains "chat ($mode): the answer is finished, not waiting for a tool" "$out" '"finish":"stop"'
    out="$(run_client node "$E2E_NODE_DIR/clients/chat_tools.mjs" "uptime" "$mode")"
    expect_contains "chat ($mode): an allowed call arrives whole" "$out" '"arguments":"{\"command\":\"uptime\"}"'
    expect_contains "chat ($mode): still a tool call" "$out" '"finish":"tool_calls"'
done

wait_audit_lines 20
expect_eq "the audit lists refused calls with rule entry and excerpt" \
    "$(audit_query '[(c["name"], c["decision"], c["reason"].split(":")[0], c["arguments"]) for r in records for c in r.get("tool_calls", []) if "sudo reboot" in c["arguments"]][:1]')" \
    "[('run_shell', 'deny', 'tool_calls[1]', '{\"command\":\"sudo reboot\"}')]"
expect_eq "and allowed ones" \
    "$(audit_query 'sorted({c["decision"] for r in records for c in r.get("tool_calls", [])})')" \
    "['allow', 'deny']"

# A call that needs approval: refused with an approval id; once approved, the identical call
# runs the next time the model proposes it, once.
out="$(agent "deploy production" plain)"
expect_contains "a call needing approval does not run" "$out" '"ran":0'
id="$(python3 -c 'import json,re,sys; print(re.search(r"approval id (\S+)", json.loads(sys.argv[1])["finalOutput"]).group(1))' "$out")"
expect_contains "the agent is told how to get it approved" "$out" "sluicectl approvals approve $id"
out="$(agent "deploy production" plain)"
expect_contains "not before it is approved" "$out" '"ran":0'
check "root approves the call" "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" approvals approve "$id" --reason "release 7"
out="$(agent "deploy production" stream)"
expect_contains "after approval the identical call runs" "$out" '"ran":1'
expect_eq "with the arguments approved" "$(cat "$RAN")" "deploy production"
out="$(agent "deploy production" plain)"
expect_contains "once" "$out" '"ran":0'
out="$(agent "deploy staging" plain)"
expect_contains "another call is not covered by that approval" "$out" '"ran":0'

# What a tool returns is prompt text in the agent's next request: masked, or refused.
out="$(agent "cat secret.txt" plain)"
expect_contains "a tool output with a blocked marker: the next request is refused" "$out" '"status":403'
expect_eq "and nothing with the marker reached the upstream" \
    "$(upstream_query 'sum("TOPSECRET-7" in (r.get("body") or "") for r in records)')" "0"
out="$(agent "cat contacts.txt" plain)"
expect_contains "a tool output with an email reaches the model masked" "$out" "contents: [EMAIL]"
expect_eq "the email itself never reached the upstream" \
    "$(upstream_query 'sum("bob@example.com" in (r.get("body") or "") for r in records)')" "0"

e2e_finish
