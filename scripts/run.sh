#!/usr/bin/env bash
# Build (release) and run agentos. Arguments are passed to the binary.
# Usage: scripts/run.sh [agentos args...]   (works from any directory)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt_packages "${BUILD_DEPS[@]}"
ensure_swift

cd "$REPO_ROOT"
# Build output goes to stderr so that agentos's own stdout stays clean.
swift build -c release --product agentos >&2

export LANG="${LANG:-C.UTF-8}"
exec .build/release/agentos "$@"
