#!/usr/bin/env python3
"""Turns the JSON lines of `scripts/bench proxy` (one per http-load run, plus idle RSS and
sluiced health records) into the markdown of the "## Proxy" section of docs/benchmarks.md.

Targets: direct (fake-openai), sluice (no policy), sluice-full (every policy feature on), nginx.
"Added" latency is proxy minus direct at the same percentile; per-core figures divide by the CPU
time the proxy process used in the window."""
import argparse
import datetime
import json
import os
import statistics
import sys

TARGETS = ["direct", "sluice", "sluice-full", "nginx"]
PROXIES = ["sluice", "sluice-full", "nginx"]
SLUICES = ["sluice", "sluice-full"]


def load(path):
    runs = {}
    extra = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if r["mode"] == "idle_rss":
                extra.setdefault("idle_rss", {})[r["label"]] = r
            elif r["mode"] == "idle":
                extra.setdefault("idle", {}).setdefault(r["label"], {})[r["stage"]] = r
            elif r["mode"] == "sluice_health":
                extra.setdefault("sluice_health", {})[r.get("label", "sluice")] = r
            elif r["mode"] == "sluice_full_health":
                extra["sluice_full_health"] = r
            elif r["mode"] == "wake":
                extra["wake"] = r
            else:
                runs.setdefault((r["mode"], r["label"]), []).append(r)
    return runs, extra


def fmt(v, digits=0):
    if v is None:
        return "—"
    return f"{v:,.{digits}f}"


def ratio(a, b, digits=2):
    if a is None or b in (None, 0):
        return "—"
    return f"{a / b:.{digits}f}×"


def added(p, d, digits=0):
    if p is None or d is None:
        return "—"
    return f"{p - d:+,.{digits}f}"


def nagle_flag(r):
    """http-load counts samples in the 38-45 ms window and says whether they form a peak there
    (the Nagle/delayed-ACK signature) rather than a loaded run's latencies passing through."""
    return r.get("nagle_window", 0), r.get("nagle_suspect", False)


def full_health(h, w, problems):
    """The sluice-full instance's own evidence (tests/bench/full_policy_check.py) that every
    control ran: a flag for each that did not."""
    if not h:
        problems.append("sluice-full: no policy check ran")
        return
    if h.get("check_failed"):
        problems.append("sluice-full: the policy check failed (see the bench's output)")
        return
    n = h["allowed_200"]
    w(f"sluice-full policy check: {h['requests']:,} audited requests, {n:,} allowed with 200, all "
      f"by rule `bench-full` but {h['other_rule']}; request masking (email, phone, card) in "
      f"{h['masked_request']:,}, answer masking (phone, card) in {h['masked_response']:,}, "
      f"email restored in {h['restored']:,}; usage read from {h['with_usage']:,} answers "
      f"({h['cut_short']} cut short at a window's end); the budget holds "
      f"{fmt(h['budget_tokens'])} tokens against {h['usage_tokens']:,} of audited usage "
      f"({'settled' if h['budget_settled'] else '**not settled**'}); actions {h['actions']}. "
      f"Probes: PII {h['probe_pii']['status']} (leaked {h['probe_pii']['leaked'] or 'nothing'}, "
      f"missing {h['probe_pii']['missing'] or 'nothing'}), rule pattern "
      f"{h['probe_rule_block']['status']}, secrets set {h['probe_global_block']['status']}.")
    w("")
    # Each audited 200 that finished should show the controls' work; the requests a load
    # generator cut at its window's end are the only ones allowed to lack the answer's part.
    finished = h["finished"]
    if h["other_rule"]:
        problems.append(f"sluice-full: {h['other_rule']} requests allowed by another rule")
    if h["masked_request"] < n:
        problems.append(f"sluice-full: request masking missing in {n - h['masked_request']} requests")
    for key, what in (("masked_response", "answer masking"), ("restored", "email restoration"),
                      ("with_usage", "usage")):
        if h[key] < finished:
            problems.append(f"sluice-full: {what} missing in {finished - h[key]} finished requests")
    if not h["budget_settled"]:
        problems.append("sluice-full: the budget was not settled to the reported usage")
    if h["actions"].get("deny", 0) != 2 or set(h["actions"]) - {"allow", "deny", "error"}:
        problems.append(f"sluice-full: unexpected decisions {h['actions']} (only the two block "
                        "probes should be refused)")
    if h.get("errors"):
        problems.append(f"sluice-full: requests ended in errors {h['errors']}")
    p = h["probe_pii"]
    if p["status"] != 200 or p["leaked"] or p["missing"]:
        problems.append(f"sluice-full: PII probe {p}")
    for key in ("probe_rule_block", "probe_global_block"):
        if h[key]["status"] != 403 or not h[key]["prompt_blocked"]:
            problems.append(f"sluice-full: {key} {h[key]}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--machine", default="")
    ap.add_argument("--load", default="")
    ap.add_argument("--pinning", default="")
    ap.add_argument("--seconds", default="8")
    ap.add_argument("--rate", default="5000")
    ap.add_argument("--idle", default="1000")
    ap.add_argument("--rounds", default="3")
    ap.add_argument("--gap-ms", default="1")
    ap.add_argument("--threads", default="2")
    ap.add_argument("--open-rounds", default="4")
    ap.add_argument("--open-seconds", default="3")
    ap.add_argument("--stream-rounds", default="3")
    ap.add_argument("--one-cpu", default="", help="open-loop results with every process on one CPU")
    a = ap.parse_args()
    runs, extra = load(a.results)
    one_cpu_runs = load(a.one_cpu)[0] if a.one_cpu and os.path.exists(a.one_cpu) else {}

    def one(mode, target):
        rs = runs.get((mode, target), [])
        return rs[-1] if rs else None

    out = []
    w = out.append
    problems = []

    def check(mode, target, r):
        if r is None:
            problems.append(f"{mode}/{target}: no result (http-load failed)")
            return
        if r.get("errors") or r.get("lost"):
            problems.append(
                f"{mode}/{target}: {r.get('errors', 0)} errors, {r.get('lost', 0)} lost "
                f"(statuses {r.get('statuses')}, kinds {r.get('error_kinds')})")
        elif r.get("error_kinds"):
            problems.append(f"{mode}/{target}: {r['error_kinds']}")
        n, bad = nagle_flag(r)
        if bad:
            problems.append(f"{mode}/{target}: {n} samples peak in the 38–45 ms window "
                            "(Nagle/delayed-ACK signature)")
        if target != "direct" and mode in ("throughput", "rate", "handshake"):
            if r.get("client_cpu_s", 0) > 0.9 * r.get("window_s", 1):
                problems.append(f"{mode}/{target}: load generator used >90% of its core "
                                f"(client-bound; per-core figures still use the proxy's CPU time)")

    def checked_rounds(source, mode, target):
        """Every round `source` holds for (mode, target), each checked for flags."""
        rs = source.get((mode, target), [])
        for r in rs or [None]:
            check(mode, target, r)
        return rs

    w(f"Measured {datetime.date.today().isoformat()} by `scripts/bench proxy` on {a.machine}; "
      f"load average {a.load} (the machine is shared, so treat small "
      f"differences as noise). Pinning: {a.pinning}.")
    w("")
    w("Setup: fake-openai (TLS, 1 thread, 127.10.0.7:443) is the upstream for all three paths. "
      "**direct** = the load generator talks to it; **sluice** = the load generator runs in a "
      "child cgroup that `sluiced` attached to and connects to the same address, which the "
      f"eBPF hook redirects into sluiced ({a.threads} proxy threads, default config, no policy "
      "file, audit on, real key injected); **sluice-full** = the same with every feature of "
      "the example policy on (`tests/bench/full_policy.yaml`, a second sluiced with its own "
      "child cgroup: rule matched by cgroup and user, model, endpoint and max-tokens controls, "
      "rate limit, daily token and cost budget reserved and settled, the secrets RE2 set and a "
      "rule RE2 pattern on every prompt, email tokenized and restored, phone and card masked in "
      "both directions, audit on) and an email, a phone and a card in every prompt (same body "
      "size); **nginx** = nginx 1.22 as a plain TLS-terminating "
      f"reverse proxy ({a.threads} workers, TLS both legs, `proxy_ssl_server_name on`, upstream "
      "keepalive, `proxy_http_version 1.1`, `proxy_buffering off`, access_log off, "
      "Authorization header set). Client: `build/bin/http-load` (tests/bench/http_load.cpp), "
      "TLS 1.3, TCP_NODELAY, 1 KB `POST /v1/chat/completions` bodies, ~1 KB replies; every "
      "reply ends with a phone and a card number (`fake-openai --answer-suffix`), on all paths.")
    w("")
    pin = "PIN=1 " if a.pinning not in ("", "none") else ""
    w(f"Reproduce: `sudo {pin}scripts/bench proxy` (knobs: `BENCH_SECONDS`, `OPEN_LOOP_RATE`, "
      "`IDLE_CONNECTIONS`, `SERIAL_ROUNDS`, `OPEN_LOOP_ROUNDS`, `OPEN_LOOP_SECONDS`, `STREAM_ROUNDS`, "
      "`STREAM_GAP_MS`, "
      "`PIN=1`, `PROXY_BENCH_KEEP=1`, "
      "`PROXY_BENCH_HOLD=1` to leave the four paths up for manual runs).")
    w("")

    # --- throughput -------------------------------------------------------------------------
    w(f"### Keep-alive throughput (64 connections, closed loop, {a.seconds} s)")
    w("")
    w("| path | req/s | proxy CPU (cores) | req/s per proxy core | µs proxy CPU / request "
      "| client CPU (cores) | p50 / p99 µs | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    per_core = {}
    rps = {}
    cpu_us = {}
    for t in TARGETS:
        r = one("throughput", t)
        check("throughput", t, r)
        if r is None:
            continue
        cores = r["proxy_cpu_s"] / r["window_s"] if t != "direct" else None
        pc = r["rps"] / cores if cores else None
        us = 1e6 * r["proxy_cpu_s"] / r["completed"] if cores and r["completed"] else None
        per_core[t], rps[t], cpu_us[t] = pc, r["rps"], us
        w(f"| {t} | {fmt(r['rps'])} | {fmt(cores, 2)} | {fmt(pc)} | {fmt(us, 1)} | "
          f"{r['client_cpu_s'] / r['window_s']:.2f} | {fmt(r['latency']['p50_us'])} / "
          f"{fmt(r['latency']['p99_us'])} | {r['errors']} |")
    w("")

    # --- serial -----------------------------------------------------------------------------
    w(f"### One request in flight (keep-alive, sequential; median of {a.rounds} interleaved "
      "rounds of 3 s)")
    w("")
    w("| path | p50 µs | p99 µs | added p50 µs | added p99 µs | req/s |")
    w("|---|---:|---:|---:|---:|---:|")
    serial = {}
    for t in TARGETS:
        rs = runs.get(("serial", t), [])[1:]  # the first run per target is the warm-up
        for r in rs:
            check("serial", t, r)
        if not rs:
            continue
        serial[t] = {
            "p50": statistics.median(r["latency"]["p50_us"] for r in rs),
            "p99": statistics.median(r["latency"]["p99_us"] for r in rs),
            "rps": statistics.median(r["rps"] for r in rs),
        }
    d = serial.get("direct", {})
    for t, s in serial.items():
        w(f"| {t} | {fmt(s['p50'], 1)} | {fmt(s['p99'], 1)} | "
          f"{added(s['p50'], d.get('p50'), 1) if t != 'direct' else '—'} | "
          f"{added(s['p99'], d.get('p99'), 1) if t != 'direct' else '—'} | {fmt(s['rps'])} |")
    w("")

    # --- open loop --------------------------------------------------------------------------
    def open_loop_table(title, rounds_by_target):
        """Median of the interleaved rounds, percentile by percentile; max over all rounds."""
        w(title)
        w("")
        w("| path | achieved req/s | p50 µs | p90 µs | p99 µs | p99.9 µs | max µs | added p50 | "
          "added p99 | p99 per round µs | proxy CPU (cores) | errors / lost | 38–45 ms samples |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        table = {}
        for t in TARGETS:
            rs = checked_rounds(rounds_by_target, "rate", t)
            if not rs:
                continue
            med = lambda key: statistics.median(r["latency"][key] for r in rs)
            table[t] = {
                "rps": statistics.median(r["rps"] for r in rs),
                "latency": {k: med(k) for k in ("p50_us", "p90_us", "p99_us", "p999_us")}
                | {"max_us": max(r["latency"]["max_us"] for r in rs)},
                "p99_rounds": [r["latency"]["p99_us"] for r in rs],
                "cores": statistics.median(r["proxy_cpu_s"] / r["window_s"] for r in rs),
                "errors": sum(r["errors"] for r in rs), "lost": sum(r["lost"] for r in rs),
                "nagle": sum(r["nagle_window"] for r in rs),
            }
        dl = table.get("direct", {}).get("latency", {})
        for t, r in table.items():
            L = r["latency"]
            w(f"| {t} | {fmt(r['rps'])} | {fmt(L['p50_us'])} | {fmt(L['p90_us'])} | "
              f"{fmt(L['p99_us'])} | {fmt(L['p999_us'])} | {fmt(L['max_us'])} | "
              f"{added(L['p50_us'], dl.get('p50_us')) if t != 'direct' else '—'} | "
              f"{added(L['p99_us'], dl.get('p99_us')) if t != 'direct' else '—'} | "
              f"{' / '.join(fmt(v) for v in r['p99_rounds'])} | "
              f"{fmt(r['cores'], 2) if t != 'direct' else '—'} | {r['errors']} / {r['lost']} | {r['nagle']} |")
        w("")
        return table

    rounds_note = (f"median of {a.open_rounds} interleaved rounds of {a.open_seconds} s, "
                   "32 connections, latency from the scheduled send time")
    rate = open_loop_table(f"### Open loop at {a.rate} req/s ({rounds_note})", runs)
    wake = extra.get("wake")
    if wake:
        c, s1 = wake["cross_cpu"], wake["same_cpu"]
        w(f"Waking a sleeping thread on the other CPU and back takes {fmt(c['p50_us'], 1)} µs at "
          f"p50 and {fmt(c['p99_us'], 1)} µs at p99 on this machine (on the same CPU: "
          f"{fmt(s1['p50_us'], 1)} / {fmt(s1['p99_us'], 1)} µs; `build/bin/wake-latency`). With "
          "the proxies on one CPU and the client and mock on the other, a proxied request makes "
          "two such round trips and a direct one none, so that much of the added latency above "
          "is the hypervisor's, for either proxy.")
        w("")
    one_cpu = {}
    if one_cpu_runs:
        one_cpu = open_loop_table(f"### Open loop at {a.rate} req/s, every process on one CPU "
                                  f"({rounds_note})", one_cpu_runs)
        w("The same load with the proxies moved onto the client's CPU: no wake crosses CPUs, so "
          "the added latency is the proxy's own work and scheduling.")
        w("")

    # --- handshakes -------------------------------------------------------------------------
    w("### New TLS connection per request (8 concurrent, full handshakes, 5 s)")
    w("")
    w("| path | connections/s | proxy CPU (cores) | connections/s per proxy core | handshake "
      "p50 / p99 µs | connect→response p50 / p99 µs | client CPU (cores) | errors |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")
    hs = {}
    for t in TARGETS:
        r = one("handshake", t)
        check("handshake", t, r)
        if r is None:
            continue
        cores = r["proxy_cpu_s"] / r["window_s"] if t != "direct" else None
        pc = r["rps"] / cores if cores else None
        hs[t] = (r["rps"], pc)
        w(f"| {t} | {fmt(r['rps'])} | {fmt(cores, 2)} | {fmt(pc)} | "
          f"{fmt(r['handshake']['p50_us'])} / {fmt(r['handshake']['p99_us'])} | "
          f"{fmt(r['latency']['p50_us'])} / {fmt(r['latency']['p99_us'])} | "
          f"{r['client_cpu_s'] / r['window_s']:.2f} | {r['errors']} |")
    w("")

    # --- streaming --------------------------------------------------------------------------
    w(f"### Streaming (`stream: true`, one stream at a time, mock paces events {a.gap_ms} ms "
      f"apart; median of {a.stream_rounds} interleaved rounds of 3 s)")
    w("")
    w("| path | streams | events/stream | TTFB p50 / p99 µs | first event p50 / p99 µs | "
      "gap mean / p99 / max µs | gap p99 per round µs | added TTFB p50 / p99 µs | "
      "added gap mean / p99 µs |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    st = {}
    for t in TARGETS:
        rs = checked_rounds(runs, "stream", t)
        if not rs:
            continue
        med = lambda part, key: statistics.median(r[part][key] for r in rs)
        st[t] = {
            "completed": sum(r["completed"] for r in rs), "events": sum(r["events"] for r in rs),
            "ttfb": {k: med("ttfb", k) for k in ("p50_us", "p99_us")},
            "first_event": {k: med("first_event", k) for k in ("p50_us", "p99_us")},
            "gap": {k: med("gap", k) for k in ("mean_us", "p99_us")} | {"max_us": max(r["gap"]["max_us"] for r in rs)},
            "gap_p99_rounds": [r["gap"]["p99_us"] for r in rs],
        }
    d = st.get("direct")
    for t, r in st.items():
        tt, fe, g = r["ttfb"], r["first_event"], r["gap"]
        if t != "direct" and d:
            add_t = (f"{added(tt['p50_us'], d['ttfb']['p50_us'])} / "
                     f"{added(tt['p99_us'], d['ttfb']['p99_us'])}")
            add_g = (f"{added(g['mean_us'], d['gap']['mean_us'], 1)} / "
                     f"{added(g['p99_us'], d['gap']['p99_us'], 1)}")
        else:
            add_t = add_g = "—"
        per = r["events"] / r["completed"] if r["completed"] else 0
        w(f"| {t} | {r['completed']} | {per:.0f} | {fmt(tt['p50_us'])} / {fmt(tt['p99_us'])} | "
          f"{fmt(fe['p50_us'])} / {fmt(fe['p99_us'])} | {fmt(g['mean_us'])} / "
          f"{fmt(g['p99_us'])} / {fmt(g['max_us'])} | {' / '.join(fmt(v) for v in r['gap_p99_rounds'])} | "
          f"{add_t} | {add_g} |")
    w("")

    # --- idle memory ------------------------------------------------------------------------
    w(f"### Memory per idle client connection ({a.idle} TLS connections held open)")
    w("")
    w("| proxy | RSS before (MiB) | with connections after handshake (MiB) | KiB / connection "
      "| same connections after one request each (MiB) | KiB / connection | "
      "RSS after they close (MiB) |")
    w("|---|---:|---:|---:|---:|---:|---:|")
    kib = {}
    for t in PROXIES:
        r = extra.get("idle_rss", {}).get(t)
        stages = extra.get("idle", {}).get(t, {})
        for stage in ("handshake", "request"):
            got = stages.get(stage, {}).get("completed", 0)
            if got < int(a.idle):
                problems.append(f"idle/{t}: {stage} stage reached {got} of {a.idle} connections")
        closed = stages.get("closed")
        if closed and (closed.get("errors") or closed.get("error_kinds")):
            problems.append(f"idle/{t}: {closed.get('errors')} errors {closed.get('error_kinds')}")
        if r is None:
            continue
        n = r["connections"]
        kb_hs = (r["handshake_kib"] - r["before_kib"]) / n if r["handshake_kib"] else None
        kb_rq = (r["request_kib"] - r["before_kib"]) / n if r["request_kib"] else None
        kib[(t, 0)], kib[(t, 1)] = kb_hs, kb_rq
        w(f"| {t} | {r['before_kib'] / 1024:.1f} | {r['handshake_kib'] / 1024:.1f} | {fmt(kb_hs, 1)} | "
          f"{r['request_kib'] / 1024:.1f} | {fmt(kb_rq, 1)} | {r['after_kib'] / 1024:.1f} |")
    w("")
    w("RSS is the proxy process (nginx: the sum of its workers), measured on fresh processes "
      "before any other load; kernel socket buffers are not included. \"After one request\" is "
      "a keep-alive client between requests (the same connections, so freed memory cannot be "
      "reused to hide either figure).")
    w("")

    # --- ratios -----------------------------------------------------------------------------
    w("### Ratios")
    w("")
    w("| metric | sluice | sluice-full | nginx | direct | sluice / nginx | sluice-full / nginx "
      "| sluice-full / sluice |")
    w("|---|---:|---:|---:|---:|---:|---:|---:|")

    def row(name, values, digits=0, direct=None):
        """values: target -> number (missing: None)."""
        s, f, n = (values.get(t) for t in ("sluice", "sluice-full", "nginx"))
        d = values.get("direct") if direct is None else direct
        w(f"| {name} | {fmt(s, digits)} | {fmt(f, digits)} | {fmt(n, digits)} | {fmt(d, digits)} | "
          f"{ratio(s, n)} | {ratio(f, n)} | {ratio(f, s)} |")

    row("keep-alive µs proxy CPU / request", cpu_us, 1)
    row("keep-alive req/s per proxy core", per_core)
    row("keep-alive req/s (whole box)", rps)
    for key, name in (("p50", "c=1 p50 µs"), ("p99", "c=1 p99 µs")):
        row(name, {t: v.get(key) for t, v in serial.items()}, 1)
    for table, where in ((rate, ""), (one_cpu, ", one CPU")):
        if table.get("direct"):
            for key, name in (("p50_us", f"{a.rate}/s p50 µs{where}"),
                              ("p99_us", f"{a.rate}/s p99 µs{where}")):
                row(name, {t: v["latency"][key] for t, v in table.items()})
    hs_us = {t: 1e6 / pc for t, (_, pc) in hs.items() if pc}
    row("µs proxy CPU / new TLS connection", hs_us)
    row("new TLS connections/s per proxy core", {t: pc for t, (_, pc) in hs.items()})
    for key, field, name in (("ttfb", "p50_us", "stream TTFB p50 µs"),
                             ("ttfb", "p99_us", "stream TTFB p99 µs"),
                             ("gap", "p99_us", "stream gap p99 µs")):
        row(name, {t: v[key][field] for t, v in st.items()})
    for request, name in ((0, "handshake only"), (1, "after a request")):
        row(f"KiB per idle connection, {name}", {t: kib.get((t, request)) for t in PROXIES}, 1)
    w("")

    # --- goals (issue 15: every feature on) ---------------------------------------------------
    def added_of(table, target, key, part=None):
        src = table.get(target, {})
        dst = table.get("direct", {})
        if part:
            src, dst = src.get(part, {}), dst.get(part, {})
        if key not in src or key not in dst:
            return None
        return src[key] - dst[key]

    w("### Against the goals for every feature on (issue 15)")
    w("")
    w("| goal | sluice-full | sluice (no policy) | nginx | sluice-full / nginx | sluice / nginx "
      "| met with every feature on |")
    w("|---|---:|---:|---:|---:|---:|---|")

    def goal(name, values, limit, digits=0, lower_is_better=True):
        f, s, n = (values.get(t) for t in ("sluice-full", "sluice", "nginx"))
        if f is None or n is None:
            verdict = "—"
        elif n > 0:
            verdict = "yes" if f / n <= limit else "no"
        else:  # nginx added nothing or less: the ratio says nothing, compare the values
            verdict = "yes" if f <= n else "no"
        w(f"| {name} | {fmt(f, digits)} | {fmt(s, digits)} | {fmt(n, digits)} | "
          f"{ratio(f, n) if n and n > 0 else '—'} | {ratio(s, n) if n and n > 0 else '—'} | "
          f"{verdict} |")

    goal("keep-alive µs proxy CPU / request ≤ 1.0× nginx", cpu_us, 1.0, 1)
    goal("µs proxy CPU / new TLS connection ≤ 1.0× nginx", hs_us, 1.0)
    goal("stream added TTFB p99 µs ≤ 1.1× nginx",
         {t: added_of(st, t, "p99_us", "ttfb") for t in PROXIES}, 1.1)
    goal("stream gap p99 µs ≤ 1.05× nginx", {t: v["gap"]["p99_us"] for t, v in st.items()}, 1.05)
    if one_cpu:
        for key, name in (("p50_us", "p50"), ("p99_us", "p99")):
            goal(f"{a.rate}/s on one CPU: added {name} µs ≤ nginx's",
                 {t: added_of(one_cpu, t, key, "latency") for t in PROXIES}, 1.0)
    w("")
    w("Ratios of added latency are only meaningful while nginx's added figure is positive; "
      "where it is not, the row compares the values. On this shared 2-vCPU VM only ratios "
      "measured side by side in one run count; absolute figures move with the neighbours' load.")
    w("")

    # --- health -----------------------------------------------------------------------------
    for t, h in extra.get("sluice_health", {}).items():
        measured = sum(r.get("completed", 0) for (m, label), rs in runs.items() if label == t
                       for r in rs if m != "idle")
        w(f"{t} after the run: {'alive' if h['alive'] else '**dead**'}, RSS "
          f"{h['rss_kib'] / 1024:.1f} MiB, {h['audit_lines']:,} audit lines (≥ {measured:,} "
          f"measured requests), {h['log_warnings']} warnings and {h['log_errors']} errors logged.")
        if not h["alive"]:
            problems.append(f"{t}: sluiced died during the run")
        if h["audit_lines"] < measured:
            problems.append(f"{t}: audit has {h['audit_lines']} lines for ≥ {measured} requests")
        w("")
    full_health(extra.get("sluice_full_health"), w, problems)
    if problems:
        w("Flags raised by this run:")
        w("")
        for p in problems:
            w(f"- {p}")
    else:
        w("No errors, lost requests, crashes or 38–45 ms stalls in this run.")
    print("\n".join(out))


if __name__ == "__main__":
    sys.exit(main())
