#!/bin/sh
# Helper used during development: builds and runs both targets for 5 minutes each, in parallel.
export CARGO_TARGET_DIR=/work/main/fuzz/target
cargo +nightly fuzz build -O && {
  cargo +nightly fuzz run -O parse corpus/parse seeds/parse -- -max_total_time=300 -max_len=512 > /tmp/fuzz-parse.log 2>&1 &
  cargo +nightly fuzz run -O eval corpus/eval seeds/eval -- -max_total_time=300 -max_len=512 -rss_limit_mb=1024 > /tmp/fuzz-eval.log 2>&1 &
  wait
}
