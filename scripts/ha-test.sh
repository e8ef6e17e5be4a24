#!/usr/bin/env bash
# Failover figures on loopback: the high-availability tests start, each for itself, a Redis master
# with one or two replicas and three sentinels (down-after-milliseconds 1000), a PostgreSQL primary
# with a synchronous streaming standby (pg_basebackup -R), and PgBouncer in transaction mode; they
# kill the Redis master, promote the standby after killing the primary, and write what they
# measured; two of them run `agentos sim` and a stream of actions (config.set through the live
# pipeline) across the failover, count from the audit trail what ran, what was refused, unknown or
# run twice, compare a rebuilt snapshot with the database, and check the simulator published before the failure and
# again after the recovery (its bus counter, {ns}:events:seq).
# This prints it. The same tests run in every scripts/test.sh; this runs only them and shows the figures.
#
# Usage: scripts/ha-test.sh [swift test args...]
# Env:   AGENTOS_HA_RECORD=1   also write the figures into docs/RELIABILITY.md's "High availability"
#                              section (scripts/reliability.sh keeps that section when it rewrites the rest)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

FIGURES="$(mktemp /tmp/agentos-ha.XXXXXX)"
trap 'rm -f "$FIGURES"' EXIT
START=$SECONDS
status=0
AGENTOS_TEST_PACKAGE=0 AGENTOS_HA_FIGURES="$FIGURES" \
  bash "$REPO_ROOT/scripts/test.sh" --filter 'SentinelTests|PostgresFailoverTests|PgBouncerTests' "$@" || status=$?

COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
python3 - "$FIGURES" "$((SECONDS - START))" "$status" "$REPO_ROOT/docs/RELIABILITY.md" "$COMMIT" <<'PY'
import datetime, json, os, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
by = {r["figure"]: r for r in rows}
out = []
def print(line):
    out.append(line)
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
    if "sim" in a:
        e = a.get("sim_events", {})
        print("    agentos sim alongside: %s; its bus counter: %s events before the %s, %s at the recovery, %s at the end"
              % ("published again after the recovery" if a.get("sim_ran_through") else "DID NOT publish again after the recovery",
                 e.get("before_failure", "?"), since, e.get("at_recovery", "?"), e.get("at_end", "?")))
        print("      (%s)" % a["sim"])
sys.stdout.write("\n".join(out) + "\n")
if os.environ.get("AGENTOS_HA_RECORD") == "1":
    doc, marker = sys.argv[4], "## High availability (scripts/ha-test.sh)"
    text = open(doc, encoding="utf-8").read()
    # Only this section is replaced: the hand-written sections after it stay.
    head, _, tail = text.partition("\n" + marker)
    rest = tail.split("\n## ", 1)
    after = "\n## " + rest[1] if len(rest) == 2 else ""
    text = head.rstrip("\n")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = [
        "", "", marker, "",
        "Written by `AGENTOS_HA_RECORD=1 scripts/ha-test.sh` (kept by scripts/reliability.sh). On loopback: a Redis",
        "master, two replicas (one in the single-write figure) and three sentinels (`down-after-milliseconds`",
        "1000); a PostgreSQL primary and a synchronous standby (`pg_basebackup -R`); PgBouncer in transaction",
        "mode. `agentos sim` runs alongside each action stream, through the same failover; its bus counter",
        "(`{ns}:events:seq`) must rise before the failure and again after the recovery. The action streams are",
        "`config.set` through the live pipeline, one after another; what ran is counted from the audit trail",
        "on the recovered primary (the outcome row commits with the effect). Goals (issue 22): first successful",
        "action under 10 s after the Redis master's death, under 5 s after the promotion; 0 double executions;",
        "0 audit rows lost. The promotion figures count from `pg_ctl promote -w` returning (the standby is",
        "read-write by then) and the stream retries a refusal after 50 ms, so they can round to 0.00 s.", "",
        "**Last run:** %s, commit `%s`." % (when, sys.argv[5]), "", "```"] + out + ["```", ""]
    open(doc, "w", encoding="utf-8").write(text + "\n".join(section) + after)
    sys.stderr.write("[agentos] wrote the high-availability figures into %s\n" % doc)
PY
exit "$status"
