#!/usr/bin/env bash
# Smoke test of the network mode: a server and two load generators on
# emulated hosts (network namespaces joined by a switch), their JSON merged
# with `loadgen --merge`. Passes when the merged counts equal the sum of the
# parts and no namespace or veth of the run is left afterwards.
#
#   scripts/netns_smoke.sh [BUILD_DIR]     (default: build; needs root)
#
# Exit 0 pass, 1 fail, 77 skipped (not root / no namespaces: ctest's
# SKIP_RETURN_CODE convention).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$repo/build}
[ "${1:-}" = "-h" ] || [ "${1:-}" = "--help" ] && { sed -n '2,10p' "$0"; exit 0; }
[ -d "$build" ] || { echo "netns_smoke: no build folder $build" >&2; exit 2; }
if [ "$(id -u)" -ne 0 ]; then echo "netns_smoke: SKIP: needs root for veth pairs"; exit 77; fi

py=/usr/bin/python3
out=$(mktemp -d /tmp/iomodels-netns-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
links_before=$(ip -o link | awk -F': ' '{print $2}' | sort)

status=0
"$py" "$repo/scripts/benchlib/network_mode.py" --build "$build" --out "$out" \
  --clients 2 --connections 10 --duration 2s --rate-limit 1gbit || status=$?

links_after=$(ip -o link | awk -F': ' '{print $2}' | sort)
left=$(ip netns list | awk '{print $1}' | grep -Fx -f <("$py" -c '
import json, sys
print("\n".join(json.load(open(sys.argv[1])).get("namespaces", [])))' "$out/network.json" 2>/dev/null) || true)

fail() { echo "netns_smoke: FAIL: $*"; exit 1; }
[ "$status" -eq 0 ] || fail "network_mode.py exited $status"
[ -f "$out/network.json" ] || fail "no network.json"
[ -z "$left" ] || fail "namespaces left behind: $left"
[ "$links_before" = "$links_after" ] || fail "host links changed: $(diff <(echo "$links_before") <(echo "$links_after"))"
echo "netns_smoke: 1 passed, 0 failed"
