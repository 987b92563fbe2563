#!/bin/sh
# Runs fuzz targets two at a time under `nice -n 10` (the machine is shared), each for
# $FUZZ_SECONDS (default 600), then minimises each corpus with `cargo fuzz cmin`.
# Usage: ./run.sh [TARGET...]   (default: every target). Logs: logs/<target>.log (ignored).
# Needs cargo-fuzz and either a nightly toolchain or RUSTC_BOOTSTRAP=1 (set here).
set -eu
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1 CARGO_BUILD_JOBS=2
SECONDS_EACH=${FUZZ_SECONDS:-600}
[ $# -gt 0 ] || set -- parse eval journey_yaml journey_json jose form_basic

max_len() {
  case $1 in
    parse|eval) echo 512 ;;
    form_basic) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  mkdir -p "corpus/$1" "artifacts/$1" logs
  nice -n 10 cargo fuzz run -O "$1" "corpus/$1" "seeds/$1" -- \
    -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$1")" -timeout=10 \
    -rss_limit_mb=1024 -print_final_stats=1 > "logs/$1.log" 2>&1
  nice -n 10 cargo fuzz cmin -O "$1" "corpus/$1" -- -max_len="$(max_len "$1")" \
    > "logs/$1.cmin.log" 2>&1
}

nice -n 10 cargo fuzz build -O
while [ $# -gt 0 ]; do
  first=$1; shift
  if [ $# -gt 0 ]; then
    second=$1; shift
    run_one "$first" & pid=$!
    status=0
    run_one "$second" || status=$?
    wait "$pid" || status=$?
    [ "$status" -eq 0 ] || echo "a run failed (see logs/$first.log, logs/$second.log)" >&2
  else
    run_one "$first" || echo "a run failed (see logs/$first.log)" >&2
  fi
done
