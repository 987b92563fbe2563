#!/usr/bin/env bash
# Crash safety: kill -9 during a mixed write load, N times, then check that every write the
# load generator saw acknowledged (2xx) survived.
#
# Usage: reliability/crash.sh sqlite|postgres [KILLS]     (default 20 kills)
#
# Each round: driver.py load (2 user creators, each logging its new user in with the password;
# 4 refresh-rotation workers over every family, alternating the OAuth grant and the REST
# endpoint; 1 journey invoker of examples/journeys/validate-transaction.yaml) runs; after a
# random 2-5 s, kill -9. Then, with Tessera down, driver.py check-db reads the database (SQLite
# with Python's sqlite3, as bench/run's refresh durability check does; PostgreSQL with psql);
# Tessera restarts on the same data; driver.py check-api checks the same writes through the
# API. The checks are cumulative: every write acknowledged since the start, not only this
# round's. Journey traces are counted (not acknowledged by the invoke: SPEC §7.5).
#
# PostgreSQL runs in the script's own cluster on REL_PG_PORT (default 55432), in a fresh
# database; the shared server on 5432 is never touched. Results: reliability/results/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BACKEND=${1:-}
KILLS=${2:-20}
case $BACKEND in sqlite | postgres) ;; *) die "usage: $0 sqlite|postgres [KILLS]" ;; esac
[[ -x $TESSERA_BIN ]] || die "no Tessera binary at $TESSERA_BIN (cargo build --release -p tessera)"

RESULTS=$(results_dir "crash-$BACKEND")
WORK=$(mktemp -d /tmp/reliability-crash.XXXXXX)
CLEANUP_DIRS+=("$WORK")
DATA=$WORK/data
STATE=$RESULTS/state.json
TLOG=$RESULTS/tessera.log
PORT=$(free_port)
DB_URL=""
CHECK_DB=()

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) changed files)"
  echo "binary: $TESSERA_BIN"
  echo "backend: $BACKEND; kills: $KILLS"
  echo "cpu: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/meta.txt"
sed 's/^/crash: /' "$RESULTS/meta.txt" >&2

if [[ $BACKEND == postgres ]]; then
  export TESSERA_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)
  pg_init_cluster "$WORK/pg"
  pg_start_cluster
  DBNAME=tessera_crash_$(date -u +%Y%m%d%H%M%S)
  pg_createdb "$DBNAME"
  DB_URL=$PG_URL_BASE/$DBNAME
  echo "postgres: $("$REL_PG_BIN/postgres" --version), own cluster on port $REL_PG_PORT, fresh database $DBNAME" >>"$RESULTS/meta.txt"
  "$TESSERA_BIN" migrate --database-url "$DB_URL" --issuer "http://127.0.0.1:$PORT" --data-dir "$DATA" >>"$TLOG" 2>&1 ||
    die "tessera migrate failed"
  CHECK_DB=(--psql-url "$DB_URL")
else
  CHECK_DB=(--sqlite "$DATA/tessera.db")
fi

start_tessera "$PORT" "$DATA" "$TLOG" "$DB_URL"
log "tessera ready (pid $TESSERA_PID) at $TESSERA_URL"
"${DRIVER[@]}" setup --url "$TESSERA_URL" --state "$STATE"

FAILED=0
printf 'round\tkill_after_s\tacked_users\tacked_logins\tacked_refreshes\tacked_invokes\tunknown\tdb_lost\tfamilies_one_further\ttraces_written\trestart_ms\tapi_lost\n' >"$RESULTS/rounds.tsv"
for ((i = 1; i <= KILLS; i++)); do
  tag=kill$i
  after=$(python3 -c 'import random; print(f"{random.uniform(2.0, 5.0):.2f}")')
  "${DRIVER[@]}" load --url "$TESSERA_URL" --state "$STATE" --tag "$tag" --mode crash \
    --seconds 60 --summary-out "$RESULTS/$tag-load.json" 2>>"$RESULTS/driver.log" &
  driver=$!
  sleep "$after"
  log "round $i: kill -9 $TESSERA_PID after ${after}s of load"
  echo "{\"kill\": $i, \"at\": \"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\"}" >>"$TLOG"
  kill9_tessera
  wait "$driver" || die "the load generator failed (see $RESULTS/driver.log)"
  tail -n 1 "$RESULTS/driver.log" >&2
  db_rc=0
  "${DRIVER[@]}" check-db --state "$STATE" --tag "$tag" "${CHECK_DB[@]}" 2>>"$RESULTS/driver.log" || db_rc=$?
  tail -n 1 "$RESULTS/driver.log" >&2
  start_tessera "$PORT" "$DATA" "$TLOG" "$DB_URL"
  restart_ms=$TESSERA_READY_MS
  api_rc=0
  "${DRIVER[@]}" check-api --url "$TESSERA_URL" --state "$STATE" --tag "$tag" 2>>"$RESULTS/driver.log" || api_rc=$?
  tail -n 1 "$RESULTS/driver.log" >&2
  ((db_rc == 0 && api_rc == 0)) || FAILED=1
  python3 - "$STATE" "$tag" "$after" "$restart_ms" >>"$RESULTS/rounds.tsv" <<'PY'
import json, sys
state, tag, after, restart = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
it = next(i for i in state["iterations"] if i["tag"] == tag)
a, db, api = it["load"]["acked"], it.get("check_db", {}), it.get("check_api", {})
print("\t".join(str(x) for x in [tag, after, a["users.create"], a["auth.password"], a["refresh"],
      a["journey.invoke"], sum(it["load"]["unknown_outcome"].values()), db.get("lost"),
      db.get("families", {}).get("one_further_unacked"),
      f'{db.get("traces", {}).get("found")}/{db.get("traces", {}).get("invokes_acked")}',
      restart, api.get("lost")]))
PY
done

"${DRIVER[@]}" summary --state "$STATE" | tee "$RESULTS/summary.json"
stop_tessera
if grep -q '"level":"ERROR"' "$TLOG"; then
  log "tessera logged errors:"
  grep '"level":"ERROR"' "$TLOG" | cut -c1-300 | sort | uniq -c | sort -rn | head -n 10 >&2
fi
column -t "$RESULTS/rounds.tsv" >&2
if [[ $BACKEND == sqlite ]]; then
  python3 -c 'import sqlite3,sys; print("integrity_check:", sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' \
    "$DATA/tessera.db" | tee -a "$RESULTS/meta.txt"
fi
log "results in $RESULTS"
if ((FAILED)); then
  log "FAILED: acknowledged writes were lost (see $RESULTS/driver.log)"
  exit 1
fi
log "0 acknowledged writes lost over $KILLS kills"
