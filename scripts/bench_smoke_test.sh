#!/bin/sh
# The whole bench pipeline end to end at tiny scale (ctest runs this):
# every model and scenario measured, then summary.csv, the plots and
# REPORT.md, then a redraw from the raw files alone. It checks that the
# pipeline works, not how fast anything is.
#   scripts/bench_smoke_test.sh BUILD_DIR
set -eu
build=${1:?usage: bench_smoke_test.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
out=$(mktemp -d "${TMPDIR:-/tmp}/iomodels-bench-smoke.XXXXXX")
trap 'rm -rf "$out"' EXIT

"$python" "$here/bench.py" --profile smoke --build "$build" --out "$out" --run-id smoke --no-micro
run="$out/smoke"
"$python" "$here/bench_smoke_check.py" "$run"
# The redraw must work from the raw files alone: remove what it rebuilds.
rm -rf "$run/plots" "$run/summary.csv" "$run/REPORT.md"
"$python" "$here/bench.py" --plots-only "$run"
"$python" "$here/bench_smoke_check.py" "$run"
echo "bench smoke: ok"
