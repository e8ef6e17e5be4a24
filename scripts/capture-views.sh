#!/usr/bin/env bash
# Captures each of the eight views from the real binary (embedded default, fixed seed) as text,
# for the README's tour. Usage: scripts/capture-views.sh [OUT_DIR] (default docs/views)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-docs/views}"
BIN="${AGENTOS_BINARY:-.build/debug/agentos}"
[[ -x $BIN ]] || swift build --product agentos >&2
mkdir -p "$OUT"
DATA="$(mktemp -d)"
SOCK="agentos-capture-$$"
trap 'tmux -L "$SOCK" kill-server 2>/dev/null || true; rm -rf "$DATA"' EXIT
tmux -L "$SOCK" -f /dev/null new-session -d -x 110 -y 30 "env LANG=C.UTF-8 AGENTOS_DATA_DIR=$DATA $BIN --seed 7"
sleep 3
names=(dashboard jobs system workers managers logs config analytics)
for i in "${!names[@]}"; do
  tmux -L "$SOCK" send-keys "$((i + 1))"
  sleep 1.2
  tmux -L "$SOCK" capture-pane -p | sed -e 's/[[:space:]]*$//' > "$OUT/${names[$i]}.txt"
done
tmux -L "$SOCK" send-keys q
echo "captured ${#names[@]} views into $OUT"
