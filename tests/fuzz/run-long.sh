#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Long fuzzing run: each libFuzzer target for SECONDS (default 600) with ASan and UBSan.
# A crash stops the run and leaves crash-* here; add it to tests/fuzz/corpus/TARGET/ so that
# every build replays it. Usage: tests/fuzz/run-long.sh [SECONDS]
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-fuzz}
SECONDS_EACH=${1:-600}

command -v clang >/dev/null || { echo "needs clang (apt-get install clang)" >&2; exit 1; }
CC=clang cmake -S "$ROOT" -B "$BUILD" -DKS_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target fuzz-state-file fuzz-endpoint >/dev/null

for target in state-file endpoint; do
  corpus="$BUILD/tests/fuzz/corpus-$target"
  mkdir -p "$corpus"
  echo "== fuzz-$target for ${SECONDS_EACH}s"
  "$BUILD/tests/fuzz/fuzz-$target" -max_total_time="$SECONDS_EACH" -timeout=5 -print_final_stats=1 \
    "$corpus" "$ROOT/tests/fuzz/corpus/$target" 2>&1 | grep -E '^(#|Done|stat::number_of_executed_units|SUMMARY)' | tail -3
done
