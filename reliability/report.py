#!/usr/bin/env python3
"""Reports of the reliability scripts.

  report.py phases LOAD_JSON      status counts per phase and endpoint (driver.py load --summary-out)
  report.py log-messages < LOG    Tessera's JSON log lines grouped by level, message and error
"""

import json
import re
import sys

ORDER = ["load", "before", "locked", "stopping", "down", "filling", "full", "starting", "after", "freed"]


def phases(path):
    s = json.load(open(path))
    counts = s["status_counts"]
    names = sorted(counts, key=lambda p: ORDER.index(p) if p in ORDER else len(ORDER))
    lat = s.get("latency", {})
    print(f"{'phase':<9} {'endpoint':<44} status: count (mean / max latency ms; 0 = connection error)")
    for p in names:
        for ep in sorted(counts[p]):
            st = counts[p][ep]
            cells = []
            for k, v in sorted(st.items(), key=lambda kv: int(kv[0])):
                l = lat.get(p, {}).get(ep, {}).get(k)
                cells.append(f"{k}: {v}" + (f" ({l['mean_ms']:.0f} / {l['max_ms']:.0f})" if l else ""))
            print(f"{p:<9} {ep:<44} {', '.join(cells)}")
    print()
    print("phase totals:")
    for p in names:
        tot = {}
        for st in counts[p].values():
            for k, v in st.items():
                tot[k] = tot.get(k, 0) + v
        cells = ", ".join(f"{k}: {v}" for k, v in sorted(tot.items(), key=lambda kv: int(kv[0])))
        print(f"  {p:<9} {cells}")
    errs = s.get("server_errors", [])
    print()
    print(f"5xx answers other than 503: {len(errs)}")
    for e in errs[:30]:
        print(f"  {e['phase']:<9} {e['endpoint']:<44} {e['status']} {e['code']}: {e['body'][:120]}")
    conn = s.get("connection_errors", [])
    print()
    print(f"requests answered with no HTTP response (connection errors): {len(conn)}")
    for e in conn[:30]:
        print(f"  {e['phase']:<9} {e['endpoint']:<44} {e['error']} after {e['elapsed_ms']} ms at {e['at']}")
    print()
    print("first acknowledged write after each phase began (s):",
          json.dumps(s.get("first_2xx_write_after_phase_start_s", {})))
    print("chain breaks:", len(s.get("chain_breaks", [])), json.dumps(s.get("chain_breaks", [])[:5]))
    print("acknowledged:", json.dumps(s["acked"]))


def log_messages():
    groups = {}
    for line in sys.stdin:
        try:
            r = json.loads(line)
        except ValueError:
            continue
        err = str(r.get("error", ""))
        # ids and numbers vary per line: group without them
        err = re.sub(r"[0-9a-f]{8,}|\d+", "#", err)[:160]
        key = (r.get("level", ""), r.get("message", ""), err)
        groups[key] = groups.get(key, 0) + 1
    for (level, msg, err), n in sorted(groups.items(), key=lambda kv: -kv[1]):
        print(f"{n:>7} {level:<5} {msg} {('| ' + err) if err else ''}")


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "phases":
        phases(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] == "log-messages":
        log_messages()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
