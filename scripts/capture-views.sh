#!/usr/bin/env bash
# Captures each of the eight views from the real binary (embedded default, fixed seed) as text,
# for the README's tour, then two incident screens (issue 20): the "What changed" pane after an
# action, and a completed job's complete record. Usage: scripts/capture-views.sh [OUT_DIR]
# (default docs/views). With AGENTOS_REDIS_URL and AGENTOS_POSTGRES_URL set, the console is live.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-docs/views}"
BIN="${AGENTOS_BINARY:-.build/debug/agentos}"
[[ -x $BIN ]] || swift build --product agentos >&2
mkdir -p "$OUT"
DATA="$(mktemp -d)"
SOCK="agentos-capture-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$DATA"' EXIT
# A private state and configuration home: no palette history or configuration of the operator's.
tmux -L "$SOCK" -f /dev/null new-session -d -x 110 -y 30 \
  "env LANG=C.UTF-8 AGENTOS_DATA_DIR=$DATA XDG_STATE_HOME=$DATA/state XDG_CONFIG_HOME=$DATA/config $BIN --seed 7"
sleep 3
capture() { tmux -L "$SOCK" capture-pane -p | sed -e 's/[[:space:]]*$//' > "$OUT/$1.txt"; }
keys() { tmux -L "$SOCK" send-keys "$@"; }
palette() { keys ":"; keys -l "$1"; keys Enter; }
names=(dashboard jobs system workers managers logs config analytics)
for i in "${!names[@]}"; do
  keys "$((i + 1))"
  sleep 1.2
  capture "${names[$i]}"
done

# What changed: an operator action (pause the busiest queue, confirmed) among the fleet's changes.
keys 1
sleep 0.5
keys P
sleep 1
keys y
sleep 1.5
palette changes
sleep 1.2
capture changes

# A job's complete record: the first completed job's drill-down, taller so its attempts show.
tmux -L "$SOCK" resize-window -x 110 -y 62
palette jobs
sleep 0.5
keys /
keys -l completed
keys Enter
sleep 0.5
keys Enter
sleep 1.5
capture job-record
keys Escape Escape q
echo "captured ${#names[@]} views, changes and job-record into $OUT"
