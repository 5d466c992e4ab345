#!/usr/bin/env bash
# Runs every fuzz target for a bounded time each (default 60 s), starting
# from the committed seed corpus in fuzz/corpus/<target> (read only; new
# inputs go to fuzz/work/<target>), and prints one line per target with its
# executions and findings. Crashes land in fuzz/artifacts/<target>/ and make
# the script fail; each becomes a regression test in the crate it hit.
#   fuzz/run.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
# libFuzzer needs no nightly-only sanitizer: coverage instrumentation only.
export RUSTC_BOOTSTRAP=1
status=0
printf '%-16s %12s %8s %s\n' target executions crashes seconds
for target in $(cargo fuzz list); do
  mkdir -p "work/$target" "artifacts/$target"
  log=$(mktemp)
  if cargo fuzz run --sanitizer none "$target" "work/$target" "corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
    crashes=0
  else
    crashes=$(find "artifacts/$target" -type f | wc -l)
    status=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
  printf '%-16s %12s %8s %s\n' "$target" "$execs" "$crashes" "$seconds"
  [ "$crashes" = 0 ] || tail -n 30 "$log"
  rm -f "$log"
done
exit "$status"
