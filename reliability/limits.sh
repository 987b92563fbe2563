#!/usr/bin/env bash
# Resource limits: 5,000 idle keep-alive connections and 1,100 half-sent request heads held
# open against Tessera while a normal client still gets answers (SPEC: p99 < 100 ms).
#
# Usage: reliability/limits.sh [sqlite|postgres] [HOLD_SECONDS]     (default sqlite, 60 s)
#
# Tessera runs with its default HTTP limits (http.max_connections 10,000; http.header_timeout_ms
# 10,000, which is also the longest idle keep-alive wait; it raises its own open-files limit),
# started from a shell whose soft open-files limit is raised to the hard limit (ulimit -n) for
# the attacker. limits.py (see its header) sets up a client, measures a normal client before,
# during and after the attack, holds the connections (reopening each one the server closes,
# and recording when it did), and samples Tessera's open files and memory.
# Environment: LIMITS_IDLE (5000), LIMITS_HALF (1100), LIMITS_INTERVAL_MS (50), and common.sh's.
# Results: reliability/results/limits-BACKEND-<UTC timestamp>/report.json.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BACKEND=${1:-sqlite}
HOLD=${2:-60}
IDLE=${LIMITS_IDLE:-5000}
HALF=${LIMITS_HALF:-1100}
case $BACKEND in sqlite | postgres) ;; *) die "usage: $0 [sqlite|postgres] [HOLD_SECONDS]" ;; esac
[[ -x $TESSERA_BIN ]] || die "no Tessera binary at $TESSERA_BIN (cargo build --release -p tessera)"

# The attacker needs ~6,200 descriptors, Tessera as many (it raises its own soft limit).
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= IDLE + HALF + 200)) || die "open-files hard limit $(ulimit -Hn) is below $((IDLE + HALF + 200))"

RESULTS=$(results_dir "limits-$BACKEND")
WORK=$(mktemp -d /tmp/reliability-limits.XXXXXX)
CLEANUP_DIRS+=("$WORK")
DATA=$WORK/data
TLOG=$RESULTS/tessera.log
PORT=$(free_port)
DB_URL=""
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) changed files)"
  echo "binary: $TESSERA_BIN ($(stat -c %y "$TESSERA_BIN" | cut -d. -f1))"
  echo "backend: $BACKEND; idle: $IDLE; half-sent: $HALF; hold: ${HOLD}s; open-files limit: $(ulimit -n)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "net.core.somaxconn: $(cat /proc/sys/net/core/somaxconn); tcp_max_syn_backlog: $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog)"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/meta.txt"
sed 's/^/limits: /' "$RESULTS/meta.txt" >&2

if [[ $BACKEND == postgres ]]; then
  export TESSERA_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
  pg_init_cluster "$WORK/pg"
  pg_start_cluster
  DBNAME=tessera_limits_$(date -u +%Y%m%d%H%M%S)
  pg_createdb "$DBNAME"
  DB_URL=$PG_URL_BASE/$DBNAME
  "$TESSERA_BIN" migrate --database-url "$DB_URL" --issuer "http://127.0.0.1:$PORT" --data-dir "$DATA" >>"$TLOG" 2>&1 ||
    die "tessera migrate failed"
fi
start_tessera "$PORT" "$DATA" "$TLOG" "$DB_URL"
log "tessera ready (pid $TESSERA_PID, open-files limit $(awk '/Max open files/ {print $4}' "/proc/$TESSERA_PID/limits")) at $TESSERA_URL"
echo "tessera open-files soft limit: $(awk '/Max open files/ {print $4}' "/proc/$TESSERA_PID/limits")" >>"$RESULTS/meta.txt"

RC=0
python3 "$REL_DIR/limits.py" --url "$TESSERA_URL" --pid "$TESSERA_PID" --out "$RESULTS/report.json" \
  --idle "$IDLE" --half "$HALF" --hold-s "$HOLD" --interval-ms "${LIMITS_INTERVAL_MS:-50}" >/dev/null || RC=$?
stop_tessera
grep -E '"level":"(WARN|ERROR)"' "$TLOG" | cut -c1-300 | sort | uniq -c | sort -rn | head -n 5 >"$RESULTS/warnings.txt" || true
python3 - "$RESULTS/report.json" <<'PY' | tee "$RESULTS/summary.txt" >&2
import json, sys
r = json.load(open(sys.argv[1]))
for k in ("before", "during", "after"):
    m = r["normal_client"][k]
    print(f"normal client {k:6}: {m['ok']}/{m['requests']} ok, p50 {m['p50_ms']} ms, p99 {m['p99_ms']} ms, "
          f"max {m['max_ms']} ms (healthz p99 {m['healthz']['p99_ms']}, token p99 {m['token']['p99_ms']}); failed {m['failed']}")
a, t = r["attack"], r["tessera"]
print(f"attack: opened {a['opened']}; all open {a['every_connection_open_after_s']} s after the start; "
      f"fewest open after that {a['open_min_after_full']}; connect errors {a['connect_errors']}")
for k, v in a["ages_at_server_close_s"].items():
    print(f"  {k}: closed by the server: {v['n']}, age at close min {v['min']} / p50 {v['p50']} / max {v['max']} s; "
          f"ended: {a['how_they_ended'][k]}")
print(f"tessera: open files {t['fds_before']} -> max {t['fds_max_during']} -> {t['fds_end']}; "
      f"rss {t['rss_mib_before']} -> max {t['rss_mib_max_during']} -> {t['rss_mib_end']} MiB")
print("pass (no failures, p99 < 100 ms during):", r["pass_p99_below_100ms_no_failures"])
PY
log "results in $RESULTS"
exit "$RC"
