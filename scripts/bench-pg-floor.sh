#!/usr/bin/env bash
# The server's share of job.cancel on this machine: `agentos-bench --only cancel` on throwaway loopback
# servers with pg_stat_statements loaded, then PostgreSQL's own execution time for each statement
# job.cancel sends (the mean over every cancel of the run), their sum, and its share of the floor
# (the same calls sent bare, D78), which includes it.
# Usage: scripts/bench-pg-floor.sh [iterations]   (default 300)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_release_agentos
swift build -c release --product agentos-bench --scratch-path "$SCRATCH" >&2
N="${1:-300}"
PAYLOAD="$(mktemp)"
trap 'rm -f "$PAYLOAD"' EXIT
cat > "$PAYLOAD" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
U="$AGENTOS_TEST_POSTGRES_URL"; N="$1"; BENCH="$2"
psql() { "${AGENTOS_TEST_PG_BIN:+$AGENTOS_TEST_PG_BIN/}psql" "$@"; }
psql "$U" -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"
OUT="$(mktemp)"
trap 'rm -f "$OUT"' EXIT
"$BENCH" --only cancel --iterations "$N" --redis "$AGENTOS_TEST_REDIS_URL" --postgres "$U" >"$OUT" 2>&1 ||
  { cat "$OUT" >&2; exit 1; }
grep -E '^(job\.cancel|\| job\.cancel)' "$OUT"
# Every cancel of the run ran each statement once: the console's (200 for the steady state, the warm-up,
# the measured ones) and the floor's (the same calls, bare: the warm-up and the measured ones).
W=$((N < 10 ? N : 10))
CALLS=$((200 + 2 * (N + W)))
BARE="$(sed -n 's/^| job\.cancel end to end[^|]*| [^|]* | [^|]* | [^|]* | \([0-9.]*\) |.*/\1/p' "$OUT")"
psql "$U" -AtF $'\t' -c "
  SELECT round(mean_exec_time::numeric * 1000), left(regexp_replace(query, '\s+', ' ', 'g'), 60)
  FROM pg_stat_statements
  WHERE toplevel AND calls = $CALLS AND query NOT LIKE '%bench_scratch%' AND query NOT LIKE 'INSERT INTO jobs %'
  ORDER BY mean_exec_time DESC" | awk -F '\t' -v bare="$BARE" '
  { printf "  %5d µs  %s\n", $1, $2; total += $1 }
  END {
    printf "PostgreSQL execution per job.cancel: %.3f ms (pg_stat_statements, toplevel statements, triggers included)\n", total / 1000
    if (bare != "") printf "the floor (the same calls sent bare, p50) %.3f ms, of which PostgreSQL executing them %.3f ms (%.0f %%)\n", bare, total / 1000, 100 * total / 1000 / bare
  }'
EOF
chmod +x "$PAYLOAD"
AGENTOS_TEST_PG_OPTS="-c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track=all" \
AGENTOS_TEST_ONLY_SERVERS=1 AGENTOS_TEST_CMD="'$PAYLOAD' '$N' '$SCRATCH/release/agentos-bench'" \
  bash "$REPO_ROOT/scripts/test.sh" 2>&1 | grep -v '^AGENTOS_TEST_'
