#!/usr/bin/env bash
# Builds the Debian package agentos_<version>_<arch>.deb with dpkg-deb (no network): both binaries with
# the Swift runtime and Foundation linked statically, so they need only Debian's libraries.
#
# Usage: scripts/package.sh [--out DIR]     prints the .deb's path on stdout (build output on stderr)
# Env:   AGENTOS_PACKAGE_SCRATCH=DIR   the release build's scratch path (default .build-release)
#        DEBFULLNAME / DEBEMAIL        the Maintainer field and the changelog's signature
#        SOURCE_DATE_EPOCH             the date of the man pages and the changelog (default: the last commit's)
# Inputs: scripts/package/ (systemd units, examples, description); everything else is generated here
# from the build: the version (`agentos --version`), man pages and completions (the argument parser),
# Depends (dpkg-shlibdeps), the changelog and the copyright file.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OUT=""
while (($#)); do
  case $1 in
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    -h | --help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

ensure_apt_packages "${BUILD_DEPS[@]}" "${PACKAGE_DEPS[@]}"
ensure_swift
cd "$REPO_ROOT"
umask 022
INPUTS="$REPO_ROOT/scripts/package"
SCRATCH="${AGENTOS_PACKAGE_SCRATCH:-$REPO_ROOT/.build-release}"
OUT="${OUT:-$SCRATCH/deb}"

# ---------------------------------------------------------------- build
# A scratch path of its own so the static build does not fight the debug one; no $ORIGIN run path
# (nothing is loaded from beside the binary); --as-needed keeps only the libraries really used; -z now
# binds every symbol at start (with the default RELRO, the GOT is then read-only).
FLAGS=(-c release --static-swift-stdlib --disable-local-rpath --scratch-path "$SCRATCH" -Xlinker --as-needed -Xlinker -z -Xlinker now)
log "release build with the Swift runtime linked statically ($SCRATCH)"
swift build "${FLAGS[@]}" >&2 || die "swift build ${FLAGS[*]} failed"
# The argument parser's man page generator (a tool of the swift-argument-parser dependency).
swift build "${FLAGS[@]}" --product generate-manual >&2 || die "building generate-manual failed"
BIN="$SCRATCH/release"

VERSION="$("$BIN/agentos" --version)"
[[ $VERSION =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || die "agentos --version printed '$VERSION', not a native Debian version"
ARCH="$(dpkg --print-architecture)"
EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$REPO_ROOT" log -1 --format=%ct 2>/dev/null || date +%s)}"
MAINTAINER="${DEBFULLNAME:-AgentOS Console maintainers} <${DEBEMAIL:-maintainers@users.noreply.r-seed-56eeef65.example}>"

# ---------------------------------------------------------------- the tree
WORK="$SCRATCH/deb-work"
PKG="$WORK/debian/agentos" # dpkg-shlibdeps wants the usual debian/<package> layout
rm -rf "$WORK"
mkdir -p "$PKG/DEBIAN" "$OUT"
DOC="$PKG/usr/share/doc/agentos"
SHARE="$PKG/usr/share/agentos"
install -d "$PKG/usr/bin" "$SHARE/themes" "$SHARE/keymaps" "$SHARE/dashboards" "$PKG/usr/share/man/man1" \
  "$DOC/examples" "$PKG/lib/systemd/system" "$PKG/usr/share/bash-completion/completions" \
  "$PKG/usr/share/zsh/vendor-completions" "$PKG/usr/share/fish/vendor_completions.d"

for exe in agentos agentos-metrics; do
  install -m 755 "$BIN/$exe" "$PKG/usr/bin/$exe"
  # As dh_strip does: no symbols, no .comment/.note (Swift's metadata sections stay).
  strip --remove-section=.comment --remove-section=.note --strip-unneeded "$PKG/usr/bin/$exe"
done
install -m 644 themes/*.yaml "$SHARE/themes/"
install -m 644 keymaps/*.yaml "$SHARE/keymaps/"
install -m 644 dashboards/*.json "$SHARE/dashboards/"

# Man pages and completions come from the argument parser of the binaries being packaged.
MAN_TMP="$WORK/man"
mkdir -p "$MAN_TMP"
for exe in agentos agentos-metrics; do
  "$BIN/generate-manual" "$PKG/usr/bin/$exe" --multi-page --section 1 \
    --date "$(date -u -d "@$EPOCH" +%F)" --output-directory "$MAN_TMP" >&2
  # Sourced, not run: no #! line.
  "$PKG/usr/bin/$exe" --generate-completion-script bash | sed '1{/^#!/d}' >"$PKG/usr/share/bash-completion/completions/$exe"
  "$PKG/usr/bin/$exe" --generate-completion-script zsh >"$PKG/usr/share/zsh/vendor-completions/_$exe"
  "$PKG/usr/bin/$exe" --generate-completion-script fish >"$PKG/usr/share/fish/vendor_completions.d/$exe.fish"
done
# A subcommand's page names itself "agentos audit tail", which whatis/apropos cannot index (no spaces
# in NAME): NAME gets the page's name (agentos.audit.tail), the synopsis keeps the words.
for page in "$MAN_TMP"/*.1; do
  name="$(basename "$page" .1)"
  words="$(sed -n 's/^\.Nm "\(.* .*\)"$/\1/p' "$page" | head -n 1)"
  if [[ -n $words ]]; then
    sed -e "s/^\.Nm \"$words\"\$/.Nm $name/" -e "s/^\.Nm\$/.Nm \"$words\"/" "$page"
  else
    cat "$page"
  fi | gzip -9n >"$PKG/usr/share/man/man1/$name.1.gz"
done
chmod 644 "$PKG"/usr/share/man/man1/* "$PKG"/usr/share/*/*completion*/* "$PKG"/usr/share/fish/vendor_completions.d/*

install -D -m 644 "$INPUTS/lintian-overrides" "$PKG/usr/share/lintian/overrides/agentos"
install -m 644 "$INPUTS/agentos-metrics.service" "$INPUTS/agentos-sim.service" "$PKG/lib/systemd/system/"
install -m 644 "$INPUTS/config.yaml" "$INPUTS/agentos.env" "$DOC/examples/"

# ---------------------------------------------------------------- changelog and copyright
RFC_DATE="$(LC_ALL=C date -u -R -d "@$EPOCH")"
COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
printf 'agentos (%s) unstable; urgency=medium\n\n  * Release %s, built from commit %s.\n\n -- %s  %s\n' \
  "$VERSION" "$VERSION" "$COMMIT" "$MAINTAINER" "$RFC_DATE" | gzip -9n >"$DOC/changelog.gz"

# The project itself, then everything linked into the binaries: the Swift toolchain's runtime and
# Foundation, and each SwiftPM dependency with the licence file it ships.
{
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: agentos
Comment: The binaries link the Swift standard library, Foundation and Dispatch of the Swift
 $(swift --version 2>/dev/null | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1) toolchain statically, and the Swift packages listed below.

Files: *
Copyright: $(date -u -d "@$EPOCH" +%Y) AgentOS Console maintainers
License: proprietary
 No licence is granted in the AgentOS Console source tree; all rights reserved
 by its maintainers.

Files: swift-toolchain/*
Copyright: Apple Inc. and the Swift project authors
License: Apache-2.0 with Runtime Library Exception
Comment: Foundation's internationalization data comes from ICU (swift-foundation-icu),
 under the Unicode License.
EOF
  for dir in "$SCRATCH"/checkouts/*/; do
    name="$(basename "$dir")"
    lic="$(find "$dir" -maxdepth 1 -iname 'LICENSE*' | sort | head -n 1)"
    [[ -n $lic ]] || die "no licence file in the dependency $name"
    holder="$(grep -m 1 -h -i '^ *copyright (c)\|^ *copyright [0-9]' "$lic" "$dir"/NOTICE* 2>/dev/null |
      sed 's/^ *[Cc]opyright *\(([Cc]) *\)\{0,1\}//' || true)"
    printf '\nFiles: swiftpm-dependencies/%s/*\nCopyright: %s\n' "$name" "${holder:-the $name authors}"
    if grep -q 'Apache License' "$lic"; then
      echo 'License: Apache-2.0'
    elif grep -q -i 'MIT License\|Permission is hereby granted, free of charge' "$lic"; then
      echo 'License: MIT'
      sed -e 's/^[[:space:]]*$/./' -e 's/^/ /' "$lic"
    else
      die "the licence of $name ($lic) is neither Apache-2.0 nor MIT: add it to scripts/package.sh"
    fi
  done
  if [[ -d $SCRATCH/checkouts/Yams/Sources/CYaml ]]; then
    # Yams compiles its own copy of libyaml (see the lintian override).
    printf '\nFiles: swiftpm-dependencies/Yams/Sources/CYaml/*\nCopyright: 2006-2016 Kirill Simonov\n 2017-2020 Ingy döt Net\nLicense: MIT\n'
    printf ' Under the MIT licence text given for Yams above.\n'
  fi
  cat <<'EOF'

License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.

License: Apache-2.0 with Runtime Library Exception
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0. The exception:
 .
EOF
  # The toolchain's own text of the exception (the last section of its LICENSE.txt).
  sed -n '/Runtime Library Exception/,$p' "$(dirname "$(command -v swift)")/../share/swift/LICENSE.txt" |
    sed -e 's/^[[:space:]]*$/./' -e 's/^/ /'
} >"$DOC/copyright"
chmod 644 "$DOC/copyright"

# ---------------------------------------------------------------- control
# Depends from the libraries the binaries really load (dpkg-shlibdeps reads their NEEDED entries and
# the shlibs/symbols files of the Debian packages that own them).
printf 'Source: agentos\n\nPackage: agentos\nArchitecture: any\n' >"$WORK/debian/control"
DEPENDS="$(cd "$WORK" && dpkg-shlibdeps -O debian/agentos/usr/bin/agentos debian/agentos/usr/bin/agentos-metrics |
  sed -n 's/^shlibs:Depends=//p')"
[[ -n $DEPENDS ]] || die "dpkg-shlibdeps computed no Depends"
{
  echo "Package: agentos"
  echo "Version: $VERSION"
  echo "Architecture: $ARCH"
  echo "Maintainer: $MAINTAINER"
  echo "Installed-Size: $(du -sk --exclude=DEBIAN "$PKG" | cut -f1)"
  echo "Depends: $DEPENDS"
  echo "Suggests: postgresql-client"
  echo "Section: admin"
  echo "Priority: optional"
  echo "Description: $(cat "$INPUTS/description.txt")"
} >"$PKG/DEBIAN/control"
(cd "$PKG" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$PKG/DEBIAN/md5sums"
chmod 644 "$PKG/DEBIAN/control" "$PKG/DEBIAN/md5sums"

DEB="$OUT/agentos_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$DEB" >&2
log "built $DEB (Depends: $DEPENDS)"
printf '%s\n' "$DEB"
