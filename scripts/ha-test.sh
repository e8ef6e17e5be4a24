#!/usr/bin/env bash
# Failover figures on loopback: the high-availability tests start, each for itself, a Redis master
# with a replica and three sentinels (down-after-milliseconds 1000), a PostgreSQL primary with a
# synchronous streaming standby (pg_basebackup -R), and PgBouncer in transaction mode; they kill the
# Redis master, promote the standby after killing the primary, and write what they measured; two of
# them run a stream of actions (config.set through the live pipeline) across the failover and count
# from the audit trail what ran, what was refused, unknown or run twice, and compare a rebuilt
# snapshot with the database. This prints it. The same tests run in every scripts/test.sh; this runs only them and shows the figures.
#
# Usage: scripts/ha-test.sh [swift test args...]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FIGURES="$(mktemp /tmp/agentos-ha.XXXXXX)"
trap 'rm -f "$FIGURES"' EXIT
START=$SECONDS
status=0
AGENTOS_TEST_PACKAGE=0 AGENTOS_HA_FIGURES="$FIGURES" \
  bash "$REPO_ROOT/scripts/test.sh" --filter 'SentinelTests|PostgresFailoverTests|PgBouncerTests' "$@" || status=$?

python3 - "$FIGURES" "$((SECONDS - START))" "$status" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = {r["figure"]: r for r in rows}
print("high availability (scripts/ha-test.sh), %s s, tests %s" % (sys.argv[2], "PASS" if sys.argv[3] == "0" else "FAIL"))
r = by.get("redis master killed")
if r:
    print("  redis: master killed -> first successful write %.2f s (%d attempts), new master :%d, lost writes %d"
          % (r["first_write_ms"] / 1000, r["write_attempts"], r["new_master"], r["lost_writes"]))
else:
    print("  redis: no figure (the Sentinel test did not get that far)")
p = by.get("postgres standby promoted")
if p:
    print("  postgres: standby promoted -> first successful write %.2f s (%d attempts), committed rows lost %d"
          % (p["first_write_ms"] / 1000, p["write_attempts"], p["lost_rows"]))
else:
    print("  postgres: no figure (the failover test did not get that far)")
for name, label, since in (("redis actions during master death", "redis", "master death"),
                           ("postgres actions during promotion", "postgres", "promotion")):
    a = by.get(name)
    if not a:
        print("  %s actions: no figure (the stream test did not get that far)" % label)
        continue
    print("  %s actions: %d attempted, %d executed (%d of them reported failed), %d refused, %d unknown; first success %.2f s after the %s;"
          % (label, a["attempted"], a["executed"], a["failed_after_commit"], a["refused"], a["unknown"], a["first_action_ms"] / 1000, since))
    print("    double executions %d, audit rows lost %d, screen equals database after recovery: %s"
          % (a["double_executions"], a["audit_rows_lost"], "yes" if a["screen_equals_database"] else "NO"))
PY
exit "$status"
