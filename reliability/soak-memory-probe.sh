#!/usr/bin/env bash
# The memory probe of RELIABILITY.md (Soak): Tessera's VmRSS after each kind of request.
#
# Usage: reliability/soak-memory-probe.sh [MIX...]      (default: cc journey refresh login)
#
# One Tessera on SQLite; soak-setup.py (256 user creates, 128 refresh chains); then for each
# MIX (cc, journey, refresh, login) 5 s of soak-load at 64 connections with only that
# operation, and VmRSS and the thread count after it. Run it with and without
# MALLOC_MMAP_THRESHOLD_=1048576 to compare (argon2's 19 MiB blocks and glibc's dynamic mmap
# threshold). Environment: SOAK_LOAD_BIN and common.sh's.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SOAK_LOAD_BIN=${SOAK_LOAD_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/soak-load}
[[ -x $TESSERA_BIN ]] || die "no Tessera binary at $TESSERA_BIN (cargo build --release -p tessera)"
[[ -x $SOAK_LOAD_BIN ]] || die "no soak-load at $SOAK_LOAD_BIN"
MIXES=("$@")
((${#MIXES[@]})) || MIXES=(cc journey refresh login)
export TESSERA_RATE_LIMITS__AUTH_PER_CLIENT=1000000/60
export TESSERA_RATE_LIMITS__AUTH_PER_IDENTIFIER=1000000/60
WORK=$(mktemp -d /tmp/reliability-probe.XXXXXX)
CLEANUP_DIRS+=("$WORK")
rss() {
  printf '%-28s %8.1f MiB  %s threads\n' "$1" "$(awk '/VmRSS/ {print $2 / 1024}' "/proc/$TESSERA_PID/status")" \
    "$(awk '/Threads/ {print $2}' "/proc/$TESSERA_PID/status")"
}
echo "MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-unset}"
start_tessera "$(free_port)" "$WORK/data" "$WORK/tessera.log"
rss start
python3 "$REL_DIR/soak-setup.py" --url "$TESSERA_URL" --out-prefix "$WORK/setup" --chains 64 --users 256 2>/dev/null
rss "after 256 user creates"
for m in "${MIXES[@]}"; do
  "$SOAK_LOAD_BIN" --url "$TESSERA_URL" --setup "$WORK/setup-max.json" --seconds 5 --interval 100 \
    --mix "$m:1" | tail -n 1 | python3 -c 'import json, sys
r = json.loads(sys.stdin.read())
print("  %s: %.0f ok/s, %d non-2xx, %d errors" % (sys.argv[1], r["ok_per_s"], r["non2xx"], r["errors"]))' "$m"
  rss "after 5 s of $m"
done
