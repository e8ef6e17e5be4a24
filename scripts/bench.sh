#!/usr/bin/env bash
# Benchmarks: release build, throwaway loopback redis-server + PostgreSQL (as scripts/test.sh
# starts them), then `agentos-bench`. Figures go to stdout and (a full run, no --only) docs/bench-latest.json.
# Usage: scripts/bench.sh [agentos-bench options...]   (a full run also rewrites the figures in docs/BENCHMARKS.md)
# AGENTOS_SCRATCH=DIR builds in DIR instead of .build (for several engineers building in one tree).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_release_agentos
# The bench executable, beside the agentos whose footprint it measures.
swift build -c release --product agentos-bench --scratch-path "$SCRATCH" >&2
args=""
for a in "$@"; do args+=" $(printf '%q' "$a")"; done
LOAD="$(cut -d' ' -f1-3 /proc/loadavg)"
OUT="$(mktemp)"
trap 'rm -f "$OUT" "$OUT.block" "$OUT.json"' EXIT
# docs/bench-latest.json keeps a full run's figures: a partial run (--only) writes its JSON aside.
JSON="$REPO_ROOT/docs/bench-latest.json"
if [[ " $* " == *" --only"* ]]; then JSON="$OUT.json"; fi
# The Celery peer group runs when the tests' cached Celery venv is there (scripts/test.sh makes it;
# ensure_celery_venv in lib.sh): test.sh then passes its python as AGENTOS_TEST_CELERY_PYTHON.
CELERY_PY="${XDG_CACHE_HOME:-$HOME/.cache}/agentos/celery-venv/bin/python"
if [[ -x $CELERY_PY ]]; then export AGENTOS_TEST_CELERY=1; else echo "bench: no Celery venv at $CELERY_PY: the celery peer group is skipped" >&2; fi
AGENTOS_TEST_ONLY_SERVERS=1 \
AGENTOS_TEST_CMD="'$SCRATCH/release/agentos-bench' --redis \"\$AGENTOS_TEST_REDIS_URL\" --postgres \"\$AGENTOS_TEST_POSTGRES_URL\" --json '$JSON'$args" \
  bash "$REPO_ROOT/scripts/test.sh" 2>&1 | grep -v '^AGENTOS_TEST_' | tee "$OUT"
status=${PIPESTATUS[0]}
((status == 0)) || exit "$status"

# footprint_installed: the packaged binary (static Swift runtime, stripped; scripts/package.sh, unpacked
# with dpkg-deb -x as dpkg installs it) beside the source build: file size (the source build's with the
# toolchain libraries it loads) and start-up time, the median wall time of 21 `agentos --version`.
footprint_installed() {
  local deb root exe t0 ms libs name median
  deb="$(bash "$REPO_ROOT/scripts/package.sh")" || return 1
  root="$(mktemp -d)"
  dpkg-deb -x "$deb" "$root"
  for exe in "$root/usr/bin/agentos" "$SCRATCH/release/agentos"; do
    ms=""
    for _ in $(seq 21); do
      t0=$EPOCHREALTIME
      "$exe" --version >/dev/null
      ms+="$EPOCHREALTIME $t0"$'\n'
    done
    libs="$(ldd "$exe" | awk '$3 ~ /libswift|libFoundation|libdispatch|libBlocksRuntime|^\/opt\/swift/ { print $3 }' |
      xargs -r stat -L -c %s | awk '{ s += $1 } END { print s + 0 }')"
    if [[ $exe == "$root"* ]]; then name="installed /usr/bin/agentos ($(basename "$deb"))"; else name="source build $exe"; fi
    median="$(printf '%s' "$ms" | awk '{ printf "%.2f\n", ($1 - $2) * 1000 }' | sort -n | sed -n 11p)"
    awk -v name="$name" -v size="$(stat -c %s "$exe")" -v libs="$libs" -v median="$median" 'BEGIN {
      extra = libs > 0 ? sprintf(" + %.1f MB of toolchain libraries", libs / 1e6) : ""
      printf "footprint: %s: %.1f MB%s, start-up (--version, median of 21) %.1f ms\n", name, size / 1e6, extra, median
    }'
  done
  rm -rf "$root"
}
if [[ " $* " != *" --only"* || " $* " == *footprint* ]]; then footprint_installed | tee -a "$OUT"; fi

# A full run (no --only) replaces the figures between the markers in docs/BENCHMARKS.md, with the
# command, the date and the machine's load beside them. AGENTOS_BENCH_DOCS=0 leaves the file alone.
DOC="$REPO_ROOT/docs/BENCHMARKS.md"
if [[ ${AGENTOS_BENCH_DOCS:-1} == 1 && " $* " != *" --only"* ]] && grep -q '^| figure' "$OUT" && grep -q '<!-- bench:begin -->' "$DOC"; then
  {
    echo '<!-- bench:begin -->'
    echo "\`scripts/bench.sh${args}\`, $(date -u '+%Y-%m-%d %H:%M') UTC, $(nproc) cores, load average $LOAD before the run:"
    echo
    grep '^|' "$OUT"
    echo
    echo 'Printed beside the table (stderr):'
    echo
    echo '```'
    grep -E '^(job\.cancel (stages|CPU)|events |footprint:|scale:|audit verify:)' "$OUT" || true
    echo '```'
    echo '<!-- bench:end -->'
  } > "$OUT.block"
  awk -v block="$OUT.block" '
    /<!-- bench:begin -->/ { while ((getline line < block) > 0) print line; skip = 1; next }
    /<!-- bench:end -->/ { skip = 0; next }
    !skip { print }' "$DOC" > "$DOC.new" && mv "$DOC.new" "$DOC"
  echo "bench: figures written to docs/BENCHMARKS.md" >&2
fi
