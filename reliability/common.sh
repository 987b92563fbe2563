# Shared helpers of the reliability scripts (sourced, not run).
#
# Environment:
#   REL_TESSERA_BIN  the Tessera binary (default $CARGO_TARGET_DIR/release/tessera, else target/release/tessera)
#   REL_PG_BIN       PostgreSQL binaries for the scripts' own cluster (default /usr/lib/postgresql/<newest>/bin)
#   REL_PG_PORT      port of that cluster (default 55432); never the shared 5432
#   REL_RESULTS_DIR  where to write results (default reliability/results/<name>-<UTC timestamp>)

REL_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$REL_DIR/.." && pwd)
DRIVER=(python3 "$REL_DIR/driver.py")
TESSERA_BIN=${REL_TESSERA_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/tessera}
REL_PG_PORT=${REL_PG_PORT:-55432}
if [[ -z ${REL_PG_BIN:-} ]]; then
  REL_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
fi

log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $REL_PG_PORT == 5432 ]] && die "REL_PG_PORT must not be the shared cluster's 5432"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

random_secret() {
  python3 -c 'import secrets, string, sys; a=string.ascii_letters+string.digits; print("".join(secrets.choice(a) for _ in range(int(sys.argv[1]))))' "$1"
}

results_dir() { # results_dir NAME: creates and prints the results directory
  local d=${REL_RESULTS_DIR:-$REL_DIR/results/$1-$(date -u +%Y%m%dT%H%M%SZ)}
  mkdir -p "$d"
  printf '%s\n' "$d"
}

# Process bookkeeping: what these scripts start is stopped on exit, by its own pid.
TESSERA_PID=""
PG_DATA=""
PG_STARTED=""
CLEANUP_DIRS=()
CLEANUP_MOUNTS=()
cleanup() {
  if [[ -n $TESSERA_PID ]] && kill -0 "$TESSERA_PID" 2>/dev/null; then
    kill "$TESSERA_PID" 2>/dev/null || true
    wait "$TESSERA_PID" 2>/dev/null || true
  fi
  if [[ -n $PG_STARTED ]]; then
    pg_stop_cluster || true
  fi
  local m d
  for m in "${CLEANUP_MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || true
  done
  for d in "${CLEANUP_DIRS[@]}"; do
    rm -rf "$d"
  done
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Tessera

# Same admin client on every start (re-applied on each start).
export TESSERA_ADMIN_CLIENT_ID=${TESSERA_ADMIN_CLIENT_ID:-reliability-admin}
export TESSERA_ADMIN_CLIENT_SECRET=${TESSERA_ADMIN_CLIENT_SECRET:-$(random_secret 40)}
# A retry of a refresh whose answer was lost gets the same successor within this window; the
# crash check presents the last acknowledged token after the restart (see driver.py).
export TESSERA_TOKENS__REFRESH_REUSE_WINDOW_S=60

# start_tessera PORT DATA_DIR LOG [DATABASE_URL]: starts Tessera in the background (sets
# TESSERA_PID and TESSERA_URL) and waits until /readyz answers 200.
start_tessera() {
  local port=$1 data=$2 logfile=$3 db=${4:-}
  local args=(serve --listen "127.0.0.1:$port" --issuer "http://127.0.0.1:$port"
    --data-dir "$data" --log-format json)
  [[ -n $db ]] && args+=(--database-url "$db")
  "$TESSERA_BIN" "${args[@]}" >>"$logfile" 2>&1 &
  TESSERA_PID=$!
  TESSERA_URL=http://127.0.0.1:$port
  local start deadline
  start=$(date +%s%N)
  deadline=$((start + 60 * 1000000000))
  while :; do
    kill -0 "$TESSERA_PID" 2>/dev/null || { tail -n 20 "$logfile" >&2; die "tessera exited at start"; }
    if curl -fsS -o /dev/null --max-time 1 "$TESSERA_URL/readyz" 2>/dev/null; then
      TESSERA_READY_MS=$((($(date +%s%N) - start) / 1000000))
      return 0
    fi
    (($(date +%s%N) > deadline)) && { tail -n 20 "$logfile" >&2; die "tessera not ready after 60 s"; }
    sleep 0.05
  done
}

stop_tessera() { # SIGTERM: graceful
  [[ -n $TESSERA_PID ]] || return 0
  kill "$TESSERA_PID" 2>/dev/null || true
  wait "$TESSERA_PID" 2>/dev/null || true
  TESSERA_PID=""
}

kill9_tessera() {
  kill -9 "$TESSERA_PID"
  wait "$TESSERA_PID" 2>/dev/null || true
  TESSERA_PID=""
}

# ---------------------------------------------------------------------------------------------
# The scripts' own PostgreSQL cluster (never the shared one on 5432). initdb refuses root, so
# the cluster runs as the `postgres` user when the script runs as root.

as_pg() {
  if [[ $(id -u) == 0 ]]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# pg_init_cluster DIR: a new cluster in DIR (fsync and synchronous_commit at their defaults, on).
pg_init_cluster() {
  PG_DATA=$1
  mkdir -p "$PG_DATA"
  # The postgres user must reach it through the (private) temporary directory.
  chmod o+x "$(dirname "$PG_DATA")"
  [[ $(id -u) == 0 ]] && chown postgres: "$PG_DATA"
  chmod 0700 "$PG_DATA"
  as_pg "$REL_PG_BIN/initdb" -D "$PG_DATA/data" -U postgres -A trust -E UTF8 >"$PG_DATA/initdb.log" 2>&1 ||
    { cat "$PG_DATA/initdb.log" >&2; die "initdb failed"; }
  mkdir -p "$PG_DATA/sock"
  [[ $(id -u) == 0 ]] && chown postgres: "$PG_DATA/sock"
  PG_URL_BASE=postgres://postgres@127.0.0.1:$REL_PG_PORT
}

pg_start_cluster() {
  as_pg "$REL_PG_BIN/pg_ctl" -D "$PG_DATA/data" -l "$PG_DATA/server.log" -w -t 60 \
    -o "-p $REL_PG_PORT -k $PG_DATA/sock -c listen_addresses=127.0.0.1 -c max_connections=100" \
    start >/dev/null || { tail -n 20 "$PG_DATA/server.log" >&2; die "pg_ctl start failed"; }
  PG_STARTED=1
}

pg_stop_cluster() { # fast shutdown: active transactions are aborted, connections terminated
  as_pg "$REL_PG_BIN/pg_ctl" -D "$PG_DATA/data" -m fast -w -t 60 stop >/dev/null
  PG_STARTED=""
}

pg_createdb() { # pg_createdb NAME
  "$REL_PG_BIN/psql" "$PG_URL_BASE/postgres" -X -q -c "CREATE DATABASE \"$1\"" >/dev/null
}
