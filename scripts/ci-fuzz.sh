#!/usr/bin/env bash
# CI: every libFuzzer target for a bounded time on its checked-in corpus, then
# a replay of the corpus (past crashes stay fixed). A thin wrapper over
# fuzz/run.sh, which has the details; clang builds in build-fuzz.
set -euo pipefail
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  echo "usage: scripts/ci-fuzz.sh [SECONDS]   (default 60 per target; see fuzz/run.sh --help)"
  exit 0
fi
exec "$(cd "$(dirname "$0")/.." && pwd)/fuzz/run.sh" "${1:-60}"
