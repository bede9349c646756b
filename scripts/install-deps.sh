#!/usr/bin/env bash
# Installs every Debian 12 package iomodels needs to build, test, benchmark
# and plot. Idempotent: packages already present are skipped, and apt-get is
# only called when something is missing.
#
#   scripts/install-deps.sh              build + tests + bench + plots, and
#                                        what the reference run compared
#                                        against: nginx-light, wrk and (when
#                                        no node is on PATH) nodejs
#   scripts/install-deps.sh --no-peers   leave out nginx-light, wrk, nodejs
#   scripts/install-deps.sh --docker     also docker.io and docker-compose
# (--peers, the old way to ask for the peers, is still accepted.)
set -euo pipefail

required=(
  build-essential cmake pkg-config git
  libboost-dev libboost-program-options-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libhttp-parser-dev liburing-dev
  clang libclang-rt-14-dev clang-format
  python3 python3-matplotlib python3-numpy
  iproute2 procps util-linux curl strace
  # Real clients of the black-box suite (tests/blackbox/conformance_test.cpp):
  # ab and h2load --h1 against every model; curl and python3 are above.
  apache2-utils nghttp2-client
  # perf: syscall counts and flame graphs (issue 17); the bench skips them without it.
  linux-perf
  # The bench across machines (deploy/ansible, issue 18): the playbook's engine,
  # and sshd/ssh for its test, which runs it over SSH against namespace hosts.
  ansible openssh-server openssh-client
)
# The reference peers: a fresh clone's `make bench` must reproduce the
# README's table, nginx and Node.js rows included (issue 14).
peers=(nginx-light wrk)
optional_docker=(docker.io docker-compose debootstrap)

want=("${required[@]}")
with_peers=1
for arg in "$@"; do
  case "$arg" in
    --peers) with_peers=1 ;;
    --no-peers) with_peers=0 ;;
    --docker) want+=("${optional_docker[@]}") ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

((with_peers)) && want+=("${peers[@]}")

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$pkg")
done

# Node.js: the machine's node when there is one (any recent version serves
# the peer's script), else Debian's.
if ((with_peers)) && ! command -v node >/dev/null 2>&1 && ! command -v nodejs >/dev/null 2>&1; then
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
