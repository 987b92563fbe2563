#!/usr/bin/env python3
"""Sampler and report of the soak (soak.sh).

  soak-report.py sample --pid PID --out F (--sqlite DB | --psql PSQL --psql-url URL)
                        [--every 10] [--rows-every 60] --stop-file S
      every --every seconds one JSON line: Tessera's resident memory (VmRSS, VmHWM), threads,
      open files, CPU seconds, the database size (SQLite: the file + -wal + -shm; PostgreSQL:
      pg_database_size), and every --rows-every seconds the row count of every table.
      Runs until the stop file exists or the process is gone.
  soak-report.py report --samples F --load F --max F [--warmup-s 120] [--out F]
      the figures: errors, RSS after the warm-up vs at the end, the database size curve,
      latency per interval; exit 1 when there were errors or RSS grew by 5% or more.
"""

import argparse
import json
import os
import subprocess
import sys
import time


def read_status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def db_size(a):
    if a.sqlite:
        total = 0
        for suffix in ("", "-wal", "-shm"):
            try:
                total += os.path.getsize(a.sqlite + suffix)
            except OSError:
                pass
        return total
    return int(psql(a, "SELECT pg_database_size(current_database())")[0][0])


def psql(a, sql):
    out = subprocess.run([a.psql, a.psql_url, "-X", "-q", "-A", "-t", "-F", "\t", "-c", sql],
                         check=True, capture_output=True, text=True, timeout=60).stdout
    return [line.split("\t") for line in out.splitlines() if line]


def row_counts(a):
    if a.sqlite:
        import sqlite3
        con = sqlite3.connect(f"file:{a.sqlite}?mode=ro", uri=True, timeout=30)
        try:
            tables = [r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                " AND name NOT LIKE '_sqlx%' ORDER BY name")]
            return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}
        finally:
            con.close()
    tables = [r[0] for r in psql(a, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                    "current_schema() AND tablename NOT LIKE '_sqlx%' "
                                    "ORDER BY tablename")]
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)
    return {r[0]: int(r[1]) for r in psql(a, sql)} if tables else {}


def cmd_sample(a):
    t0 = time.monotonic()
    next_rows = 0.0
    with open(a.out, "a") as out:
        k = 0
        while not os.path.exists(a.stop_file):
            t = time.monotonic() - t0
            try:
                st = read_status(a.pid)
                cpu = cpu_seconds(a.pid)
                fds = len(os.listdir(f"/proc/{a.pid}/fd"))
            except OSError:
                break
            s = {"t": round(t, 1), "at": time.strftime("%H:%M:%S", time.gmtime()),
                 "rss_kb": st.get("VmRSS"), "hwm_kb": st.get("VmHWM"),
                 "threads": st.get("Threads"), "fds": fds, "cpu_s": round(cpu, 2),
                 "loadavg": float(open("/proc/loadavg").read().split()[0])}
            try:
                s["db_bytes"] = db_size(a)
                if t >= next_rows:
                    s["rows"] = row_counts(a)
                    next_rows += a.rows_every
            except (subprocess.SubprocessError, OSError, Exception) as e:  # noqa: BLE001
                s["db_error"] = str(e)[:200]
            out.write(json.dumps(s) + "\n")
            out.flush()
            k += 1
            # Sleep to the next multiple of --every, in short steps to notice the stop file.
            target = t0 + k * a.every
            while time.monotonic() < target and not os.path.exists(a.stop_file):
                time.sleep(min(0.2, max(0.0, target - time.monotonic())))


def mib(b):
    return round(b / 1048576, 1)


def cmd_report(a):
    samples = [json.loads(line) for line in open(a.samples) if line.strip()]
    lines = [json.loads(line) for line in open(a.load) if line.strip()]
    final = next((x for x in lines if x.get("final")), None)
    windows = [x for x in lines if not x.get("final")]
    mx = next((x for x in (json.loads(line) for line in open(a.max) if line.strip())
               if x.get("final")), None)
    if final is None or not samples:
        raise SystemExit("soak-report: no final load line or no samples")
    warm = min(samples, key=lambda s: abs(s["t"] - a.warmup_s))
    end = samples[-1]
    growth = (end["rss_kb"] - warm["rss_kb"]) / warm["rss_kb"] * 100.0
    peak = max(samples[samples.index(warm):], key=lambda s: s["rss_kb"])
    dbs = [s for s in samples if "db_bytes" in s]
    curve = [{"t": s["t"], "db_mib": mib(s["db_bytes"]), "rss_mib": round(s["rss_kb"] / 1024, 1),
              "cpu_s": s["cpu_s"], "threads": s["threads"], "fds": s["fds"],
              "loadavg": s.get("loadavg")}
             for i, s in enumerate(dbs) if i % 6 == 0 or s is dbs[-1]]
    rows = [{"t": s["t"], **s["rows"]} for s in samples if "rows" in s]
    errors = final["non2xx"] + final["errors"]
    worst = max(windows, key=lambda w: w["p99_ms"]) if windows else None
    cpu = (end["cpu_s"] - samples[0]["cpu_s"]) / max(1e-9, end["t"] - samples[0]["t"])
    out = {
        "max": {"ok_per_s": mx and mx["ok_per_s"], "p50_ms": mx and mx["p50_ms"],
                "p99_ms": mx and mx["p99_ms"], "errors": mx and (mx["non2xx"] + mx["errors"]),
                "seconds": mx and mx["seconds"]},
        "load": {"rate_target": final.get("rate_target"), "seconds": final["seconds"],
                 "ok": final["ok"], "ok_per_s": final["ok_per_s"], "ok_by_op": final["ok_by_op"],
                 "non2xx": final["non2xx"], "non2xx_by": final["non2xx_by"],
                 "errors": final["errors"], "errors_by": final["errors_by"],
                 "skipped": final["skipped"], "late_100ms": final["late_100ms"],
                 "p50_ms": final["p50_ms"], "p99_ms": final["p99_ms"], "max_ms": final["max_ms"],
                 "worst_window_p99": worst and {"t": worst["t"], "p99_ms": worst["p99_ms"]},
                 "examples": final["examples"]},
        "rss": {"warmup_t": warm["t"], "warmup_mib": round(warm["rss_kb"] / 1024, 1),
                "end_t": end["t"], "end_mib": round(end["rss_kb"] / 1024, 1),
                "growth_pct": round(growth, 2),
                "peak_after_warmup_mib": round(peak["rss_kb"] / 1024, 1),
                "hwm_mib": round(end["hwm_kb"] / 1024, 1)},
        "tessera_cpu_cores": round(cpu, 2),
        "db": {"start_mib": mib(dbs[0]["db_bytes"]), "warmup_mib": mib(warm.get("db_bytes", 0)),
               "end_mib": mib(dbs[-1]["db_bytes"]), "max_mib": mib(max(s["db_bytes"] for s in dbs))},
        "curve": curve,
        "rows": rows,
        "pass": {"zero_errors": errors == 0, "rss_growth_below_5pct": growth < 5.0},
    }
    text = json.dumps(out, indent=1)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    print(text)
    sys.exit(0 if all(out["pass"].values()) else 1)


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--every", type=float, default=10.0)
    s.add_argument("--rows-every", type=float, default=60.0)
    s.add_argument("--stop-file", required=True)
    s.add_argument("--sqlite")
    s.add_argument("--psql", default="psql")
    s.add_argument("--psql-url")
    s = sub.add_parser("report")
    s.add_argument("--samples", required=True)
    s.add_argument("--load", required=True)
    s.add_argument("--max", required=True)
    s.add_argument("--warmup-s", type=float, default=120.0)
    s.add_argument("--out")
    a = p.parse_args()
    if a.cmd == "sample" and not (a.sqlite or a.psql_url):
        p.error("sample needs --sqlite or --psql-url")
    {"sample": cmd_sample, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
