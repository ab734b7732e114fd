#!/usr/bin/env python3
"""Proves that the sluice-full configuration of `scripts/bench proxy` measured what it claims:
reads that instance's audit, its saved budget state and the answers of three probe requests,
and prints one JSON line ({"mode": "sluice_full_health", ...}) for proxy_report.py, which
raises a flag for each control that did not run. A benchmark of a policy that never applied
would be worthless, and nothing in the latency figures would show it.

  full_policy_check.py --audit DIR --state FILE --rule NAME --expect-request E,... \
      --expect-response E,... --probe-pii FILE --probe-rule-block FILE --probe-global-block FILE \
      --answer-lacks V,... --answer-has V,...

Each probe FILE holds the answer body followed by a last line with the HTTP status (curl -w)."""
import argparse
import collections
import glob
import json
import os
import sys

# Without settlement a request stays charged its estimate: prompt bytes / 3 plus the assumed
# output (4,096 tokens when the request names no maximum), ten times what the mock reports.
MAX_UNSETTLED_TOKENS = 5000


def read_probe(path):
    try:
        with open(path) as f:
            text = f.read().rstrip("\n")
    except OSError:
        return None, ""
    body, _, status = text.rpartition("\n")
    return int(status) if status.isdigit() else None, body


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--audit", required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--rule", required=True)
    ap.add_argument("--expect-request", required=True)
    ap.add_argument("--expect-response", required=True)
    ap.add_argument("--probe-pii", required=True)
    ap.add_argument("--probe-rule-block", required=True)
    ap.add_argument("--probe-global-block", required=True)
    ap.add_argument("--answer-lacks", default="", help="values the PII probe's answer must not hold, ,-separated")
    ap.add_argument("--answer-has", default="", help="values the PII probe's answer must hold, ,-separated")
    a = ap.parse_args()
    want_request = a.expect_request.split(",")
    want_response = a.expect_response.split(",")

    actions = collections.Counter()
    errors = collections.Counter()
    unsettled = 0
    out = {"mode": "sluice_full_health", "requests": 0, "other_rule": 0, "allowed_200": 0,
           "masked_request": 0, "masked_response": 0, "restored": 0, "with_usage": 0,
           "cut_short": 0, "finished": 0, "usage_tokens": 0}
    for path in sorted(glob.glob(os.path.join(a.audit, "*.jsonl*"))):
        with open(path) as f:
            for line in f:
                r = json.loads(line)
                if r.get("kind") != "request":
                    continue
                out["requests"] += 1
                d = r["decision"]
                actions[d["action"]] += 1
                usage = r["response"].get("usage")
                if d["action"] != "deny" and not usage:
                    unsettled += 1  # reserved, but no usage to settle to: keeps its estimate
                error = r.get("error", "")
                # The load generator leaves mid-answer at its window's end: no usage, no answer
                # masking, the estimate kept. Nothing else may end that way.
                cut = not usage and error.startswith("client connection failed")
                if cut:
                    out["cut_short"] += 1
                elif d["action"] not in ("allow", "deny"):
                    errors[error or d.get("reason", "")] += 1
                if d["action"] != "allow" or r["response"]["status"] != 200:
                    continue
                if d.get("rule") != a.rule:
                    out["other_rule"] += 1
                out["allowed_200"] += 1
                if not cut:
                    out["finished"] += 1
                m = r.get("masking") or {}
                if all(m.get("request", {}).get(e, 0) > 0 for e in want_request):
                    out["masked_request"] += 1
                if all(m.get("response", {}).get(e, 0) > 0 for e in want_response):
                    out["masked_response"] += 1
                if m.get("restored", 0) > 0:
                    out["restored"] += 1
                if usage:
                    out["with_usage"] += 1
                    out["usage_tokens"] += usage.get("total_tokens", 0)
    out["actions"] = dict(actions)
    out["errors"] = dict(errors.most_common(3))

    try:
        with open(a.state) as f:
            budgets = json.load(f).get("budgets", {})
        out["budget_tokens"] = sum(v["tokens"] for k, v in budgets.items() if a.rule in k)
    except (OSError, ValueError):
        out["budget_tokens"] = None
    # Settled: what the budget holds is the usage the answers reported, plus the estimates of
    # the few requests cut before their usage arrived.
    out["unsettled"] = unsettled
    out["budget_settled"] = (out["budget_tokens"] is not None and
                             out["usage_tokens"] <= out["budget_tokens"] <=
                             out["usage_tokens"] + MAX_UNSETTLED_TOKENS * max(unsettled, 0))

    status, body = read_probe(a.probe_pii)
    lacks = [v for v in a.answer_lacks.split(",") if v]
    has = [v for v in a.answer_has.split(",") if v]
    out["probe_pii"] = {"status": status,
                        "leaked": [v for v in lacks if v in body],
                        "missing": [v for v in has if v not in body]}
    for name, path in (("probe_rule_block", a.probe_rule_block),
                       ("probe_global_block", a.probe_global_block)):
        status, body = read_probe(path)
        out[name] = {"status": status, "prompt_blocked": '"prompt_blocked"' in body}
    print(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    sys.exit(main())
