#!/usr/bin/env bash
# Run the test suite against throwaway Redis (plain + TLS) and PostgreSQL servers.
#
# Usage: scripts/test.sh [swift test args...]      e.g. scripts/test.sh --filter RedisTests
# Env:
#   AGENTOS_KEEP_TMP=1          keep the temp dir (logs, TLS material, data) after the run
#   AGENTOS_TEST_ONLY_SERVERS=1 start the servers, print the exports, run
#                               "${AGENTOS_TEST_CMD:-true}" (through bash -c) instead of swift,
#                               then clean up; exits with that command's status
#   AGENTOS_TEST_PG_OPTS="..."  extra postgres options (e.g. -c shared_preload_libraries=pg_stat_statements)
#   AGENTOS_TEST_PACKAGE=0      skip scripts/package-test.sh (run after the Swift tests when no args are given)
#   AGENTOS_TEST_PGBOUNCER=1    the tests' PostgreSQL URL goes through PgBouncer in transaction mode
#                               (`pooler=transaction`), e.g. with --filter 'ActionTests|ReliabilityAudit'
#   AGENTOS_TEST_POOLER_PASS=0  skip the whole run's second pass of the action and audit suites
#                               through PgBouncer (transaction mode)
#   AGENTOS_TEST_CELERY_VOLUME  1 runs the 20,000-task Celery test against Flower (minutes, D79):
#                               on by default in a whole run (no arguments), off with --filter
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ONLY_SERVERS="${AGENTOS_TEST_ONLY_SERVERS:-0}"
# Read before the exports below reuse the name for the binary's path.
VIA_PGBOUNCER="${AGENTOS_TEST_PGBOUNCER:-0}"
# The suites the whole run repeats through PgBouncer (AGENTOS_TEST_POOLER_PASS=0 skips that pass).
POOLER_SUITES='JobActionTests|FleetActionTests|SystemActionTests|DataActionTests|ConfirmedImpactTests|ReliabilityAudit|ReliabilityIdempotencyTests|OperatorRolesTests'
START_TIME=$SECONDS
# A whole run is the whole suite, the 20,000-task Celery test included; a filtered run skips it unless asked.
if (($# == 0)); then export AGENTOS_TEST_CELERY_VOLUME="${AGENTOS_TEST_CELERY_VOLUME:-1}"; fi

export LANG=C.UTF-8
[[ -n ${LC_ALL:-} ]] && export LC_ALL=C.UTF-8

ensure_apt_packages "${BUILD_DEPS[@]}" "${TEST_DEPS[@]}"
[[ $ONLY_SERVERS == 1 ]] || ensure_swift

# ---------------------------------------------------------------- temp dir + cleanup
TMP="$(mktemp -d /tmp/agentos-test.XXXXXX)"
chmod 755 "$TMP" # the postgres user must be able to traverse it
RPORT="" TLSPORT="" PGPORT="" PGBIN="" PGDATA_DIR="$TMP/pg/data"
REDIS_PIDFILE="$TMP/redis/redis.pid"
CLEANED=0

# Run a PostgreSQL tool as the cluster owner: postgres when we are root (initdb refuses
# root), the current user otherwise. Runs from $TMP so postgres can read its cwd.
if [[ $EUID -eq 0 ]]; then PG_OS_USER=postgres; else PG_OS_USER="$(id -un)"; fi
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd "$TMP" && runuser -u postgres -- "$@")
  else
    (cd "$TMP" && "$@")
  fi
}

# Never fails (also used under set -e while retrying). With "port": SHUTDOWN NOSAVE over
# $RPORT first (also stops a server a test restarted there); always: kill by pidfile.
stop_redis() {
  local pid=""
  if [[ -s $REDIS_PIDFILE ]]; then pid="$(cat "$REDIS_PIDFILE" 2>/dev/null || true)"; fi
  if [[ ${1:-} == port && -n $RPORT ]]; then
    timeout 5 redis-cli -p "$RPORT" shutdown nosave >/dev/null 2>&1 || true
  fi
  if [[ -n $pid ]]; then
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$REDIS_PIDFILE"
}

# shellcheck disable=SC2317  # only reached via the traps
stop_postgres() {
  [[ -n $PGBIN && -f $PGDATA_DIR/postmaster.pid ]] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate -w -t 10 stop >/dev/null 2>&1
}

# Idempotent; must never abort half-way, hence set +e. Does not change the exit status.
# shellcheck disable=SC2317  # only reached via the traps
cleanup() {
  set +e
  ((CLEANED)) && return 0
  CLEANED=1
  stop_redis port
  stop_postgres
  # Safety net: anything still running from inside our temp dir (e.g. a server a test
  # started itself and did not stop). The path is unique to this run.
  local pids=()
  mapfile -t pids < <(pgrep -f -- "$TMP/" 2>/dev/null)
  if ((${#pids[@]})); then
    log "cleanup: terminating leftover processes: ${pids[*]}"
    kill "${pids[@]}" 2>/dev/null
    sleep 1
    kill -9 "${pids[@]}" 2>/dev/null
  fi
  if [[ ${AGENTOS_KEEP_TMP:-0} == 1 ]]; then
    log "kept temp dir: $TMP"
  else
    rm -rf "$TMP"
  fi
}
# The payload (swift build/test or AGENTOS_TEST_CMD) runs in the background and we `wait`
# for it, so a signal is handled at once (bash defers traps until a foreground child ends).
CHILD_PID=""
run_child() {
  "$@" <&0 &
  CHILD_PID=$!
  local rc=0
  wait "$CHILD_PID" || rc=$?
  CHILD_PID=""
  return "$rc"
}

# Signal PID and all its descendants (children first found via pgrep -P).
# shellcheck disable=SC2317  # only reached via the traps
kill_tree() {
  local sig=$1 pid=$2 child
  for child in $(pgrep -P "$pid" 2>/dev/null); do kill_tree "$sig" "$child"; done
  kill -"$sig" "$pid" 2>/dev/null || true
}

# INT/TERM: stop the payload (TERM, then KILL after 10 s), then exit -> EXIT trap cleans up.
# shellcheck disable=SC2317  # only reached via the traps
on_signal() {
  set +e
  log "caught SIG$1, stopping"
  if [[ -n $CHILD_PID ]]; then
    kill_tree TERM "$CHILD_PID"
    for _ in $(seq 100); do kill -0 "$CHILD_PID" 2>/dev/null || break; sleep 0.1; done
    kill_tree KILL "$CHILD_PID"
  fi
  exit "$2"
}
trap cleanup EXIT
trap 'on_signal INT 130' INT
trap 'on_signal TERM 143' TERM

# ---------------------------------------------------------------- TLS material
make_tls() {
  local d="$TMP/tls"
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    # Minimal config so the system openssl.cnf cannot add conflicting extensions.
    cat >openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
    local key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
    # CA and an unrelated "wrong" CA (self-signed).
    openssl req -config openssl.cnf -x509 "${key[@]}" -days 2 -sha256 \
      -subj "/CN=agentos test CA" -extensions ca_ext -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -config openssl.cnf -x509 "${key[@]}" -days 2 -sha256 \
      -subj "/CN=agentos wrong CA" -extensions ca_ext -keyout wrong-ca.key -out wrong-ca.crt 2>/dev/null
    # Server and client leaf certificates signed by the CA.
    local name cn
    for name in server client; do
      if [[ $name == server ]]; then cn=localhost; else cn=agentos-test-client; fi
      openssl req -config openssl.cnf -new "${key[@]}" -subj "/CN=$cn" \
        -keyout "$name.key" -out "$name.csr" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -sha256 \
        -extfile openssl.cnf -extensions "${name}_ext" -out "$name.crt" 2>/dev/null
      rm -f "$name.csr"
    done
    openssl verify -CAfile ca.crt server.crt client.crt >/dev/null
    # Certificates world-readable; keys only for us (we run redis and the tests).
    chmod 644 ./*.crt
    chmod 600 ./*.key
  ) || die "could not create TLS material in $d"
}

# ---------------------------------------------------------------- Redis
start_redis() {
  mkdir -p "$TMP/redis"
  local attempt
  for attempt in 1 2 3; do
    { read -r RPORT; read -r TLSPORT; } < <(free_port 2)
    : >"$TMP/redis/redis.log"
    redis-server --daemonize yes --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
      --dir "$TMP/redis" --pidfile "$REDIS_PIDFILE" --logfile "$TMP/redis/redis.log" \
      --tls-port "$TLSPORT" --tls-cert-file "$TMP/tls/server.crt" \
      --tls-key-file "$TMP/tls/server.key" --tls-ca-cert-file "$TMP/tls/ca.crt" \
      --tls-auth-clients optional >/dev/null ||
      { cat "$TMP/redis/redis.log" >&2; die "redis-server failed to start"; }
    local deadline=$((SECONDS + 10))
    while ((SECONDS < deadline)); do
      # Port taken between free_port and bind: retry with new ports.
      grep -q 'in use' "$TMP/redis/redis.log" 2>/dev/null && break
      # (timeout: whatever holds the port might accept and never answer)
      [[ "$(timeout 2 redis-cli -p "$RPORT" ping 2>/dev/null)" == PONG ]] && return 0
      sleep 0.1
    done
    stop_redis # pidfile only: the port may belong to someone else
    grep -q 'in use' "$TMP/redis/redis.log" 2>/dev/null && ((attempt < 3)) && {
      log "redis: port in use, retrying"; continue; }
    cat "$TMP/redis/redis.log" >&2
    die "redis-server did not answer PING on port $RPORT within 10 s"
  done
}

# ---------------------------------------------------------------- PostgreSQL
start_postgres() {
  PGBIN="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -type d -name bin 2>/dev/null |
    sort -V | tail -n 1)"
  [[ -x $PGBIN/initdb ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
  mkdir -p "$TMP/pg/data" "$TMP/pg/sock"
  chmod 700 "$TMP/pg/data"
  [[ $EUID -eq 0 ]] && chown -R postgres:postgres "$TMP/pg"
  # Password authentication (scram-sha-256), as production has it, not trust: issue 17's checks
  # need logins that cannot pose as one another. The superuser's password is random and reaches
  # every client (tests, consoles, psql) through PGPASSFILE, never a command line.
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$TMP/pg/superuser.pw"
  printf '*:*:*:postgres:%s\n' "$(cat "$TMP/pg/superuser.pw")" >"$TMP/pg/pgpass"
  chmod 600 "$TMP/pg/pgpass" "$TMP/pg/superuser.pw"
  [[ $EUID -eq 0 ]] && chown postgres:postgres "$TMP/pg/pgpass" "$TMP/pg/superuser.pw"
  export PGPASSFILE="$TMP/pg/pgpass"
  as_pg "$PGBIN/initdb" -D "$PGDATA_DIR" -A scram-sha-256 --pwfile="$TMP/pg/superuser.pw" -U postgres --no-sync -E UTF8 \
    --locale=C.UTF-8 >"$TMP/pg/initdb.log" 2>&1 ||
    { cat "$TMP/pg/initdb.log" >&2; die "initdb failed"; }
  local attempt
  for attempt in 1 2 3; do
    PGPORT="$(free_port 1)"
    PG_OPTS="-p $PGPORT -k $TMP/pg/sock -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300 ${AGENTOS_TEST_PG_OPTS:-}"
    if as_pg "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -o "$PG_OPTS" -l "$TMP/pg/pg.log" -w -t 60 \
      start >/dev/null; then
      break
    fi
    if grep -q 'in use' "$TMP/pg/pg.log" 2>/dev/null && ((attempt < 3)); then
      log "postgres: port in use, retrying"
      continue
    fi
    cat "$TMP/pg/pg.log" >&2
    die "PostgreSQL failed to start"
  done
  as_pg "$PGBIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres agentos_test ||
    die "createdb agentos_test failed"
}

# PgBouncer in transaction mode in front of the test server (every database, scram-sha-256: the
# logins' verifiers come from the server through auth_query as postgres), as the cluster's
# owner (it refuses root). Stopped with the rest by the cleanup's safety net (its path is under $TMP).
start_pgbouncer() {
  BOUNCER_PORT="$(free_port 1)"
  mkdir -p "$TMP/pgbouncer"
  printf '"postgres" "%s"\n' "$(cat "$TMP/pg/superuser.pw")" >"$TMP/pgbouncer/userlist.txt"
  chmod 600 "$TMP/pgbouncer/userlist.txt"
  printf '%s\n' "[databases]" "* = host=127.0.0.1 port=$PGPORT" "[pgbouncer]" "listen_addr = 127.0.0.1" \
    "listen_port = $BOUNCER_PORT" "unix_socket_dir =" "auth_type = scram-sha-256" "auth_file = $TMP/pgbouncer/userlist.txt" "auth_user = postgres" \
    "pool_mode = transaction" "default_pool_size = 20" "max_client_conn = 1000" \
    "logfile = $TMP/pgbouncer/pgbouncer.log" "pidfile = $TMP/pgbouncer/pgbouncer.pid" >"$TMP/pgbouncer/pgbouncer.ini"
  if [[ $EUID -eq 0 ]]; then chown -R "$PG_OS_USER" "$TMP/pgbouncer"; fi
  as_pg pgbouncer -d "$TMP/pgbouncer/pgbouncer.ini" || die "pgbouncer failed to start ($TMP/pgbouncer/pgbouncer.log)"
  for _ in $(seq 100); do
    if as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$BOUNCER_PORT" -U postgres -d agentos_test -Atc 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  die "pgbouncer on :$BOUNCER_PORT did not accept connections ($TMP/pgbouncer/pgbouncer.log)"
}

make_tls
start_redis
start_postgres
log "redis 127.0.0.1:$RPORT (TLS :$TLSPORT), postgres 127.0.0.1:$PGPORT, tmp $TMP"
if [[ $VIA_PGBOUNCER == 1 ]]; then
  start_pgbouncer
  log "pgbouncer 127.0.0.1:$BOUNCER_PORT (transaction mode) in front of postgres: the tests' URL goes through it"
fi

# ---------------------------------------------------------------- exports for the tests
export AGENTOS_TEST_REDIS_URL="redis://127.0.0.1:$RPORT"
export AGENTOS_TEST_REDISS_URL="rediss://127.0.0.1:$TLSPORT"
export AGENTOS_TEST_TLS_DIR="$TMP/tls"
export AGENTOS_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PGPORT/agentos_test"
if [[ $VIA_PGBOUNCER == 1 ]]; then
  export AGENTOS_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$BOUNCER_PORT/agentos_test?pooler=transaction"
fi
export AGENTOS_TEST_PG_BIN="$PGBIN"
export AGENTOS_TEST_PG_DATA="$PGDATA_DIR"
export AGENTOS_TEST_PG_PORT="$PGPORT"
export AGENTOS_TEST_PG_SOCKDIR="$TMP/pg/sock"
export AGENTOS_TEST_PG_OPTS="$PG_OPTS"      # the pg_ctl -o string, for restarting
export AGENTOS_TEST_PG_LOG="$TMP/pg/pg.log" # the pg_ctl -l log file
export AGENTOS_TEST_PG_OS_USER="$PG_OS_USER" # OS user owning the cluster (runuser -u ...)
export AGENTOS_TEST_PG_PASSWORD_FILE="$TMP/pg/superuser.pw" # the superuser's password (PGPASSFILE carries it to libpq)
AGENTOS_TEST_REDIS_SERVER="$(command -v redis-server)"
export AGENTOS_TEST_REDIS_SERVER
AGENTOS_TEST_REDIS_SENTINEL="$(command -v redis-sentinel)"
export AGENTOS_TEST_REDIS_SENTINEL
AGENTOS_TEST_PGBOUNCER="$(command -v pgbouncer)"
export AGENTOS_TEST_PGBOUNCER
export AGENTOS_TEST_TMPDIR="$TMP"
# Real Celery workers for the Celery tests (a cached venv; see ensure_celery_venv in lib.sh). Not for a
# command of your own (AGENTOS_TEST_ONLY_SERVERS=1, e.g. the benchmarks) unless AGENTOS_TEST_CELERY=1.
if [[ $ONLY_SERVERS != 1 || ${AGENTOS_TEST_CELERY:-0} == 1 ]]; then
  AGENTOS_TEST_CELERY_PYTHON="$(ensure_celery_venv)"
  export AGENTOS_TEST_CELERY_PYTHON
fi
export AGENTOS_TEST_SERVERS=1
# D66: the live tests run on a signed bus, a random key per run (the consoles, sims and commands they
# start read it from the environment; what a test writes on the bus by hand is signed by TestBus).
AGENTOS_BUS_KEY="${AGENTOS_BUS_KEY:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}"
export AGENTOS_BUS_KEY
export AGENTOS_BUS_KEY_ID="${AGENTOS_BUS_KEY_ID:-test}"

# ---------------------------------------------------------------- run
status=0
if [[ $ONLY_SERVERS == 1 ]]; then
  env | grep '^AGENTOS_TEST_' | sort
  run_child bash -c "${AGENTOS_TEST_CMD:-true}" || status=$?
  what="command"
else
  cd "$REPO_ROOT"
  # The formatter's rules (.swift-format) are part of the suite: `swift-format format -i -r Sources Tests`
  # fixes what this reports. It ships with the toolchain and takes seconds.
  if ! run_child swift-format lint --strict --recursive --parallel Sources Tests Package.swift; then
    status=1
    log "swift-format lint failed: swift-format format -i -r -p Sources Tests Package.swift fixes it"
  elif ! run_child swift build --build-tests; then
    status=1
    log "swift build --build-tests failed"
  else
    run_child swift test --skip-build "$@" || status=$?
    # The whole suite (no arguments) runs the action and audit suites a second time through PgBouncer
    # in transaction mode (issue 22): the pooler mode production puts in front of PostgreSQL.
    if (($# == 0)) && [[ $VIA_PGBOUNCER != 1 && ${AGENTOS_TEST_POOLER_PASS:-1} == 1 ]]; then
      start_pgbouncer
      log "pooler pass: $POOLER_SUITES through pgbouncer 127.0.0.1:$BOUNCER_PORT (transaction mode)"
      AGENTOS_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$BOUNCER_PORT/agentos_test?pooler=transaction" \
        run_child swift test --skip-build --filter "$POOLER_SUITES" || { status=1; log "the pooler pass failed"; }
    fi
  fi
  # The whole suite (no arguments) also builds the Debian package and tests it installed.
  if (($# == 0)) && [[ ${AGENTOS_TEST_PACKAGE:-1} == 1 ]]; then
    run_child bash "$REPO_ROOT/scripts/package-test.sh" || { status=1; log "scripts/package-test.sh failed"; }
  fi
  what="tests"
fi

if ((status == 0)); then result=PASS; else result=FAIL; fi
log "$what $result (exit $status) in $((SECONDS - START_TIME)) s; redis :$RPORT tls :$TLSPORT postgres :$PGPORT"
exit "$status"
