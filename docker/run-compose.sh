#!/usr/bin/env bash
# Runs docker-compose.yml for real, end to end, and leaves the host as it was:
#
#   1. installs docker.io, docker-compose and debootstrap if missing (apt-get);
#   2. starts a private dockerd by hand (unless an engine already answers),
#      on its own socket and data root, without touching iptables, forwarding
#      or the default docker0 bridge;
#   3. builds the local Debian 12 base image and `docker-compose build`;
#   4. starts one server and N scaled loadgen containers for a few seconds,
#      then merges their JSON with `loadgen --merge` and checks the merged
#      counts are the sums of the parts;
#   5. stops dockerd BY ITS PID, removes what it left (bridges, iptables
#      chains, containerd shims, mounts) and compares `ip link`, the iptables
#      and nft rule sets and ip_forward with what they were before.
#
#   docker/run-compose.sh [--server server-epoll] [--loadgens 2]
#                         [--duration 5s] [--connections 50]
#                         [--bench PROFILE] [--purge]
#
# --bench PROFILE also runs the `bench` service (make bench PROFILE=...,
# e.g. smoke) in a container. Results go to $IOMODELS_RESULTS (default
# ./results). --purge also deletes the private data root (images, build
# cache) at the end; without it the next run reuses them.
# Exit status: 0 when the run, the merge check and the host check all pass.
set -euo pipefail

server=server-epoll loadgens=2 duration=5s connections=50 purge=0 bench=
usage() { sed -n '2,24p' "$0"; }
while (($#)); do
  case "$1" in
    --server) server=${2:?}; shift ;;
    --loadgens) loadgens=${2:?}; shift ;;
    --duration) duration=${2:?}; shift ;;
    --connections) connections=${2:?}; shift ;;
    --bench) bench=${2:?}; shift ;;
    --purge) purge=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "run-compose.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ $loadgens =~ ^[1-9][0-9]*$ ]] || { echo "run-compose.sh: --loadgens wants a count >= 1" >&2; exit 2; }
[[ $server =~ ^server-[a-z]+$ ]] || { echo "run-compose.sh: --server wants a service name like server-epoll" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run-compose.sh: needs root (dockerd, debootstrap)" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export IOMODELS_RESULTS=${IOMODELS_RESULTS:-$repo/results}
mkdir -p "$IOMODELS_RESULTS"
IOMODELS_RESULTS=$(cd "$IOMODELS_RESULTS" && pwd)
# A fixed project name: container and network names do not depend on what
# the checkout's folder is called.
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-iomodels}
state=$(mktemp -d /tmp/iomodels-compose.XXXXXX)
say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- host state
snapshot() {  # $1 = before|after. Counters and comments vary run to run: drop them.
  ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//' | sort >"$state/$1.links"
  { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } |
    grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]//' >"$state/$1.iptables" || true
  if command -v nft >/dev/null; then nft list ruleset >"$state/$1.nft" 2>&1 || true; else : >"$state/$1.nft"; fi
  sysctl -n net.ipv4.ip_forward >"$state/$1.forward"
}
snapshot before
say "host before: links: $(tr '\n' ' ' <"$state/before.links")"
echo "iptables rules: $(grep -c '^-A' "$state/before.iptables" || true), ip_forward=$(cat "$state/before.forward")"

# ---------------------------------------------------------------- packages
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# ---------------------------------------------------------------- engine
dockerd_pid=
# The kernel cuts a process name at 15 characters: containerd-shim-runc-v2
# shows as containerd-shim.
shims_before=$(pgrep -x containerd-shim || true)
data_root=/var/lib/iomodels-docker
exec_root=/run/iomodels-docker
# The daemon's containerd keeps its shim sockets in /run/containerd/s even
# with a private exec root: remove the folder afterwards unless it was there.
had_run_containerd=0; [ -e /run/containerd ] && had_run_containerd=1

stop_engine() {
  set +e
  [ -n "${IOMODELS_RUN:-}" ] && docker-compose down --remove-orphans >/dev/null 2>&1
  if [ -n "$dockerd_pid" ]; then
    say "stopping dockerd (pid $dockerd_pid)"
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 300); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$dockerd_pid" 2>/dev/null && { echo "dockerd ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$dockerd_pid"; }
    wait "$dockerd_pid" 2>/dev/null
    # Shims outlive containerd by design (so containers survive its restart).
    # Ours: new since the start, and pointing at our engine's exec root.
    for pid in $(pgrep -x containerd-shim); do
      grep -qx "$pid" <<<"$shims_before" && continue
      tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$exec_root/" || continue
      echo "killing leftover shim $pid"; kill -KILL "$pid"
    done
    # Mounts a killed daemon can leave (netns handles, overlay layers).
    grep -oE " ($exec_root|$data_root)[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$exec_root" /run/iomodels-docker.sock /run/iomodels-docker.pid
    ((had_run_containerd)) || rm -rf /run/containerd
    ((purge)) && { echo "removing $data_root"; rm -rf --one-file-system "$data_root"; }
    # Only after our own engine: with an engine that was already running,
    # its bridges and rules belong to it and stay.
    restore_host
  fi
}

restore_host() {
  # Bridges the engine made (docker0, br-<id> of compose networks).
  for link in $(ip -o link | awk -F': ' '{print $2}' | sed 's/@.*//'); do
    if [[ $link == docker0 || $link == br-* || $link == veth* ]] && ! grep -qx "$link" "$state/before.links"; then
      echo "removing link $link"; ip link del "$link"
    fi
  done
  # DOCKER* chains and their jump rules, only if they were not there before.
  for table in filter nat; do
    for chain in DOCKER-USER DOCKER-ISOLATION-STAGE-2 DOCKER-ISOLATION-STAGE-1 DOCKER; do
      grep -q "^:$chain " "$state/before.iptables" && continue
      iptables -t "$table" -S 2>/dev/null | grep -e "-j $chain\$" -e "-j $chain " | sed 's/^-A/-D/' |
        while read -r rule; do eval "iptables -t $table $rule"; done
      iptables -t "$table" -F "$chain" 2>/dev/null && iptables -t "$table" -X "$chain" 2>/dev/null &&
        echo "removed iptables chain $table/$chain"
    done
  done
  sysctl -q -w net.ipv4.ip_forward="$(cat "$state/before.forward")"
}
trap stop_engine EXIT
trap 'exit 130' INT TERM

if docker info >/dev/null 2>&1; then
  say "using the Docker engine that already runs (it is not stopped at the end)"
else
  say "starting dockerd by hand"
  # Private socket and roots: a system Docker, if any, is left alone. No
  # iptables, forwarding, masquerading or docker0: the containers only talk
  # to each other on their compose bridge, and the base image has every
  # package, so nothing needs to leave the machine.
  mkdir -p "$data_root" "$exec_root"
  dockerd --host unix:///run/iomodels-docker.sock --data-root "$data_root" \
    --exec-root "$exec_root" --pidfile /run/iomodels-docker.pid \
    --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
    ${IOMODELS_DOCKERD_ARGS:-} >"$state/dockerd.log" 2>&1 &
  dockerd_pid=$!
  export DOCKER_HOST=unix:///run/iomodels-docker.sock
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null 2>&1 || { tail -20 "$state/dockerd.log" >&2; echo "dockerd did not come up" >&2; exit 1; }
  echo "dockerd pid $dockerd_pid, $(docker version --format 'engine {{.Server.Version}}')"
fi

# ---------------------------------------------------------------- build
say "base image"
docker/make-base-image.sh 2>&1 | tail -3
say "docker-compose build"
docker-compose --version
# One build: every service uses the same image (iomodels:latest). Building a
# second service would rebuild if a source file changed in between.
docker-compose build "$server" >"$state/build.log" 2>&1 ||
  { tail -30 "$state/build.log" >&2; echo "run-compose.sh: docker-compose build failed" >&2; exit 1; }
grep -E '^(Step|Successfully)' "$state/build.log" | tail -15

# ---------------------------------------------------------------- run
export IOMODELS_RUN=compose-$(date -u +%Y%m%dT%H%M%SZ)
export IOMODELS_TARGET=$server IOMODELS_DURATION=$duration IOMODELS_CONNECTIONS=$connections
out=$IOMODELS_RESULTS/$IOMODELS_RUN
say "docker-compose up -d $server"
docker-compose up -d "$server"
say "docker-compose up -d --no-deps --scale loadgen=$loadgens loadgen   ($duration, $connections connections each)"
docker-compose up -d --no-deps --scale loadgen="$loadgens" loadgen
ids=$(docker-compose ps -q loadgen)
codes=$(docker wait $ids | tr '\n' ' ')
echo "loadgen exit codes: $codes"
docker-compose logs --no-color loadgen | grep -vE '^\S+\s+\|\s*$' | tail -40
docker-compose stop "$server"
docker-compose logs --no-color "$server" | tail -5
# init: true makes SIGTERM reach the server, which exits 0 (SPEC §4).
echo "$server exit code after docker-compose stop: $(docker inspect -f '{{.State.ExitCode}}' "$(docker-compose ps -q "$server")")"
docker-compose down --remove-orphans

# ---------------------------------------------------------------- merge
say "loadgen --merge"
parts=("$out"/loadgen-*.json)
((${#parts[@]} == loadgens)) || { echo "expected $loadgens result files in $out, found ${#parts[@]}" >&2; exit 1; }
rel=(); for p in "${parts[@]}"; do rel+=("/results/${p#"$IOMODELS_RESULTS"/}"); done
docker run --rm --network none -v "$IOMODELS_RESULTS:/results" iomodels:latest \
  loadgen --merge "${rel[@]}" --json "/results/$IOMODELS_RUN/merged.json" | tail -25
# The same exact-merge check as the bench's network mode.
/usr/bin/python3 - "$repo/scripts" "$out/merged.json" "${parts[@]}" <<'EOF'
import json, sys
sys.path.insert(0, sys.argv[1])
from benchlib.merge import check
c = check(json.load(open(sys.argv[2])), [json.load(open(p)) for p in sys.argv[3:]])
print("parts: " + ", ".join(f"{n} req {r:.0f} rps" for n, r in zip(c["parts_requests"], c["parts_rps"])))
print(f"merged: {c['merged_requests']} req {c['merged_rps']:.0f} rps, "
      f"p50 {c['merged_latency_us']['p50']} us, p99 {c['merged_latency_us']['p99']} us")
print("merge check: " + ("; ".join(c["mismatches"]) or "merged counts == sum of parts"))
sys.exit(1 if c["mismatches"] else 0)
EOF

# ---------------------------------------------------------------- bench
if [ -n "$bench" ]; then
  say "docker-compose --profile bench run --rm bench   (make bench PROFILE=$bench)"
  IOMODELS_PROFILE=$bench docker-compose --profile bench run --rm bench 2>&1 | tail -25
  docker-compose down --remove-orphans
fi

# ---------------------------------------------------------------- host after
stop_engine
trap - EXIT
snapshot after
say "host after"
ok=1
for f in links iptables nft forward; do
  if diff -u "$state/before.$f" "$state/after.$f"; then echo "$f: as before"; else ok=0; fi
done
rm -rf "$state"
((ok)) || { echo "run-compose.sh: the host's networking differs from before (diff above)" >&2; exit 1; }
echo "run-compose.sh: done; results in $out"
