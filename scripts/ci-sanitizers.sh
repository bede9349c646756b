#!/usr/bin/env bash
# CI: the test suite under sanitizers, each build in a folder of its own.
#   asan: the whole project with AddressSanitizer + UndefinedBehaviorSanitizer
#         (build-asan), every ctest test.
#   tsan: the whole project with ThreadSanitizer (build-tsan), the tests of the
#         multi-threaded code: the black-box and hostile suites of every model
#         the registry (servers/models.json) marks "threads": true, and the load
#         generator's tests.
# A sanitizer report fails the test that triggered it (halt_on_error), so a
# green run means no report. About 10 + 10 minutes on the 2-core dev box.
set -euo pipefail

usage() {
  cat <<USAGE
usage: scripts/ci-sanitizers.sh [asan|tsan|all] [--jobs N]

  asan    build-asan: -DIOMODELS_SANITIZE=address,undefined, run all ctest tests
  tsan    build-tsan: -DIOMODELS_SANITIZE=thread, run the tests matching
          \$TSAN_TESTS (default: $default_tsan_tests)
  all     both (the default)
  --jobs  parallel build jobs and ctest jobs (default 2)
USAGE
}

root="$(cd "$(dirname "$0")/.." && pwd)"

# The registry's models with "threads": true, one "name binary" per line.
threaded_models() {
  /usr/bin/python3 - "$root/servers/models.json" <<'PY'
import json, sys
for model in json.load(open(sys.argv[1]))["models"]:
    if model["threads"]:
        print(model["name"], model["binary"])
PY
}
threaded_names=$(threaded_models | cut -d' ' -f1 | paste -sd'|')
threaded_binaries=$(threaded_models | cut -d' ' -f2 | paste -sd' ')

# ctest -R: the threaded models' suites (blackbox and hostile), and the load
# generator's tests (its worker threads).
default_tsan_tests="^(blackbox-($threaded_names)\$|hostile\.($threaded_names)\.|loadgen\.)"
what=all
jobs=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    asan|tsan|all) what="$1"; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    *) echo "ci-sanitizers.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

# The TSan run needs only these; building them alone saves the heavy
# benchmark targets (Boost.Beast) a second sanitizer compile.
tsan_targets="$threaded_binaries loadgen loadgen_unit_tests loadgen_run_tests blackbox_tests hostile_tests"

build() {  # build DIR SANITIZERS [TARGETS...]: the targets that exist, or all
  local dir="$1" sanitize="$2"
  shift 2
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIOMODELS_SANITIZE="$sanitize" >/dev/null
  local targets=() known
  if [[ $# -gt 0 ]]; then
    known=$(cmake --build "$dir" --target help)
    for t in "$@"; do
      grep -q "\.\.\. $t\$" <<<"$known" && targets+=(--target "$t")
    done
  fi
  nice cmake --build "$dir" -j "$jobs" "${targets[@]}"
}

run_asan() {
  echo "== ASan+UBSan: build-asan"
  build "$root/build-asan" address,undefined
  # UBSan only prints by default; halt_on_error makes a finding fail its test.
  # LeakSanitizer runs at each server's clean exit (SIGTERM), so a leak fails
  # the test that stopped it.
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    bash -c "cd '$root/build-asan' && ctest --output-on-failure -j '$jobs' -LE fuzz"
}

# ThreadSanitizer maps its shadow memory at fixed addresses. Kernels with
# more mmap randomisation bits (vm.mmap_rnd_bits > 28, the default of some
# newer distributions) can place the binary where the shadow must go, and
# every TSan program dies with "unexpected memory mapping". setarch -R turns
# address randomisation off for ctest and everything it starts.
tsan_prefix() {
  local probe="$root/build-tsan/tsan-probe"
  printf '#include <thread>\nint main(){int x=0; std::thread t([&]{x=1;}); t.join(); return x-1;}\n' \
    | "${CXX:-c++}" -x c++ -fsanitize=thread -o "$probe" - 2>/dev/null || { echo ""; return; }
  if "$probe" >/dev/null 2>&1; then
    echo ""
  elif setarch "$(uname -m)" -R "$probe" >/dev/null 2>&1; then
    echo "setarch $(uname -m) -R"
  else
    echo "ci-sanitizers.sh: TSan programs do not run on this kernel, even with setarch -R" >&2
    exit 1
  fi
}

run_tsan() {
  echo "== TSan: build-tsan"
  # shellcheck disable=SC2086
  build "$root/build-tsan" thread $tsan_targets
  local prefix
  prefix=$(tsan_prefix)
  [[ -n "$prefix" ]] && echo "(running under '$prefix': ASLR breaks TSan on this kernel)"
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    $prefix bash -c "cd '$root/build-tsan' && ctest --output-on-failure -j '$jobs' -R '${TSAN_TESTS:-$default_tsan_tests}'"
}

case "$what" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
esac
