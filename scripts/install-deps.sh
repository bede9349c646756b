#!/usr/bin/env bash
# Installs every Debian 12 package iomodels needs to build, test, benchmark
# and plot. Idempotent: packages already present are skipped, and apt-get is
# only called when something is missing.
#
#   scripts/install-deps.sh            build + tests + bench + plots
#   scripts/install-deps.sh --peers    also the optional reference peers
#                                      (nginx-light, nodejs) and wrk
#   scripts/install-deps.sh --docker   also docker.io and docker-compose
set -euo pipefail

required=(
  build-essential cmake pkg-config git
  libboost-dev libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libhttp-parser-dev liburing-dev
  clang libclang-rt-14-dev clang-format
  python3 python3-matplotlib python3-numpy
  iproute2 procps util-linux curl strace
  linux-perf
)
optional_peers=(nginx-light wrk)
optional_docker=(docker.io docker-compose debootstrap)

want=("${required[@]}")
for arg in "$@"; do
  case "$arg" in
    --peers) want+=("${optional_peers[@]}") ;;
    --docker) want+=("${optional_docker[@]}") ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done

# Node.js is a peer, not a dependency: use the machine's node when there is
# one, install Debian's only when --peers asks and none is on PATH.
if [[ " $* " == *" --peers "* ]] && ! command -v node >/dev/null 2>&1; then
  missing+=(nodejs)
fi

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
