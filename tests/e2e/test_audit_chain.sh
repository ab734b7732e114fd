#!/usr/bin/env bash
# The tamper-evident audit (docs/audit.md) with a real sluiced: under load it is killed with -9
# and restarted; `sluicectl audit verify` then passes over every rotated file, reports the
# crash, finds every recording a line names (requests are recorded in full), and every request a
# client saw answered has its record. An edited copy is named.
source "$(dirname "$0")/lib/e2e.sh"
e2e_setup
start_upstream || exit 1

# Every request is recorded in full, so the kill also lands in the middle of recordings.
cat >"$E2E_DIR/policy.yaml" <<'YAML'
version: 1
default: deny
rules:
  - {name: recorded, match: {}, record: full}
YAML
e2e_write_config "policy: $E2E_DIR/policy.yaml"
# Small files and frequent checkpoints, so a short run rotates and seals several times.
sed -i "s|^  path: $E2E_AUDIT\$|  path: $E2E_AUDIT\n  rotate_bytes: 60000\n  keep_files: 0\n  checkpoint_records: 40\n  checkpoint_interval_s: 1|" "$E2E_CONFIG"
sluicectl() { "$E2E_BIN_DIR/sluicectl" --config "$E2E_CONFIG" "$@"; }
start_sluiced || exit 1

sluicectl audit pubkey >"$E2E_DIR/audit.pub"
expect_contains "audit pubkey prints the Ed25519 public key" "$(cat "$E2E_DIR/audit.pub")" "BEGIN PUBLIC KEY"
check "the signing key is 0600 in state_dir" test "$(stat -c %a "$E2E_DIR/state/audit-signing.key")" = 600

run_client /usr/bin/python3 "$E2E_SOURCE_DIR/tests/e2e/clients/audit_load.py" 8 5 load >"$E2E_DIR/answered.txt" 2>"$E2E_DIR/load.err" &
LOAD_PID=$!
sleep 2
kill -9 "$SLUICED_PID"
wait "$SLUICED_PID" 2>/dev/null
SLUICED_PID=
before_crash=$(wc -l <"$E2E_DIR/answered.txt")
sleep 0.3
start_sluiced || exit 1
wait "$LOAD_PID"
answered=$(wc -l <"$E2E_DIR/answered.txt")
((answered > 0)) || head -20 "$E2E_DIR/load.err"
check "the load was answered before the kill ($before_crash) and after the restart ($answered in all)" \
    test "$before_crash" -gt 20 -a "$answered" -gt "$before_crash"
expect_contains "the restart says the chain was left unsealed" "$(cat "$E2E_DIR/sluiced.log")" "was not sealed when sluiced last stopped"
stop_sluiced

rotated=$(ls "$E2E_AUDIT".* 2>/dev/null | wc -l)
check "the audit rotated by size ($rotated rotated files)" test "$rotated" -ge 2
verify_out="$(sluicectl audit verify 2>&1)"; verify_rc=$?
expect_eq "audit verify passes after kill -9 and restart" "$verify_rc" "0"
expect_contains "verify reports the crash" "$verify_out" "crash: sluiced stopped without sealing the chain"
expect_contains "verify checked the signatures" "$verify_out" "with verified signatures"
expect_contains "verify says intact" "$verify_out" "result: intact"
echo "$verify_out" | sed 's/^/  | /'
check "every recording an audit line names was found and matches, after kill -9 too" python3 -c '
import re,sys
m = re.search(r"recordings: (\d+) named, (\d+) match their audit line(.*)", sys.argv[1])
sys.exit(0 if m and int(m[1]) > 20 and m[1] == m[2] and "missing" not in m[3] else 1)' "$verify_out"

missing="$(python3 - "$E2E_DIR/answered.txt" "$E2E_AUDIT" <<'PY'
import glob, json, sys
answered = set(open(sys.argv[1]).read().split())
models = set()
for path in glob.glob(sys.argv[2] + "*"):
    for line in open(path):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("kind") == "request":
            models.add(record.get("request", {}).get("model"))
print(len(answered - models))
PY
)"
expect_eq "every request the client saw answered has a record (none lost to kill -9)" "$missing" "0"

# Tampering with a copy: an edited field is named, exit 1; the public key given explicitly.
mkdir -p "$E2E_DIR/copy"
cp "$E2E_AUDIT"* "$E2E_DIR/copy/"
python3 - "$E2E_DIR/copy/audit.jsonl.1" <<'PY'
import sys
lines = open(sys.argv[1]).readlines()
lines[5] = lines[5].replace('"allow"', '"deny"', 1) if '"allow"' in lines[5] else lines[5].replace('"ts":"', '"ts":"1', 1)
open(sys.argv[1], "w").writelines(lines)
PY
tampered_out="$(sluicectl audit verify "$E2E_DIR"/copy/audit.jsonl* --pubkey "$E2E_DIR/audit.pub" 2>&1)"; tampered_rc=$?
expect_eq "an edited copy fails verify" "$tampered_rc" "1"
expect_contains "the edited record is named" "$tampered_out" "BAD $E2E_DIR/copy/audit.jsonl.1:6"
rm "$E2E_DIR/copy/audit.jsonl.2"
cp "$E2E_AUDIT.1" "$E2E_DIR/copy/audit.jsonl.1"
missing_out="$(sluicectl audit verify "$E2E_DIR"/copy/audit.jsonl* 2>&1)"; missing_rc=$?
expect_eq "a missing rotated file fails verify" "$missing_rc" "1"
expect_contains "the missing file is named as such" "$missing_out" "missing file"

e2e_finish
