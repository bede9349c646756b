#!/usr/bin/env bash
# Builds the libFuzzer targets with clang in a build folder of their own and
# runs each for a bounded time on its checked-in corpus (fuzz/corpus/<name>/),
# then replays every corpus input once (the regression inputs of past crashes).
set -euo pipefail

usage() {
  cat <<USAGE
usage: fuzz/run.sh [SECONDS] [--build DIR] [--only NAME]

  SECONDS       how long each fuzz target runs (default 60)
  --build DIR   clang build folder (default build-fuzz at the repository root)
  --only NAME   run only fuzz_NAME (request, request_differential, output_queue,
                response)

Needs clang and libclang-rt-14-dev (libFuzzer). The whole project is compiled
with -fsanitize=fuzzer-no-link,address,undefined so that the protocol and
load-generator libraries report coverage and memory errors. New corpus
entries land in DIR/fuzz/corpus-fuzz_NAME, crash inputs in DIR/fuzz/NAME-crash-*;
add a crash input to fuzz/corpus/NAME/ once it is fixed.
USAGE
}

root="$(cd "$(dirname "$0")/.." && pwd)"
seconds=60
build="$root/build-fuzz"
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --build) build="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    [0-9]*) seconds="$1"; shift ;;
    *) echo "fuzz/run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if ! command -v clang++ >/dev/null; then
  echo "fuzz/run.sh: clang++ not found (apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi

# -fsanitize=fuzzer-no-link: coverage instrumentation for libFuzzer in every
# library, without a second main(). UBSan findings must abort to be reported.
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DIOMODELS_SANITIZE=address,undefined \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" \
  -DIOMODELS_FUZZ_SECONDS="$seconds" >/dev/null

targets=$(cd "$root/fuzz/corpus" && ls)
[[ -n "$only" ]] && targets="$only"
known=$(cmake --build "$build" --target help)
build_targets=()
for t in $targets; do
  # fuzz/CMakeLists.txt defines fuzz_response only once loadgen's parser exists.
  if grep -q "fuzz_$t\$" <<<"$known"; then
    build_targets+=("fuzz_$t")
  fi
done
if [[ ${#build_targets[@]} -eq 0 ]]; then
  echo "fuzz/run.sh: no fuzz target to build (is this clang?)" >&2
  exit 2
fi
nice cmake --build "$build" -j2 --target "${build_targets[@]}"

# ASan's leak check is on; a detected leak fails the run like a crash does.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
regex=$(IFS='|'; echo "^(${build_targets[*]})(_corpus)?\$")
status=0
touch "$build/.fuzz-start"
(cd "$build" && ctest --output-on-failure -L fuzz -R "$regex") || status=$?
# The figures docs/hostile.md quotes: executions, coverage, corpus per target.
echo "== fuzzing summary (libFuzzer's last line per run)"
grep -E '^[0-9]+/[0-9]+ Testing: |#[0-9]+[[:space:]]+DONE' "$build/Testing/Temporary/LastTest.log" \
  | sed -E 's/^[0-9]+\/[0-9]+ Testing: /  /' || true
crashes=$(find "$build/fuzz" -maxdepth 1 -name '*-crash-*' -newer "$build/.fuzz-start")
if [[ -n "$crashes" ]]; then
  echo "$crashes"
  echo "crash inputs above: fix the bug, then add the input to fuzz/corpus/<name>/"
fi
exit "$status"
