#!/usr/bin/env bash
# Malformed requests (issue 10): the generator of crates/tessera/tests/it/generator/ sends
# REQUESTS requests (default 10,000) built from the route table to a fresh Tessera per backend
# and checks every answer: below 500, the documented JSON error format, no hang, no dropped
# connection, the server still answering /healthz and shutting down cleanly afterwards. It is
# the end-to-end test `malformed::malformed_requests_get_documented_errors_and_never_a_5xx`
# (CI runs it with 1,000 requests), run here with more.
#
# Usage: reliability/malformed.sh [sqlite|postgres|both] [REQUESTS] [SEED]
#
# PostgreSQL: the test harness creates (and drops) a scratch database on
# TESSERA_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test). The seed
# defaults to one from the clock; it is printed, and the same seed gives the same requests.
# Results: reliability/results/malformed-<time>/ (the test's output and summary.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

BACKEND=${1:-both}
REQUESTS=${2:-10000}
SEED=${3:-$(date +%s%N | cut -c1-15)}
case $BACKEND in sqlite | postgres | both) ;; *) die "usage: $0 [sqlite|postgres|both] [REQUESTS] [SEED]" ;; esac

RESULTS=$(results_dir malformed)
export MALFORMED_REQUESTS=$REQUESTS MALFORMED_SEED=$SEED
if [[ $BACKEND == both || $BACKEND == postgres ]]; then
  export TESSERA_TEST_POSTGRES_URL=${TESSERA_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
else
  unset TESSERA_TEST_POSTGRES_URL
fi
[[ $BACKEND == both ]] || export MALFORMED_BACKEND=$BACKEND

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD) ($(git -C "$ROOT" status --porcelain | wc -l) changed files)"
  echo "backend: $BACKEND; requests per backend: $REQUESTS; seed: $SEED"
  echo "command: MALFORMED_REQUESTS=$REQUESTS MALFORMED_SEED=$SEED${MALFORMED_BACKEND:+ MALFORMED_BACKEND=$MALFORMED_BACKEND} cargo test -j 2 -p tessera --test it malformed::malformed_requests -- --nocapture"
} | tee "$RESULTS/meta.txt" >&2

log "building and running the generator ($REQUESTS requests per backend, seed $SEED)"
start=$(date +%s)
status=0
(cd "$ROOT" && cargo test -j 2 -p tessera --test it malformed::malformed_requests -- --nocapture) \
  >"$RESULTS/test.log" 2>&1 || status=$?
elapsed=$(($(date +%s) - start))

# The tables the test prints, one per backend.
awk '/^=== malformed requests:/{p=1} /^running for|^test malformed::/{p=0} p' "$RESULTS/test.log" >"$RESULTS/summary.md"
echo "elapsed (build and run): ${elapsed}s; exit status: $status" >>"$RESULTS/summary.md"
cat "$RESULTS/summary.md"
if [[ $status -ne 0 ]]; then
  grep -A40 -m1 "failed (seed" "$RESULTS/test.log" >&2 || tail -n 60 "$RESULTS/test.log" >&2
  die "the generator found failures (or the test could not run); see $RESULTS/test.log"
fi
log "no failures; results in $RESULTS"
