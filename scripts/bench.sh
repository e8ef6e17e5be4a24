#!/usr/bin/env bash
# Benchmarks: release build, throwaway loopback redis-server + PostgreSQL (as scripts/test.sh
# starts them), then `agentos bench`. Figures go to stdout and docs/bench-latest.json.
# Usage: scripts/bench.sh [agentos bench options...]
# AGENTOS_SCRATCH=DIR builds in DIR instead of .build (for several engineers building in one tree).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_apt_packages "${BUILD_DEPS[@]}"
ensure_swift
cd "$REPO_ROOT"
SCRATCH="${AGENTOS_SCRATCH:-$REPO_ROOT/.build}"
swift build -c release --product agentos --scratch-path "$SCRATCH" >&2
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
AGENTOS_TEST_ONLY_SERVERS=1 \
AGENTOS_TEST_CMD="'$SCRATCH/release/agentos' bench --redis \"\$AGENTOS_TEST_REDIS_URL\" --postgres \"\$AGENTOS_TEST_POSTGRES_URL\" --json '$REPO_ROOT/docs/bench-latest.json'$args" \
  bash "$REPO_ROOT/scripts/test.sh" | grep -v '^AGENTOS_TEST_'
