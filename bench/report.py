#!/usr/bin/env python3
"""Helpers for bench/run: summarise oha JSON output and print the results table.

  report.py summarize SCENARIO SERVER OHA.json >> summary.tsv
      appends one TSV row: scenario server tokens_per_s rps p50_ms p99_ms ok non_ok errors total
      and exits 3 if most responses were not 200 (the run is meaningless then).
  report.py summarize-wrk SCENARIO SERVER WRK.json >> summary.tsv
      the same from the JSON that bench/wrk/report.lua writes (wrk counts a status >= 400 as an
      error of kind "status"; every other completed response is counted as ok).
  report.py summarize-ciba SCENARIO SERVER CIBA.json >> summary.tsv
      the rows of the JSON that bench/reference's ciba-load writes: SCENARIO (whole
      iterations: backchannel request + approval + token poll) and one row per step,
      SCENARIO.backchannel, SCENARIO.approval, SCENARIO.token, and for Tessera the approval's
      sub-requests (SCENARIO.approval.otp_send, .otp_authenticate, .complete); a step's rate
      is its successful calls per second. Exits 3 if most iterations failed.
  report.py summarize-flow SCENARIO SERVER FLOW.json >> summary.tsv
      the same for the JSON that bench/reference's journey-flow-load writes (the client_journey
      scenarios): SCENARIO (whole flows: journey start + code exchange) and one row per step
      (SCENARIO.start, SCENARIO.token), in the file's `step_order`.
  report.py flow-cpu SCENARIO SERVER FLOW.json
      one line: the server's CPU time over the measured run (`server_cpu_s` in the file) per
      successful flow, and the local validator's calls when it served one.
  report.py ciba-cpu SERVER CIBA.json TICKS CLK_TCK
      one line: the server's CPU time over the measured run (TICKS clock ticks, from /proc)
      per successful iteration.
  report.py table summary.tsv
      prints the table with Tessera's ratios to the node peer and to the reference.
  report.py json-get KEY < body.json
      prints one top-level string/number field of a JSON document (for curl responses).
"""

import json
import sys

COLUMNS = ["scenario", "server", "tokens_per_s", "rps", "p50_ms", "p99_ms", "ok", "non_ok", "errors", "total"]


def summarize(scenario, server, path):
    with open(path) as f:
        data = json.load(f)
    summary = data["summary"]
    status = {int(k): v for k, v in data.get("statusCodeDistribution", {}).items()}
    errors = data.get("errorDistribution", {})
    ok = status.get(200, 0)
    non_ok = sum(v for k, v in status.items() if k != 200)
    # Requests aborted at the end of the fixed duration are not failures.
    n_err = sum(v for k, v in errors.items() if "aborted due to deadline" not in k)
    lat = data["metrics"]["latency_ms"]
    codes = ", ".join(f"{k}: {v}" for k, v in sorted(status.items()) if k != 200)
    errs = ", ".join(f"{k}: {v}" for k, v in errors.items() if "aborted due to deadline" not in k)
    return emit_row(scenario, server, ok, non_ok, n_err, summary["total"] or 1.0,
                    summary["requestsPerSec"], lat["p50"], lat["p99"],
                    f"{non_ok} non-200 responses ({codes}), {n_err} errors ({errs})")


def summarize_wrk(scenario, server, path):
    with open(path) as f:
        data = json.load(f)
    errors = data["errors"]
    completed = data["requests"]
    non_ok = errors["status"]
    # Socket errors; wrk does not count requests cut off by the end of the run as errors.
    n_err = errors["connect"] + errors["read"] + errors["write"] + errors["timeout"]
    elapsed = data["duration_us"] / 1e6 or 1.0
    lat = data["latency_us"]
    return emit_row(scenario, server, completed - non_ok, non_ok, n_err, elapsed,
                    completed / elapsed, lat["p50"] / 1000, lat["p99"] / 1000,
                    f"{non_ok} responses with status >= 400, {n_err} socket errors ({errors})")


# ciba-load's steps, in table order; the first is the whole iteration.
CIBA_STEPS = ["iteration", "backchannel", "approval", "token",
              "approval.otp_send", "approval.otp_authenticate", "approval.complete"]


def summarize_ciba(scenario, server, path):
    with open(path) as f:
        data = json.load(f)
    elapsed = data["duration_s"] or 1.0
    it = data["iterations"]
    steps = data["steps"]
    failures = data.get("failures", {})
    whole = steps.get("iteration", {"p50_ms": 0, "p99_ms": 0})
    problems = ", ".join(f"{k}: {v['failed']} failed, {v['errors']} errors" for k, v in failures.items())
    status = emit_row(scenario, server, it["ok"], it["failed"], it["errors"], elapsed,
                      (it["ok"] + it["failed"] + it["errors"]) / elapsed, whole["p50_ms"],
                      whole["p99_ms"], f"failed iterations by step: {problems}")
    for step in data.get("step_order", CIBA_STEPS)[1:]:
        if step not in steps:
            continue
        st = steps[step]
        # Failures are counted by top-level step (a sub-request's failure is its step's).
        fail = failures.get(step, {"failed": 0, "errors": 0})
        total = st["count"] + fail["failed"] + fail["errors"]
        print("\t".join([f"{scenario}.{step}", server, f"{st['count'] / elapsed:.0f}",
                         f"{total / elapsed:.0f}", f"{st['p50_ms']:.3f}", f"{st['p99_ms']:.3f}",
                         str(st["count"]), str(fail["failed"]), str(fail["errors"]), str(total)]))
    return status


def flow_cpu(scenario, server, path):
    with open(path) as f:
        data = json.load(f)
    ok = data["iterations"]["ok"]
    cpu_s = data.get("server_cpu_s")
    elapsed = data["duration_s"] or 1
    if cpu_s is None:
        cpu = "server CPU not measured"
    else:
        per = f"{1000 * cpu_s / ok:.2f} ms" if ok else "n/a"
        cpu = f"server CPU {cpu_s:.1f} s over {elapsed:.1f} s ({cpu_s / elapsed:.2f} cores), {per} per flow"
    validator = data.get("validator", "?")
    calls = data.get("validator_calls")
    extra = "" if calls is None else f", {data.get('validator_accepted')} of {calls} validator calls accepted"
    print(f"{scenario}/{server}: {validator}: {cpu}{extra}")
    return 0


def ciba_cpu(server, path, ticks, clk_tck):
    with open(path) as f:
        data = json.load(f)
    cpu_s = int(ticks) / int(clk_tck)
    ok = data["iterations"]["ok"]
    per = f"{1000 * cpu_s / ok:.2f} ms" if ok else "n/a"
    print(f"ciba/{server}: server CPU {cpu_s:.1f} s over {data['duration_s']:.1f} s "
          f"({cpu_s / (data['duration_s'] or 1):.2f} cores), {per} per iteration")
    return 0


def emit_row(scenario, server, ok, non_ok, n_err, elapsed, rps, p50_ms, p99_ms, problems):
    """Prints one summary.tsv row; warns about failures; 3 if most responses were not 200."""
    total = ok + non_ok + n_err
    row = [scenario, server, f"{ok / elapsed:.0f}", f"{rps:.0f}", f"{p50_ms:.3f}",
           f"{p99_ms:.3f}", str(ok), str(non_ok), str(n_err), str(total)]
    print("\t".join(row))
    if non_ok or n_err:
        print(f"bench: WARNING {scenario}/{server}: {problems}", file=sys.stderr)
    if total == 0 or ok * 2 < total:
        print(f"bench: FAIL {scenario}/{server}: only {ok} of {total} responses were 200",
              file=sys.stderr)
        return 3
    return 0


def fmt_ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


def table(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == len(COLUMNS):
                rows.append(dict(zip(COLUMNS, parts)))
    if not rows:
        print("(no results)")
        return 0
    width = max(20, *(len(r["scenario"]) for r in rows))
    header = f"{'scenario':<{width}} {'server':<10} {'tokens/s':>10} {'p50 ms':>9} {'p99 ms':>9} {'non-200':>8} {'errors':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['scenario']:<{width}} {r['server']:<10} {r['tokens_per_s']:>10} {float(r['p50_ms']):>9.2f} "
              f"{float(r['p99_ms']):>9.2f} {r['non_ok']:>8} {r['errors']:>7}")
    print()
    scenarios = []
    for r in rows:
        if r["scenario"] not in scenarios:
            scenarios.append(r["scenario"])
    tessera_rate = {r["scenario"]: float(r["tokens_per_s"]) for r in rows if r["server"] == "tessera"}
    for s in scenarios:
        rate = {r["server"]: float(r["tokens_per_s"]) for r in rows if r["scenario"] == s}
        t = rate.get("tessera")
        if s.startswith("ciba.") or s.startswith("sso_code_flow.") or s.startswith("client_journey") and "." in s:
            continue  # one step of a flow's rows; the verdict is on the whole iteration
        if s.startswith("client_journey"):
            # Issue 12 point 10: whole flows/s >= 0.25x the client_credentials tokens/s.
            cc = tessera_rate.get("client_credentials")
            verdict = "n/a" if t is None or not cc else ("met" if t >= 0.25 * cc else "NOT met")
            p99 = {r["server"]: float(r["p99_ms"]) for r in rows if r["scenario"] == s}.get("tessera")
            print(f"{s}: Tessera {0 if t is None else t:.0f} flows/s (p99 "
                  f"{'n/a' if p99 is None else f'{p99:.2f} ms'}), flows/client_credentials = "
                  f"{fmt_ratio(t, cc)} (issue 12: >= 0.25x: {verdict})")
            continue
        if s == "sso_code_flow":
            # Issue 13 point 11: flows/s with an existing session, Tessera >= 10x node.
            p99 = {r["server"]: float(r["p99_ms"]) for r in rows if r["scenario"] == s}
            node = rate.get("node")
            verdict = "n/a" if t is None or not node else ("met" if t >= 10 * node else "NOT met")

            def flows(server):
                v = rate.get(server)
                return "n/a" if v is None else f"{v:.0f} flows/s (p99 {p99[server]:.2f} ms)"

            print(f"{s}: Tessera {flows('tessera')}, node {flows('node')}; Tessera/node = "
                  f"{fmt_ratio(t, node)} (issue 13: >= 10x: {verdict})")
            continue
        if s == "ciba":
            bc = {r["server"]: float(r["p99_ms"]) for r in rows if r["scenario"] == "ciba.backchannel"}

            def ms(v):
                return "n/a" if v is None else f"{v:.2f} ms"

            p99 = bc.get("tessera")
            p99_verdict = "n/a" if p99 is None else ("met" if p99 < 10 else "NOT met")
            node = rate.get("node")
            ratio_verdict = "n/a" if t is None or not node else ("met" if t >= 10 * node else "NOT met")
            print(f"{s}: Tessera/node = {fmt_ratio(t, node)} iterations/s (target >= 10x: {ratio_verdict}); "
                  f"backchannel request p99: Tessera {ms(p99)} (target < 10 ms: {p99_verdict}), "
                  f"node {ms(bc.get('node'))}")
            continue
        if s.startswith("refresh"):
            verdict = "met" if t is not None and t >= 5000 else "NOT met"
            print(f"{s}: Tessera {t:.0f} durable refreshes/s (SPEC §10: >= 5,000/s: {verdict})")
            continue
        if s != "client_credentials" and set(rate) == {"tessera"}:
            print(f"{s}: Tessera {s}/client_credentials = "
                  f"{fmt_ratio(t, tessera_rate.get('client_credentials'))} (SPEC §10: within 2x, i.e. >= 0.50x)")
            continue
        cc = s == "client_credentials"
        print(f"{s}: Tessera/node = {fmt_ratio(t, rate.get('node'))}"
              f"{' (SPEC §10: >= 10x)' if cc else ''}, "
              f"Tessera/reference = {fmt_ratio(t, rate.get('reference'))}"
              f"{' (aim >= 0.85x)' if cc else ''}, "
              f"reference/node = {fmt_ratio(rate.get('reference'), rate.get('node'))}")
        if cc and rate.get("nosign") and rate.get("node"):
            # The same request without its signature bounds what any server that signs each
            # token can reach on this machine with this HTTP stack.
            need = 10 * rate["node"]
            print(f"{s}: ceiling without signing (nosign) = {rate['nosign']:.0f}/s = "
                  f"{fmt_ratio(rate['nosign'], rate['node'])} node; 10x node = {need:.0f}/s is "
                  f"{100 * need / rate['nosign']:.0f}% of that ceiling; "
                  f"Tessera reaches {100 * (t or 0) / rate['nosign']:.0f}% of it")
    return 0


def json_get(key):
    raw = sys.stdin.read()
    try:
        data = json.loads(raw)
    except ValueError:
        print(f"bench: expected JSON with {key!r}, got: {raw[:300]!r}", file=sys.stderr)
        return 1
    value = data.get(key) if isinstance(data, dict) else None
    if value is None and isinstance(data, dict) and isinstance(data.get("result"), dict):
        value = data["result"].get(key)  # the platform's {"result": …} envelope
    if value is None:
        print(f"bench: key {key!r} missing in response: {json.dumps(data)[:300]}", file=sys.stderr)
        return 1
    print(value)
    return 0


def main(argv):
    if len(argv) >= 5 and argv[1] == "summarize":
        return summarize(argv[2], argv[3], argv[4])
    if len(argv) >= 5 and argv[1] == "summarize-wrk":
        return summarize_wrk(argv[2], argv[3], argv[4])
    if len(argv) >= 5 and argv[1] == "summarize-ciba":
        return summarize_ciba(argv[2], argv[3], argv[4])
    if len(argv) >= 5 and argv[1] == "summarize-flow":
        return summarize_ciba(argv[2], argv[3], argv[4])
    if len(argv) == 5 and argv[1] == "flow-cpu":
        return flow_cpu(argv[2], argv[3], argv[4])
    if len(argv) == 6 and argv[1] == "ciba-cpu":
        return ciba_cpu(argv[2], argv[3], argv[4], argv[5])
    if len(argv) == 3 and argv[1] == "table":
        return table(argv[2])
    if len(argv) == 3 and argv[1] == "json-get":
        return json_get(argv[2])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
