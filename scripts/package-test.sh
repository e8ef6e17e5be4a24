#!/usr/bin/env bash
# The Debian package, installed: builds it (scripts/package.sh), installs it with dpkg into a throwaway
# root, checks what an operator on a bastion relies on, runs lintian, removes the package again.
# Usage: scripts/package-test.sh [path/to/agentos_VERSION_ARCH.deb]   (default: build it)
# Prints one line per check and "package: N passed, M failed"; exits 1 when a check fails.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
START=$SECONDS
export LANG=C.UTF-8

if [[ -n ${1:-} ]]; then
  DEB="$1"
else
  DEB="$(bash "$REPO_ROOT/scripts/package.sh")" || die "scripts/package.sh failed"
fi
[[ -f $DEB ]] || die "no package at '$DEB'"
ensure_apt_packages "${PACKAGE_DEPS[@]}" tmux

T="$(mktemp -d /tmp/agentos-package-test.XXXXXX)"
ROOT="$T/root"
TMUX_SOCKET="$T/tmux.sock"
cleanup() {
  tmux -S "$TMUX_SOCKET" kill-server 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT

PASSED=0 FAILED=0
pass() { printf 'ok    %s\n' "$1"; PASSED=$((PASSED + 1)); }
failed() { printf 'FAIL  %s\n' "$1"; shift; printf '      %s\n' "$@"; FAILED=$((FAILED + 1)); }

# ---------------------------------------------------------------- install into the throwaway root
# dpkg's own database of the root, with the real machine's status copied in, so dpkg checks Depends
# against the Debian packages installed here (their files stay outside the root: ldd finds them).
mkdir -p "$ROOT/var/lib/dpkg/info" "$ROOT/var/lib/dpkg/updates" "$ROOT/var/log"
cp /var/lib/dpkg/status "$ROOT/var/lib/dpkg/status"
DPKG=(dpkg --root="$ROOT" --log="$T/dpkg.log" --force-not-root)
if out="$("${DPKG[@]}" -i "$DEB" 2>&1)"; then
  pass "dpkg -i into $ROOT (Depends satisfied by this machine's packages)"
else
  failed "dpkg -i into $ROOT" "$out"
  printf 'package: %d passed, %d failed\n' "$PASSED" "$((FAILED + 1))"
  exit 1
fi
BIN="$ROOT/usr/bin"
VERSION="$(dpkg-deb -f "$DEB" Version)"
# Nothing of the user's or of the source tree may stand in for the installed files.
HOME="$T/home"
mkdir -p "$HOME"
export HOME XDG_CONFIG_HOME="$T/home/.config" XDG_STATE_HOME="$T/home/.state" XDG_DATA_HOME="$T/home/.data"
unset AGENTOS_SHARE_DIR AGENTOS_CONFIG AGENTOS_THEME AGENTOS_KEYMAP AGENTOS_REDIS_URL AGENTOS_POSTGRES_URL

# ---------------------------------------------------------------- the checks
# 1. Only Debian's libraries: nothing from the Swift toolchain, nothing missing, and each library's
#    Debian package in Depends.
TOOLCHAIN="$(cd "$(dirname "$(readlink -f "$(command -v swift)")")/.." && pwd -P)"
depends="$(dpkg-deb -f "$DEB" Depends)"
for exe in agentos agentos-metrics; do
  libs="$(ldd "$BIN/$exe" 2>&1)"
  bad="$(grep -E "$TOOLCHAIN|not found|libswift|libFoundation|libdispatch|libBlocksRuntime" <<<"$libs")"
  if [[ -z $bad ]]; then pass "ldd $exe: nothing under $TOOLCHAIN"; else failed "ldd $exe: toolchain libraries" "$bad"; fi
  missing=()
  for soname in $(readelf -d "$BIN/$exe" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path="$(awk -v so="$soname" '$1 == so && $3 ~ /^\// { print $3 }' <<<"$libs")"
    [[ $soname == ld-linux* ]] && path="$(awk '$1 ~ /^\/.*ld-linux/ { print $1 }' <<<"$libs")"
    real="$(readlink -f "$path")"
    owner=""
    for candidate in "$path" "$real" "${real#/usr}"; do # dpkg knows a library by the path its package ships
      owner="$(dpkg -S "$candidate" 2>/dev/null | head -n 1 | cut -d: -f1)"
      [[ -n $owner ]] && break
    done
    [[ -n $owner && ", $depends" == *", $owner "* ]] || missing+=("$soname ($path, package '${owner:-?}')")
  done
  if ((${#missing[@]} == 0)); then pass "Depends names the package of every library $exe needs"; else
    failed "Depends misses libraries of $exe" "${missing[@]}" "Depends: $depends"; fi
done

# 2. One version: the binaries' and the package's.
for exe in agentos agentos-metrics; do
  v="$("$BIN/$exe" --version 2>&1)"
  if [[ $v == "$VERSION" && $DEB == *"_${VERSION}_"* ]]; then pass "$exe --version = package version $VERSION"; else
    failed "$exe --version" "binary says '$v', package says '$VERSION' ($DEB)"; fi
done

# 3. The embedded default runs from the installed files.
if out="$("$BIN/agentos" snapshot --json 2>&1)" &&
  python3 -c 'import json,sys; s=json.load(sys.stdin); assert s["schema"]=="agentos.admin.ssot/4" and s["source"]=="embedded"' <<<"$out" 2>/dev/null; then
  pass "agentos snapshot --json: embedded default, schema agentos.admin.ssot/4"
else
  failed "agentos snapshot --json" "${out:0:400}"
fi

# 4. Man pages: agentos and one per subcommand, found by man through the installed tree.
subcommands="$("$BIN/agentos" --experimental-dump-help |
  python3 -c 'import json,sys; print(" ".join(c["commandName"] for c in json.load(sys.stdin)["command"].get("subcommands", [])))')"
[[ -n $subcommands ]] || failed "agentos --experimental-dump-help lists no subcommands"
export MANPATH="$ROOT/usr/share/man"
page="$(man -w agentos 2>&1)"
if [[ $page == "$ROOT/usr/share/man/man1/agentos.1.gz" ]] && man agentos 2>/dev/null | grep -q 'agentos'; then
  pass "man -w agentos: $page"
else
  failed "man -w agentos" "$page"
fi
nopage=()
for sub in $subcommands; do man -w "agentos.$sub" >/dev/null 2>&1 || nopage+=("agentos.$sub"); done
if ((${#nopage[@]} == 0)); then pass "a man page per subcommand ($subcommands)"; else failed "subcommands without a man page" "${nopage[@]}"; fi
unset MANPATH

# 5. The bash completion completes the subcommand names (those the binary's parser reports).
completion="$ROOT/usr/share/bash-completion/completions/agentos"
complete_words() { # LINE: what the completion offers at the end of LINE
  bash -c 'source "$1" && COMP_LINE="$2" && COMP_POINT=${#COMP_LINE} && read -r -a COMP_WORDS <<<"$2" &&
    [[ $2 == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _agentos agentos "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" &&
    printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$1" 2>&1 | sort | tr '\n' ' '
}
all="$(complete_words 'agentos ' | tr ' ' '\n' | grep -v '^-' | grep -v '^$' | sort | tr '\n' ' ')"
want="$(tr ' ' '\n' <<<"$subcommands" | sort | tr '\n' ' ')"
sn="$(complete_words 'agentos sn')"
if [[ -f $completion && $all == "$want" && $sn == "snapshot " ]]; then
  pass "bash completion: 'agentos <Tab>' offers the $(wc -w <<<"$want") subcommands, 'agentos sn<Tab>' gives snapshot"
else
  failed "bash completion ($completion)" "agentos <Tab>: '$all'" "expected:       '$want'" "agentos sn<Tab>: '$sn'"
fi

# 6. `--theme light` comes from the installed share directory: the real console in tmux, quit with q;
#    its log names the theme it drew with, and a missing theme is an error naming where it looked.
SHARE="$ROOT/usr/share/agentos"
tmux -S "$TMUX_SOCKET" -f /dev/null new-session -d -x 120 -y 40 \
  "cd '$T' && TERM=xterm-256color '$BIN/agentos' --theme light --log-file '$T/console.log' --log-level info --data-dir '$T/data' 2>'$T/console.err'; echo \$? >'$T/console.rc'"
for _ in $(seq 100); do
  grep -q 'console starting' "$T/console.log" 2>/dev/null && break
  sleep 0.1
done
sleep 1
tmux -S "$TMUX_SOCKET" send-keys q 2>/dev/null
for _ in $(seq 100); do [[ -s $T/console.rc ]] && break; sleep 0.1; done
started="$(grep 'console starting' "$T/console.log" 2>/dev/null)"
if [[ -f $SHARE/themes/light.yaml && $started == *theme=light* && $(cat "$T/console.rc" 2>/dev/null) == 0 && ! -s $T/console.err ]]; then
  pass "agentos --theme light: drawn with light from $SHARE/themes"
else
  failed "agentos --theme light" "log: ${started:-no 'console starting' line}" "stderr: $(head -c 400 "$T/console.err" 2>/dev/null)" \
    "exit: $(cat "$T/console.rc" 2>/dev/null)"
fi
printf 'theme: nosuch\n' >"$T/nosuch.yaml"
out="$("$BIN/agentos" config check "$T/nosuch.yaml" 2>&1)"
rc=$?
if ((rc == 78)) && [[ $out == *"no theme named 'nosuch'"* && $out == *"$SHARE/themes"* ]]; then
  pass "a missing theme exits 78 naming $SHARE/themes"
else
  failed "a missing theme" "exit $rc: $out"
fi

# 7. The example configuration parses with its theme and key map (passwords from the environment).
example="$ROOT/usr/share/doc/agentos/examples/config.yaml"
if out="$(REDIS_PASSWORD=x PGPASSWORD_AGENTOS=y "$BIN/agentos" config check "$example" 2>&1)"; then
  pass "the example configuration: $out"
else
  failed "agentos config check $example" "$out"
fi

# 8. The dashboards, themes and key maps are the source tree's; the units are valid and not enabled.
diffs=""
for kind in themes keymaps; do diffs+="$(diff -r "$REPO_ROOT/$kind" "$SHARE/$kind" 2>&1)"; done
for f in "$REPO_ROOT"/dashboards/*.json; do diffs+="$(cmp "$f" "$SHARE/dashboards/$(basename "$f")" 2>&1)"; done
if [[ -z $diffs ]]; then pass "themes, key maps and dashboards installed as in the source tree"; else failed "installed resources differ" "$diffs"; fi
units=("$ROOT"/lib/systemd/system/agentos-metrics.service "$ROOT"/lib/systemd/system/agentos-sim.service)
enabled="$(find "$ROOT/etc" -path '*systemd*' 2>/dev/null; ls "$ROOT/var/lib/dpkg/info/agentos."{postinst,preinst} 2>/dev/null)"
# (systemd-analyze looks for ExecStart's binary on this machine, where it is not installed.)
out="$(systemd-analyze verify --man=no "${units[@]}" 2>&1 | grep -v 'is not executable: No such file or directory')"
if [[ -z $enabled && -z $out ]] &&
  grep -q '^ExecStart=/usr/bin/agentos-metrics ' "${units[0]}" && grep -q '^ExecStart=/usr/bin/agentos sim' "${units[1]}"; then
  pass "systemd units for agentos-metrics and agentos sim, verified, neither enabled"
else
  failed "systemd units" "${out:-}" "enabled by: ${enabled:-nothing}"
fi

# 9. lintian: no errors (overrides in scripts/package/lintian-overrides, each with its reason).
lint="$(lintian --fail-on error "$DEB" 2>&1)"
rc=$?
if ((rc == 0)) && ! grep -q '^E:' <<<"$lint"; then
  pass "lintian: no errors ($(grep -c '^W:' <<<"$lint") warnings)"
else
  failed "lintian (exit $rc)" "$(grep -E '^[EW]:' <<<"$lint")"
fi
grep -E '^[WEI]:' <<<"$lint" | sed 's/^/      /' | sort | uniq -c | sort -rn | head -n 20

# 10. Removal leaves nothing of the package behind.
out="$("${DPKG[@]}" --purge agentos 2>&1)"
left="$(find "$ROOT/usr" "$ROOT/lib" -type f 2>/dev/null | head -n 5)"
if [[ -z $left ]] && ! "${DPKG[@]}" -s agentos >/dev/null 2>&1; then pass "dpkg --purge agentos leaves no file"; else
  failed "dpkg --purge agentos" "$out" "$left"; fi

printf 'package test took %d s\n' "$((SECONDS - START))"
printf 'package: %d passed, %d failed\n' "$PASSED" "$FAILED"
((FAILED == 0))
