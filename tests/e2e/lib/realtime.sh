# Helpers of the Realtime API tests (sourced after e2e.sh): the `ws` client scripted by one JSON
# argument (clients/realtime_ws.mjs), reading its JSON output, and a text item event.
rt_ws() { run_client node "$E2E_NODE_DIR/clients/realtime_ws.mjs" "$1"; }
field() {  # field JSON a.b.0.c: one member of a client's JSON output
    python3 -c 'import json, sys
v = json.loads(sys.argv[1])
for k in filter(None, sys.argv[2].split(".")):
    v = v[int(k)] if isinstance(v, list) else (v.get(k) if isinstance(v, dict) else None)
print(json.dumps(v) if isinstance(v, (dict, list)) else v)' "$1" "$2"
}
ITEM='{"type":"conversation.item.create","item":{"type":"message","role":"user","content":[{"type":"input_text","text":"TEXT"}]}}'
item() { printf '%s' "${ITEM/TEXT/$1}"; }  # item TEXT: a conversation.item.create with TEXT
