#!/usr/bin/env bash
# Builds every libFuzzer target with the `fuzz` preset (clang, build-fuzz/) and runs each one for
# WB_FUZZ_SECONDS seconds (default 10) from its seeds in tests/fuzz/corpus/<target>/. Fails on the
# first crash, leak, timeout or sanitizer report; the crashing input is kept under
# build-fuzz/fuzz-artifacts/<target>/ (turn it into a named unit test).
# New inputs the fuzzer finds go to a temporary directory, never into the repository.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds="${WB_FUZZ_SECONDS:-10}"
jobs="${WB_JOBS:-2}"
build="$root/build-fuzz"

(cd "$root" && cmake --preset fuzz >/dev/null)
cmake --build "$build" --target fuzz_targets -j "$jobs"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

shopt -s nullglob
targets=("$build"/tests/fuzz/*_fuzz)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "run_fuzz: no fuzz targets were built in $build/tests/fuzz" >&2
  exit 1
fi

for bin in "${targets[@]}"; do
  [[ -x "$bin" && -f "$bin" ]] || continue
  name="$(basename "$bin" _fuzz)"
  seeds="$root/tests/fuzz/corpus/$name"
  artifacts="$build/fuzz-artifacts/$name"
  mkdir -p "$work/$name" "$artifacts"
  corpora=("$work/$name")  # the first directory receives new inputs
  [[ -d "$seeds" ]] && corpora+=("$seeds")
  echo "run_fuzz: $name for ${seconds}s (seeds: ${seeds})"
  if ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
       -artifact_prefix="$artifacts/" "${corpora[@]}" >"$work/$name.log" 2>&1; then
    tail -n 60 "$work/$name.log" >&2
    echo "run_fuzz: $name FAILED; crashing input(s) in $artifacts/" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^Done ' "$work/$name.log" || true
done
echo "run_fuzz: all targets ran ${seconds}s without a crash"
