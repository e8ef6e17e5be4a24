#!/usr/bin/env bash
# Hunt for flaky tests: run the whole suite (scripts/test.sh, as CI does) N times, each on a fresh
# clone of one commit, half of the runs with every core kept busy by a CPU hog, and print which
# tests failed and how often.
#
# Usage: scripts/flake-hunt.sh [N] [--rev REV] [--cold] [--no-hog]
#   N          runs (default 10); runs 2, 4, 6, … run under the hog, so N=10 gives 5 under load
#   --rev REV  the commit to test (default HEAD of this repository; uncommitted changes are not tested)
#   --cold     build from nothing in every run (default: run 1 builds from nothing and later runs
#              reuse its build directory; see below)
#   --no-hog   never start the hog
# Env: AGENTOS_FLAKE_DIR=DIR      where the clone and the logs go (default a new /tmp/agentos-flake.XXXXXX)
#      AGENTOS_FLAKE_TIMEOUT=S    one run's limit in seconds (default 2700); a run past it counts as failed
#
# Every run is a new `git clone` at the same path, like CI's. Git gives the cloned files the time of
# the clone, which makes SwiftPM recompile everything; the script sets them to the commit's time
# instead, so a carried-over build directory stays valid and only run 1 (or every run with --cold)
# pays for a full build. The tests themselves always run from scratch.
# Exit status: 0 when every run passed.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

RUNS=10 REV=HEAD COLD=0 HOG=1
while (($#)); do
  case $1 in
    --rev) REV=${2:?--rev needs a commit}; shift 2 ;;
    --cold) COLD=1; shift ;;
    --no-hog) HOG=0; shift ;;
    -h | --help) sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *[!0-9]* | '') die "flake-hunt: '$1' is neither a number of runs nor an option (see --help)" ;;
    *) RUNS=$1; shift ;;
  esac
done
((RUNS >= 1)) || die "flake-hunt: the number of runs must be at least 1, not $RUNS"
COMMIT="$(git -C "$REPO_ROOT" rev-parse --verify "$REV^{commit}" 2>/dev/null)" ||
  die "flake-hunt: '$REV' is not a commit of $REPO_ROOT"
[[ -z "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no)" ]] ||
  log "flake-hunt: the work tree has uncommitted changes; they are not tested (commit $COMMIT is)"
COMMIT_TIME="$(git -C "$REPO_ROOT" log -1 --format=%ct "$COMMIT")"
RUN_TIMEOUT=${AGENTOS_FLAKE_TIMEOUT:-2700}

DIR="${AGENTOS_FLAKE_DIR:-$(mktemp -d /tmp/agentos-flake.XXXXXX)}"
mkdir -p "$DIR/logs"
CLONE="$DIR/clone" KEPT_BUILD="$DIR/kept-build"
HOG_PIDS=()

stop_hog() {
  ((${#HOG_PIDS[@]})) || return 0
  kill "${HOG_PIDS[@]}" 2>/dev/null || true
  wait "${HOG_PIDS[@]}" 2>/dev/null || true
  HOG_PIDS=()
}
start_hog() {
  local i
  for ((i = 0; i < $(nproc); i++)); do
    bash -c 'while :; do :; done' &
    HOG_PIDS+=($!)
  done
}
# shellcheck disable=SC2317  # reached through the trap
finish() { stop_hog; rm -rf "$CLONE" "$KEPT_BUILD"; }
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A fresh clone of the commit at $CLONE, its files dated to the commit, the last run's build
# directories (the debug build and the package's release build) moved in.
BUILD_DIRS=(.build .build-release)
fresh_clone() {
  local d
  mkdir -p "$KEPT_BUILD"
  for d in "${BUILD_DIRS[@]}"; do
    if [[ -d $CLONE/$d && $COLD == 0 ]]; then mv "$CLONE/$d" "$KEPT_BUILD/$d"; fi
  done
  rm -rf "$CLONE"
  if ((COLD)); then rm -rf "$KEPT_BUILD" && mkdir -p "$KEPT_BUILD"; fi
  git clone -q --no-local "$REPO_ROOT" "$CLONE"
  git -C "$CLONE" checkout -q --detach "$COMMIT"
  (cd "$CLONE" && git ls-files -z | xargs -0 touch -h -d "@$COMMIT_TIME")
  for d in "${BUILD_DIRS[@]}"; do
    if [[ -d $KEPT_BUILD/$d ]]; then mv "$KEPT_BUILD/$d" "$CLONE/$d"; fi
  done
}

# The names of the tests a log reports as failed, one a line ("✘ Test name() failed after …").
failed_tests() {
  sed -nE 's/^✘ Test (.+) failed after .*/\1/p' "$1" | grep -v '^run with ' || true
}

log "flake-hunt: $RUNS runs of scripts/test.sh on fresh clones of $COMMIT, logs in $DIR/logs"
declare -A FAILS=()
RESULTS=() GREEN=0 GREEN_HOG=0 HOG_RUNS=0
for ((run = 1; run <= RUNS; run++)); do
  under=no
  if ((HOG && run % 2 == 0)); then under=yes; HOG_RUNS=$((HOG_RUNS + 1)); fi
  fresh_clone
  runlog="$DIR/logs/run-$run.log"
  [[ $under == yes ]] && start_hog
  started=$SECONDS rc=0
  (cd "$CLONE" && CI=true timeout --kill-after=60 "$RUN_TIMEOUT" bash scripts/test.sh </dev/null >"$runlog" 2>&1) || rc=$?
  stop_hog
  seconds=$((SECONDS - started))
  closing="$(grep -E 'Test run with [0-9]+ tests? in [0-9]+ suites? (passed|failed)' "$runlog" | tail -n 1 || true)"
  if ((rc == 0)) && [[ $closing == *" passed after "* ]]; then
    result=PASS GREEN=$((GREEN + 1))
    [[ $under == yes ]] && GREEN_HOG=$((GREEN_HOG + 1))
  else
    result=FAIL
    [[ -n $closing ]] || closing="(no closing line: the build failed, a test crashed or the run timed out; exit $rc)"
    while IFS= read -r name; do
      [[ -n $name ]] && FAILS[$name]=$((${FAILS[$name]:-0} + 1))
    done < <(failed_tests "$runlog" | sort -u)
  fi
  summary="$(printf 'run %2d  hog %-3s  %s  %4d s  %s' "$run" "$under" "$result" "$seconds" "${closing#*Test run with }")"
  RESULTS+=("$summary")
  log "$summary"
done

{
  echo "flake-hunt: $RUNS runs of scripts/test.sh on fresh clones of $COMMIT ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores)"
  printf '%s\n' "${RESULTS[@]}"
  echo "green: $GREEN of $RUNS runs ($GREEN_HOG of $HOG_RUNS under the CPU hog)"
  if ((${#FAILS[@]})); then
    echo "failed tests (runs failed in):"
    for name in "${!FAILS[@]}"; do printf '%4d  %s\n' "${FAILS[$name]}" "$name"; done | sort -rn
  fi
  echo "flake-hunt: $GREEN passed, $((RUNS - GREEN)) failed"
} | tee "$DIR/summary.txt"
((GREEN == RUNS))
