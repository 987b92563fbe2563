#!/usr/bin/env bash
# Soak: the maximum rate of a mixed load, then 80% of it for N minutes, watching for errors,
# resident-memory growth and database growth.
#
# Usage: reliability/soak.sh sqlite|postgres [MINUTES]      (default 10 minutes)
#
# The mix (bench/reference's soak-load, one Rust process, 64 keep-alive connections): per 200
# requests, 80 client-credentials tokens, 60 refresh rotations (one chain per connection), 59
# invokes of the seed journey (examples/journeys/validate-transaction.yaml) and 1 password
# login (argon2id, by far the costliest request; over 256 users). Logins use a second client
# whose sessions and refresh tokens last SOAK_LOGIN_SESSION_S (120 s), so the purge job (once
# a minute) has rows to delete during the run.
#
# 1. Maximum: SOAK_MAX_S (20) seconds as fast as the server answers (closed loop).
# 2. Soak: SOAK_FRACTION (0.8) of that rate, fixed (open loop: each request has a scheduled
#    send time and its latency counts from it), for MINUTES minutes.
# Meanwhile every 10 s: Tessera's VmRSS / VmHWM, threads, open files, CPU seconds, the
# database size (SQLite: tessera.db + -wal + -shm; PostgreSQL: pg_database_size), and every
# 60 s the row count of every table. The report compares RSS after the warm-up
# (SOAK_WARMUP_S, 120 s into the soak) with RSS at the end; it fails (exit 1) on any error
# (non-2xx or connection error) or an RSS growth of 5% or more.
#
# Per-client and per-identifier authenticate limits ([rate_limits], 600 and 20 a minute by
# default) are raised for the run (TESSERA_RATE_LIMITS__*): the logins of the mix come from
# one client. Everything else is Tessera's default configuration.
#
# Environment (besides common.sh's): SOAK_LOAD_BIN (default $CARGO_TARGET_DIR/release/soak-load,
# built by `cd bench/reference && cargo build --release --bin soak-load`), SOAK_MAX_S,
# SOAK_FRACTION, SOAK_CONNECTIONS (64), SOAK_MIX, SOAK_WARMUP_S, SOAK_LOGIN_SESSION_S.
# PostgreSQL runs in the script's own cluster on REL_PG_PORT (default 55432), as crash.sh's.
# Results: reliability/results/soak-BACKEND-<UTC timestamp>/ (report.json has the figures).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BACKEND=${1:-}
MINUTES=${2:-10}
case $BACKEND in sqlite | postgres) ;; *) die "usage: $0 sqlite|postgres [MINUTES]" ;; esac
[[ $MINUTES =~ ^[0-9]+([.][0-9]+)?$ ]] || die "MINUTES must be a number"
SOAK_LOAD_BIN=${SOAK_LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/soak-load}
MAX_S=${SOAK_MAX_S:-20}
FRACTION=${SOAK_FRACTION:-0.8}
CONNECTIONS=${SOAK_CONNECTIONS:-64}
MIX=${SOAK_MIX:-cc:80,refresh:60,journey:59,login:1}
WARMUP_S=${SOAK_WARMUP_S:-120}
LOGIN_SESSION_S=${SOAK_LOGIN_SESSION_S:-120}
[[ -x $TESSERA_BIN ]] || die "no Tessera binary at $TESSERA_BIN (cargo build --release -p tessera)"
[[ -x $SOAK_LOAD_BIN ]] ||
  die "no soak-load at $SOAK_LOAD_BIN (cd bench/reference && cargo build --release --bin soak-load)"

export TESSERA_RATE_LIMITS__AUTH_PER_CLIENT=1000000/60
export TESSERA_RATE_LIMITS__AUTH_PER_IDENTIFIER=1000000/60

RESULTS=$(results_dir "soak-$BACKEND")
WORK=$(mktemp -d /tmp/reliability-soak.XXXXXX)
CLEANUP_DIRS+=("$WORK")
DATA=$WORK/data
TLOG=$RESULTS/tessera.log
PORT=$(free_port)
DB_URL=""
SAMPLE_DB=()
SAMPLER_PID=""
LOAD_PID=""
stop_helpers() {
  local p
  for p in $LOAD_PID $SAMPLER_PID; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  cleanup
}
trap stop_helpers EXIT

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) changed files)"
  echo "binary: $TESSERA_BIN ($(stat -c %y "$TESSERA_BIN" | cut -d. -f1))"
  echo "backend: $BACKEND; soak: $MINUTES min at $FRACTION of the maximum measured over ${MAX_S}s"
  echo "mix: $MIX; connections: $CONNECTIONS; login sessions: ${LOGIN_SESSION_S}s"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/meta.txt"
sed 's/^/soak: /' "$RESULTS/meta.txt" >&2

if [[ $BACKEND == postgres ]]; then
  export TESSERA_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
  pg_init_cluster "$WORK/pg"
  pg_start_cluster
  DBNAME=tessera_soak_$(date -u +%Y%m%d%H%M%S)
  pg_createdb "$DBNAME"
  DB_URL=$PG_URL_BASE/$DBNAME
  echo "postgres: $("$REL_PG_BIN/postgres" --version), own cluster on port $REL_PG_PORT (defaults, max_connections=100), fresh database $DBNAME" >>"$RESULTS/meta.txt"
  "$TESSERA_BIN" migrate --database-url "$DB_URL" --issuer "http://127.0.0.1:$PORT" --data-dir "$DATA" >>"$TLOG" 2>&1 ||
    die "tessera migrate failed"
  SAMPLE_DB=(--psql "$REL_PG_BIN/psql" --psql-url "$DB_URL")
else
  SAMPLE_DB=(--sqlite "$DATA/tessera.db")
fi

start_tessera "$PORT" "$DATA" "$TLOG" "$DB_URL"
log "tessera ready (pid $TESSERA_PID) at $TESSERA_URL"
python3 "$REL_DIR/soak-setup.py" --url "$TESSERA_URL" --out-prefix "$WORK/setup" \
  --chains "$CONNECTIONS" --users 256 --login-session-s "$LOGIN_SESSION_S"

LOAD=("$SOAK_LOAD_BIN" --url "$TESSERA_URL" --connections "$CONNECTIONS" --mix "$MIX")
log "maximum: ${MAX_S}s as fast as Tessera answers"
"${LOAD[@]}" --setup "$WORK/setup-max.json" --seconds "$MAX_S" --rate 0 --interval 5 >"$RESULTS/max.jsonl"
MAX=$(python3 -c 'import json,sys; f=[json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]; print(f["ok_per_s"])' "$RESULTS/max.jsonl")
RATE=$(python3 -c 'import sys; print(round(float(sys.argv[1]) * float(sys.argv[2])))' "$MAX" "$FRACTION")
tail -n 1 "$RESULTS/max.jsonl" | cut -c1-400 >&2
echo "maximum: $MAX ok/s; soak rate: $RATE requests/s" >>"$RESULTS/meta.txt"
log "maximum $MAX ok/s; soak at $RATE requests/s for $MINUTES min"

STOP=$WORK/stop-sampler
python3 "$REL_DIR/soak-report.py" sample --pid "$TESSERA_PID" --out "$RESULTS/samples.jsonl" \
  --stop-file "$STOP" "${SAMPLE_DB[@]}" 2>>"$RESULTS/sampler.log" &
SAMPLER_PID=$!
SECONDS_TOTAL=$(python3 -c 'import sys; print(float(sys.argv[1]) * 60)' "$MINUTES")
"${LOAD[@]}" --setup "$WORK/setup-soak.json" --seconds "$SECONDS_TOTAL" --rate "$RATE" \
  --interval 10 >"$RESULTS/load.jsonl" &
LOAD_PID=$!
while kill -0 "$LOAD_PID" 2>/dev/null; do
  sleep 60
  kill -0 "$LOAD_PID" 2>/dev/null || break
  tail -n 1 "$RESULTS/load.jsonl" | python3 -c 'import json, sys
w = json.loads(sys.stdin.read())
print("soak t=%.0fs ok/s=%.0f non2xx=%d errors=%d p99=%sms" % (w["t"], w["ok_per_s"], w["non2xx"], w["errors"], w["p99_ms"]), file=sys.stderr)' || true
  tail -n 1 "$RESULTS/samples.jsonl" | cut -c1-200 >&2 || true
done
LOAD_RC=0
wait "$LOAD_PID" || LOAD_RC=$?
LOAD_PID=""
touch "$STOP"
wait "$SAMPLER_PID" || true
SAMPLER_PID=""
((LOAD_RC == 0)) || die "soak-load failed (status $LOAD_RC)"

stop_tessera
{
  echo "tessera log lines by level:"
  python3 -c '
import json, sys, collections
c = collections.Counter()
msgs = collections.Counter()
for line in open(sys.argv[1]):
    try:
        v = json.loads(line)
    except ValueError:
        continue
    lvl = v.get("level", "?")
    c[lvl] += 1
    if lvl in ("WARN", "ERROR"):
        msgs[(lvl, str(v.get("fields", {}).get("message", v.get("message", "")))[:120])] += 1
print(dict(c))
for (lvl, m), n in msgs.most_common(10):
    print(f"  {n} x {lvl}: {m}")
' "$TLOG"
} | tee -a "$RESULTS/meta.txt" >&2
if [[ $BACKEND == sqlite ]]; then
  python3 -c 'import sqlite3,sys; print("integrity_check:", sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
    "$DATA/tessera.db" | tee -a "$RESULTS/meta.txt" >&2
fi
RC=0
python3 "$REL_DIR/soak-report.py" report --samples "$RESULTS/samples.jsonl" --load "$RESULTS/load.jsonl" \
  --max "$RESULTS/max.jsonl" --warmup-s "$WARMUP_S" --out "$RESULTS/report.json" >/dev/null || RC=$?
python3 - "$RESULTS/report.json" <<'PY' | tee "$RESULTS/summary.txt" >&2
import json, sys
r = json.load(open(sys.argv[1]))
m, l, s, d = r["max"], r["load"], r["rss"], r["db"]
print(f"maximum: {m['ok_per_s']:.0f} ok/s (p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, errors {m['errors']})")
print(f"soak: {l['seconds']:.0f} s at {l['rate_target']} req/s: {l['ok']} ok ({l['ok_per_s']:.0f}/s) "
      f"{l['ok_by_op']}; non-2xx {l['non2xx']} {l['non2xx_by']}; connection errors {l['errors']} "
      f"{l['errors_by']}; p50 {l['p50_ms']} ms, p99 {l['p99_ms']} ms, max {l['max_ms']} ms; "
      f"sent >100 ms late: {l['late_100ms']}")
print(f"rss: {s['warmup_mib']} MiB at {s['warmup_t']:.0f} s -> {s['end_mib']} MiB at {s['end_t']:.0f} s "
      f"({s['growth_pct']:+.2f}%); peak after warm-up {s['peak_after_warmup_mib']} MiB; VmHWM {s['hwm_mib']} MiB")
print(f"tessera cpu: {r['tessera_cpu_cores']} cores")
print(f"db: start {d['start_mib']} MiB, at warm-up {d['warmup_mib']} MiB, end {d['end_mib']} MiB, max {d['max_mib']} MiB")
print("t(s)  db MiB  rss MiB  threads  fds  loadavg")
for c in r["curve"]:
    print(f"{c['t']:5.0f} {c['db_mib']:7.1f} {c['rss_mib']:8.1f} {c['threads']:8d} {c['fds']:4d}  {c['loadavg']}")
if r["rows"]:
    keys = [k for k in r["rows"][-1] if k != "t" and any(x.get(k) for x in r["rows"])]
    print("rows: t " + " ".join(keys))
    for x in r["rows"]:
        print(f"  {x['t']:.0f} " + " ".join(str(x.get(k, "")) for k in keys))
print("pass:", r["pass"])
PY
log "results in $RESULTS"
exit "$RC"
