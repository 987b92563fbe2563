#!/usr/bin/env bash
# Run the hosted platform's official backend-auth samples against a fresh local Tessera.
#
#   compat/samples/run.sh [SAMPLES_CHECKOUT] [TESSERA_BINARY] [driver options...]
#
# SAMPLES_CHECKOUT  a checkout of TransmitSecurity/ciam-expressjs-vanilla-samples. Empty or
#                   omitted: clone $SAMPLES_REPO (default: the local mirror if present, else
#                   GitHub) into a temporary directory, removed afterwards.
# TESSERA_BINARY    the tessera binary to test. Empty or omitted: `cargo build -p tessera` in
#                   this repository and use its debug binary.
# driver options    --only a,b  (run some samples)  --logs DIR  (keep the servers' logs there)
#
# Dependencies are installed once per checkout, the way the samples' Dockerfile does it
# (yarn 1 at the root with the committed yarn.lock), and only when node_modules is missing.
# Needs git, Node 20 and npm (for npx). Prints one PASS/FAIL line per sample; exits 1 on a
# failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SAMPLES=${1:-}
BIN=${2:-}
shift $(( $# < 2 ? $# : 2 ))

TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT

if [ -z "$SAMPLES" ]; then
  MIRROR=/work/.mirror/TransmitSecurity+ciam-expressjs-vanilla-samples/repo
  if [ -z "${SAMPLES_REPO:-}" ]; then
    if [ -d "$MIRROR" ]; then SAMPLES_REPO=$MIRROR
    else SAMPLES_REPO=https://github.com/TransmitSecurity/ciam-expressjs-vanilla-samples.git; fi
  fi
  TMP=$(mktemp -d)
  echo "cloning $SAMPLES_REPO" >&2
  git clone -q "$SAMPLES_REPO" "$TMP/samples"
  SAMPLES=$TMP/samples
fi
SAMPLES=$(cd "$SAMPLES" && pwd)

if [ -z "$BIN" ]; then
  echo "building tessera (cargo build -p tessera)" >&2
  (cd "$REPO" && cargo build -q -p tessera)
  BIN=${CARGO_TARGET_DIR:-$REPO/target}/debug/tessera
fi

if [ ! -e "$SAMPLES/node_modules/@ciam-expressjs-vanilla-samples/shared" ]; then
  echo "installing the samples' dependencies (yarn 1, frozen lockfile)" >&2
  (cd "$SAMPLES" && nice -n 10 npx --yes yarn@1.22.22 install --frozen-lockfile \
      --ignore-scripts --non-interactive --silent) >&2
fi

echo "samples $(git -C "$SAMPLES" rev-parse HEAD 2>/dev/null || echo '(not a git checkout)')," \
  "tessera $("$BIN" --version 2>/dev/null || echo "$BIN")" >&2
rc=0
node "$HERE/drive.mjs" --samples "$SAMPLES" --tessera "$BIN" "$@" || rc=$?
exit $rc
