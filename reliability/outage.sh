#!/usr/bin/env bash
# Database outage: PostgreSQL stopped for DOWN seconds under load, then started again.
#
# Usage: reliability/outage.sh [DOWN_SECONDS]     (default 30)
#
# Runs the script's own cluster on REL_PG_PORT (default 55432; the shared server on 5432 is
# never touched), a fresh database, one Tessera node on it, and driver.py load --mode outage:
# the crash load's writes (user creates with password logins, refresh rotations, journey
# invokes), plus reads that need the database (a user by id), client_credentials tokens
# (served from caches, no database) and GET /readyz every 250 ms. Failed requests are retried
# after 50 ms (a refresh retries the same token). Phases, by the time a request started:
#   before    10 s of load with the database up
#   locked    1 s before the stop, a psql session locks the users table (ACCESS EXCLUSIVE), so
#             requests that touch users (creates, logins, reads) are in flight, blocked inside
#             a statement, when the server stops (REL_INFLIGHT=0 skips this phase)
#   stopping  pg_ctl stop -m fast running (connections terminated, transactions aborted)
#   down      DOWN seconds with the database stopped
#   starting  pg_ctl start running, until it accepts connections
#   after     20 s with the database back, Tessera not restarted
# Expected: 503 service_unavailable (never 500) and /readyz 503 while it is down; 2xx again
# after; every acknowledged write present (driver.py check-db with psql, then check-api).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DOWN=${1:-30}
INFLIGHT=${REL_INFLIGHT:-1}
BEFORE=${REL_BEFORE_SECONDS:-10}
AFTER=${REL_AFTER_SECONDS:-20}
[[ -x $TESSERA_BIN ]] || die "no Tessera binary at $TESSERA_BIN (cargo build --release -p tessera)"

RESULTS=$(results_dir outage-postgres)
WORK=$(mktemp -d /tmp/reliability-outage.XXXXXX)
CLEANUP_DIRS+=("$WORK")
STATE=$RESULTS/state.json
TLOG=$RESULTS/tessera.log
PHASE=$WORK/phase
STOP=$WORK/stop
PORT=$(free_port)
export TESSERA_KEY_ENCRYPTION_KEY=$(openssl rand -base64 32)

pg_init_cluster "$WORK/pg"
pg_start_cluster
DBNAME=tessera_outage_$(date -u +%Y%m%d%H%M%S)
pg_createdb "$DBNAME"
DB_URL=$PG_URL_BASE/$DBNAME
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) changed files)"
  echo "binary: $TESSERA_BIN"
  echo "postgres: $("$REL_PG_BIN/postgres" --version), own cluster on port $REL_PG_PORT, fresh database $DBNAME"
  echo "phases: before ${BEFORE}s, down ${DOWN}s, after ${AFTER}s"
  echo "cpu: $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$RESULTS/meta.txt"
sed 's/^/outage: /' "$RESULTS/meta.txt" >&2

"$TESSERA_BIN" migrate --database-url "$DB_URL" --issuer "http://127.0.0.1:$PORT" --data-dir "$WORK/data" >>"$TLOG" 2>&1 ||
  die "tessera migrate failed"
start_tessera "$PORT" "$WORK/data" "$TLOG" "$DB_URL"
PID_AT_START=$TESSERA_PID
log "tessera ready (pid $TESSERA_PID) at $TESSERA_URL"
"${DRIVER[@]}" setup --url "$TESSERA_URL" --state "$STATE"

phase() {
  echo "$1" >"$PHASE"
  echo "{\"phase\": \"$1\", \"at\": \"$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)\"}" >>"$TLOG"
  printf '%s\t%s\n' "$1" "$(date -u +%H:%M:%S.%3N)" >>"$RESULTS/phases.tsv"
  log "phase $1"
}

: >"$RESULTS/phases.tsv"
phase before
"${DRIVER[@]}" load --url "$TESSERA_URL" --state "$STATE" --tag outage --mode outage \
  --seconds $((BEFORE + DOWN + AFTER + 120)) --phase-file "$PHASE" --stop-file "$STOP" \
  --summary-out "$RESULTS/load.json" 2>>"$RESULTS/driver.log" &
driver=$!
sleep "$BEFORE"
if ((INFLIGHT)); then
  phase locked
  "$REL_PG_BIN/psql" "$DB_URL" -X -q -c "BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600)" \
    >/dev/null 2>&1 &
  sleep 1
  "$REL_PG_BIN/psql" "$DB_URL" -X -At -c "SELECT count(*) || ' statements waiting on a lock at the stop' \
    FROM pg_stat_activity WHERE wait_event_type = 'Lock'" | tee -a "$RESULTS/meta.txt" >&2
fi
phase stopping
pg_stop_cluster
phase down
sleep "$DOWN"
phase starting
pg_start_cluster
phase after
sleep "$AFTER"
touch "$STOP"
wait "$driver" || die "the load generator failed (see $RESULTS/driver.log)"
tail -n 1 "$RESULTS/driver.log" >&2

[[ $TESSERA_PID == "$PID_AT_START" ]] && kill -0 "$TESSERA_PID" ||
  die "tessera is not the process started before the outage"
db_rc=0
"${DRIVER[@]}" check-db --state "$STATE" --tag outage --psql-url "$DB_URL" 2>>"$RESULTS/driver.log" || db_rc=$?
tail -n 1 "$RESULTS/driver.log" >&2
api_rc=0
"${DRIVER[@]}" check-api --url "$TESSERA_URL" --state "$STATE" --tag outage 2>>"$RESULTS/driver.log" || api_rc=$?
tail -n 1 "$RESULTS/driver.log" >&2
stop_tessera

python3 "$REL_DIR/report.py" phases "$RESULTS/load.json" | tee "$RESULTS/phases.txt"
grep -E '"level":"(ERROR|WARN)"' "$TLOG" | python3 "$REL_DIR/report.py" log-messages >"$RESULTS/log-messages.txt" || true
log "tessera warnings and errors (count, level, message):"
head -n 20 "$RESULTS/log-messages.txt" >&2
log "results in $RESULTS"
((db_rc == 0 && api_rc == 0)) || { log "FAILED: acknowledged writes lost, or not verifiable through the API (see driver.log)"; exit 1; }
