#!/usr/bin/env bash
# Smoke test of the network mode (issue 8's check): `bench.py --network netns`
# runs the smoke profile's hello points on emulated hosts, a server and two
# load generators each in a network namespace of its own, the server's link
# limited by tc tbf. Passes when every merged result equals the sum of its
# parts (requests, status and error counts, every histogram bucket; the
# bench checks it into point.json's merge_check, and this script checks it
# again from the files) and no namespace or veth of the run is left
# afterwards.
#
#   scripts/netns_smoke.sh [BUILD_DIR]     (default: build; needs root)
#
# Exit 0 pass, 1 fail, 77 skipped (not root: ctest's SKIP_RETURN_CODE).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
case "${1:-}" in -h|--help) sed -n '2,12p' "$0"; exit 0 ;; esac
build=$(cd "${1:-$repo/build}" 2>/dev/null && pwd) || { echo "netns_smoke: no build folder ${1:-$repo/build}" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then echo "netns_smoke: SKIP: needs root for veth pairs"; exit 77; fi

py=/usr/bin/python3
out=$(mktemp -d /tmp/iomodels-netns-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
links() { ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//' | sort; }
# Namespaces named by netns.py for process $1 (its names carry the pid).
left_by() { ip netns list | awk '{print $1}' | grep "^iom-$1-" || true; }
failures=()
links_before=$(links)

# 1. The bench itself.
"$py" "$repo/scripts/bench.py" --profile smoke --build "$build" --network netns --clients 2 \
  --rate-limit 1gbit --models epoll --scenarios hello --no-peers --no-micro --out "$out" --run-id bench \
  >"$out/bench.log" 2>&1 &
bench_pid=$!
wait "$bench_pid" || failures+=("bench.py exited $? (see below)")
[ -n "$(left_by "$bench_pid")" ] && failures+=("bench.py left namespaces: $(left_by "$bench_pid" | tr '\n' ' ')")
"$py" - "$repo/scripts" "$out/bench/points" <<'EOF' || failures+=("bench.py: merged != sum of parts")
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from benchlib.merge import check
merged_points = 0
for point in sorted(Path(sys.argv[2]).iterdir()):
    parts = sorted(point.glob("loadgen-*.json"))
    if not parts:
        continue
    c = check(json.loads((point / "loadgen.json").read_text()),
              [json.loads(p.read_text()) for p in parts])
    recorded = json.loads((point / "point.json").read_text()).get("merge_check")
    if recorded is None or recorded["mismatches"] != c["mismatches"]:
        print(f"bench {point.name}: point.json's merge_check {recorded} disagrees")
        sys.exit(1)
    merged_points += 1
    print(f"bench {point.name}: {len(parts)} loadgens {c['parts_requests']} -> "
          f"{c['merged_requests']} requests; " + ("; ".join(c["mismatches"]) or "merged == sum of parts"))
    if c["mismatches"]:
        sys.exit(1)
if merged_points == 0:
    print("bench: no point ran with two load generators")
    sys.exit(1)
EOF

links_after=$(links)
[ "$links_before" = "$links_after" ] ||
  failures+=("host links changed: $(diff <(echo "$links_before") <(echo "$links_after") | tr '\n' ' ')")

if ((${#failures[@]})); then
  tail -20 "$out/bench.log"
  printf 'netns_smoke: FAIL: %s\n' "${failures[@]}"
  echo "netns_smoke: 0 passed, 1 failed"
  exit 1
fi
echo "netns_smoke: no namespace or veth left; host links as before"
echo "netns_smoke: 1 passed, 0 failed"
