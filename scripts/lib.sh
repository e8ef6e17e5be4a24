# shellcheck shell=bash
# Shared helpers for scripts/run.sh and scripts/test.sh. Source it; do not execute it.

# Repository root (the parent of this scripts/ directory), independent of the caller's cwd.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export REPO_ROOT

# Debian packages needed to compile the Swift package (C headers + pkg-config files).
# shellcheck disable=SC2034  # used by the scripts that source this file
BUILD_DEPS=(libncursesw5-dev libhiredis-dev libpq-dev libssl-dev pkg-config)
# Debian packages the test suite needs besides the build's: the servers (with Sentinel and PgBouncer for the
# high-availability tests), tmux for the end-to-end
# tests, and prometheus (promtool and a real Prometheus for the metrics exporter's tests).
# shellcheck disable=SC2034  # used by scripts/test.sh
TEST_DEPS=(redis-server redis-sentinel redis-tools pgbouncer postgresql postgresql-client tmux openssl procps iproute2 python3 python3-venv prometheus)

# Debian packages scripts/package.sh needs besides the build's: libcurl's headers (agentos-metrics links
# Foundation's networking statically through FlyingFox, which needs -lcurl), dpkg-shlibdeps (dpkg-dev),
# lintian, and man-db for the package test's `man -w`.
# shellcheck disable=SC2034  # used by scripts/package.sh
PACKAGE_DEPS=(libcurl4-openssl-dev dpkg-dev lintian man-db)

# runuser, pg_ctl helpers etc. live in sbin on Debian; some root shells lack it on PATH.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH="$PATH:/usr/sbin:/sbin" ;; esac
export PATH

log() { printf '[agentos] %s\n' "$*" >&2; }
die() { printf '[agentos] ERROR: %s\n' "$*" >&2; exit 1; }

# Run a command as root: directly if we are root, else through sudo.
as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root (or sudo) to run: $*"
  fi
}

# ensure_apt_packages PKG... : install only the packages that are not installed yet.
ensure_apt_packages() {
  local pkg status missing=()
  for pkg in "$@"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get"
  log "installing: ${missing[*]}"
  # apt/dpkg are chatty even with -qq: keep their output, show it only on failure.
  local out rc=0
  out="$(mktemp /tmp/agentos-apt.XXXXXX)"
  { as_root apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$out" 2>&1 || rc=$?
  if ((rc != 0)); then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get install failed (exit $rc): ${missing[*]}"
  fi
  rm -f "$out"
}

# ensure_swift: make `swift` available on PATH or fail with a clear message.
ensure_swift() {
  if command -v swift >/dev/null 2>&1; then
    return 0
  fi
  if [[ -x /opt/swift/usr/bin/swift ]]; then
    PATH="/opt/swift/usr/bin:$PATH"
    export PATH
    return 0
  fi
  printf '%s\n' \
    "[agentos] ERROR: the Swift toolchain was not found (no 'swift' on PATH, none in /opt/swift/usr/bin)." \
    "[agentos] Install Swift 6.x for Debian 12 from https://www.swift.org/install/ (e.g. unpack it to" \
    "[agentos] /opt/swift so that /opt/swift/usr/bin/swift exists) and run this script again." >&2
  exit 1
}

# build_release_agentos: the build dependencies, then a release build of `agentos` in $SCRATCH
# (AGENTOS_SCRATCH, else .build), build output on stderr; leaves the caller in $REPO_ROOT.
build_release_agentos() {
  ensure_apt_packages "${BUILD_DEPS[@]}"
  ensure_swift
  cd "$REPO_ROOT"
  SCRATCH="${AGENTOS_SCRATCH:-$REPO_ROOT/.build}"
  swift build -c release --product agentos --scratch-path "$SCRATCH" >&2
}

# free_port [COUNT]: print COUNT (default 1) distinct free TCP ports on 127.0.0.1, one per line.
# All sockets are held open together so the ports are distinct; the kernel picks random
# ephemeral ports, so concurrent callers get different ones (callers should still retry
# if a bind fails later, since a port can be taken between this check and its use).
free_port() {
  local count="${1:-1}"
  if command -v python3 >/dev/null 2>&1 &&
    python3 - "$count" <<'PY' 2>/dev/null; then
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print("\n".join(str(s.getsockname()[1]) for s in socks))
PY
    return 0
  fi
  # Fallback: random ports in 20000-59999 that nothing listens on and nothing answers on.
  local port seen=" " tries=0
  while ((count > 0)); do
    ((++tries < 1000)) || die "free_port: no free port found"
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
    [[ $seen == *" $port "* ]] && continue
    if command -v ss >/dev/null 2>&1 && [[ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ]]; then
      continue
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      continue
    fi
    seen+="$port "
    echo "$port"
    ((count--))
  done
}

# ensure_celery_venv: a virtual environment with Celery 5.7, Flower 2 and redis-py from PyPI for the
# tests against real Celery workers and the bench's peer group (Flower is the console's peer there),
# made once under ${XDG_CACHE_HOME:-$HOME/.cache}/agentos/celery-venv and rebuilt when it is missing
# or holds another Celery; a venv made before Flower was added gets Flower installed into it.
# Prints its python's path.
CELERY_SPEC="celery==5.7.*"
FLOWER_SPEC="flower==2.*"
CELERY_VENV_CHECK='import celery, flower, redis, kombu.transport.redis, sys
sys.exit(0 if celery.__version__.startswith("5.7.") and flower.__version__.startswith("2.") else 1)'
ensure_celery_venv() {
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/agentos/celery-venv" py
  py="$dir/bin/python"
  if [[ -x $py ]] && "$py" -c "$CELERY_VENV_CHECK" 2>/dev/null; then
    printf '%s\n' "$py"
    return 0
  fi
  if [[ -x $py ]] && "$py" -c 'import celery, redis, sys; sys.exit(0 if celery.__version__.startswith("5.7.") else 1)' 2>/dev/null; then
    log "adding $FLOWER_SPEC to the Celery test venv in $dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$FLOWER_SPEC" >&2 ||
      die "pip install $FLOWER_SPEC failed (PyPI must be reachable)"
  else
    log "creating the Celery test venv in $dir ($CELERY_SPEC, $FLOWER_SPEC, redis from PyPI)"
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    python3 -m venv "$dir" >&2 || die "python3 -m venv $dir failed (is python3-venv installed?)"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$CELERY_SPEC" "$FLOWER_SPEC" "redis>=5" packaging >&2 ||
      die "pip install $CELERY_SPEC $FLOWER_SPEC redis failed (PyPI must be reachable)"
  fi
  "$py" -c "$CELERY_VENV_CHECK" || die "the Celery venv in $dir does not import celery 5.7 and flower 2"
  printf '%s\n' "$py"
}
