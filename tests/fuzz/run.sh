#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build (make fuzz) for RUNS inputs each, from its seed corpus and regressions.
# New inputs go to a scratch corpus (the committed seeds stay as they are); a crash stops that target, is copied to
# tests/fuzz/regressions/TARGET/ (the ctest fuzz_replay.TARGET then replays it in every build), and fails the run.
#   usage: tests/fuzz/run.sh BUILD_DIR [RUNS] [TARGET...]
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:?usage: run.sh BUILD_DIR [RUNS] [TARGET...]}"
runs="${2:-10000}"
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for source in "$here"/fuzz_*.cpp; do name=$(basename "$source" .cpp); targets+=("${name#fuzz_}"); done
fi
scratch="$build/fuzz-work"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
failed=0
printf '%-22s %10s %8s %10s  %s\n' target inputs seconds corpus result
for name in "${targets[@]}"; do
  binary="$build/fuzz_$name"
  [ -x "$binary" ] || { echo "$binary missing: build with make fuzz" >&2; exit 2; }
  work="$scratch/$name"
  rm -rf "$work" && mkdir -p "$work/corpus" "$work/crashes"
  regressions="$here/regressions/$name"
  mkdir -p "$regressions"
  log="$work/log.txt"
  started=$(date +%s.%N)
  # -rss_limit_mb: an input that makes a parser allocate gigabytes is a finding too; -timeout: so is one that hangs.
  "$binary" -runs="$runs" -max_len=16384 -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
    -dict="$here/json.dict" -artifact_prefix="$work/crashes/" "$work/corpus" "$here/corpus/$name" "$regressions" \
    >"$log" 2>&1
  rc=$?
  seconds=$(awk "BEGIN { print $(date +%s.%N) - $started }")
  inputs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
  corpus=$(ls "$work/corpus" | wc -l)
  result=ok
  if [ $rc -ne 0 ]; then
    result="FAILED (exit $rc; $log)"
    failed=1
    for crash in "$work"/crashes/*; do
      [ -f "$crash" ] && cp "$crash" "$regressions/" && result="$result; kept $(basename "$crash") in regressions/$name"
    done
  fi
  printf '%-22s %10s %8.1f %10s  %s\n' "$name" "${inputs:-?}" "$seconds" "$corpus" "$result"
done
exit $failed
