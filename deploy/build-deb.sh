#!/bin/sh
# build-deb.sh: the release an offline network installs: a static binary and a .deb for
# each architecture.
#
#   deploy/build-deb.sh [--version V] [--arch ARCH]... [--out DIR]
#   deploy/build-deb.sh --deb-version V      print the Debian version made of V, and exit
#
# For each ARCH (amd64 and arm64 unless --arch says), into DIR (dist/ of the checkout unless
# --out says):
#   hosho-intake-V-linux-ARCH       the static binary (CGO_ENABLED=0): runs on any Linux of
#                                   that architecture; deploy/install.sh --binary installs it
#   hosho-intake_DEBV_ARCH.deb      the package: sudo apt install ./hosho-intake_DEBV_ARCH.deb
# and DIR/SHA256SUMS of the files this run wrote.
#
# V is stamped into the binary (what `hosho-intake version` prints) and defaults to
# `git describe --tags --always --dirty`. DEBV is V as dpkg orders versions: v1.2.0 gives
# 1.2.0, v1.2.0-3-gabc1234 gives 1.2.0+3.gabc1234, and an untagged commit abc1234 gives
# 0~git20250101120000.abc1234 (the commit's time in UTC, so that a later commit is newer).
#
# Needs Go (go.mod's version), dpkg-deb, gzip and md5sum. Every file in a .deb carries the
# commit's time (SOURCE_DATE_EPOCH, unless it is set), so one commit gives the same files.
set -eu

name=hosho-intake
here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
# The package's maintainer, as git records this project's commits.
maintainer=${DEB_MAINTAINER:-"hosho-intake maintainers <maintainers@users.noreply.r-seed-7b6205aa.example>"}

usage() {
	sed -n '2,21s/^# \{0,1\}//p' "$0"
}

die() {
	printf 'build-deb.sh: %s\n' "$*" >&2
	exit 1
}

in_git() {
	git -C "$src" rev-parse --git-dir >/dev/null 2>&1
}

# untagged tells whether V ($1) is what git describe --always prints where no tag is: an
# abbreviated commit, maybe -dirty. One that starts with a digit (15f77ff) is no release
# 15; a tag of hex digits only (20250101) still is one.
untagged() {
	h=${1%-dirty}
	case $h in
	*[!0-9a-f]*) return 1 ;;
	esac
	[ ${#h} -ge 7 ] && [ ${#h} -le 40 ] || return 1
	! git -C "$src" show-ref --verify --quiet "refs/tags/$h" 2>/dev/null
}

# deb_version prints V ($1) as a Debian version without a revision: a leading digit, then
# only letters, digits and . + ~ (no hyphen: the package is native, the project's own).
deb_version() {
	[ -n "$1" ] || die "an empty version"
	v=${1#v}
	case $v in
	[0-9]*) untagged "$1" && v=x$v ;;
	esac
	case $v in
	[0-9]*)
		# v1.2.0-3-gabc1234-dirty: 3 commits after the tag sort after it.
		first=${v%%-*}
		rest=
		[ "$first" = "$v" ] || rest=+$(printf '%s' "${v#*-}" | tr - .)
		v=$first$rest
		;;
	*)
		# No tag: before any release (~), ordered by the commit's time.
		when=
		if in_git; then
			when=git$(TZ=UTC0 git -C "$src" log -1 --format=%cd --date=format-local:%Y%m%d%H%M%S).
		fi
		v=0~$when$(printf '%s' "$1" | tr - .)
		;;
	esac
	case $v in
	*[!0-9A-Za-z.+~]*) die "version $1 gives $v, which is no Debian version (letters, digits and . + ~ only)" ;;
	esac
	printf '%s\n' "$v"
}

VERSION=
ARCHES=
OUT=
while [ $# -gt 0 ]; do
	case $1 in
	--version) [ $# -ge 2 ] || die "--version needs a value"; VERSION=$2; shift 2 ;;
	--version=*) VERSION=${1#--version=}; shift ;;
	--arch) [ $# -ge 2 ] || die "--arch needs a value"; ARCHES="$ARCHES $2"; shift 2 ;;
	--arch=*) ARCHES="$ARCHES ${1#--arch=}"; shift ;;
	--out) [ $# -ge 2 ] || die "--out needs a directory"; OUT=$2; shift 2 ;;
	--out=*) OUT=${1#--out=}; shift ;;
	--deb-version) [ $# -ge 2 ] || die "--deb-version needs a value"; deb_version "$2"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

if [ -z "$VERSION" ]; then
	in_git || die "not a git checkout: give --version"
	VERSION=$(git -C "$src" describe --tags --always --dirty)
fi
case $VERSION in
*[!0-9A-Za-z.+~_-]*) die "version $VERSION: letters, digits and . + ~ _ - only" ;;
esac
debversion=$(deb_version "$VERSION")
ARCHES=${ARCHES:-amd64 arm64}
for arch in $ARCHES; do
	# Debian's and Go's names agree for these two; others are untested.
	case $arch in
	amd64 | arm64) ;;
	*) die "architecture $arch: amd64 or arm64" ;;
	esac
done
for tool in go dpkg-deb gzip md5sum sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
	SOURCE_DATE_EPOCH=$(git -C "$src" log -1 --format=%ct 2>/dev/null || date +%s)
fi
export SOURCE_DATE_EPOCH
commit=$(git -C "$src" rev-parse HEAD 2>/dev/null || echo unknown)

OUT=${OUT:-$src/dist}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The files in the package are root's and keep the modes given here; nothing else is
# group- or world-writable.
umask 022

# copyright writes the copyright file for the binary $1: this project's licence and, since
# a static Go binary carries its modules and Go's standard library, each of their licences
# (MIT and BSD ask for their notice with every copy of the binary).
copyright() {
	cat <<EOT
hosho-intake

Copyright: the hosho-intake authors
License: Apache-2.0
 Licensed under the Apache License, Version 2.0. On Debian systems, the full text of the
 Apache License, Version 2.0 is in /usr/share/common-licenses/Apache-2.0.

/usr/bin/hosho-intake is statically linked with the Go standard library ($(go env GOVERSION))
and these Go modules, each under its own licence, given in full below:
EOT
	go version -m "$1" | awk '$1 == "dep" { printf "  %s %s\n", $2, $3 }'
	goroot=$(go env GOROOT)
	printf '\n==== Go standard library %s: LICENSE\n\n' "$(go env GOVERSION)"
	cat "$goroot/LICENSE"
	deps=$(go version -m "$1" | awk '$1 == "dep" { print $2 }')
	[ -n "$deps" ] || return 0
	# shellcheck disable=SC2086 # one argument per module path
	(cd "$src" && go list -m -f '{{.Path}} {{.Version}} {{.Dir}}' $deps) |
		while read -r path version dir; do
			[ -n "$dir" ] || die "module $path $version is not in the module cache (go mod download)"
			found=no
			# Names as modules spell them: LICENSE, License.txt (agnivade/levenshtein), COPYING, NOTICE.
			for f in "$dir"/[Ll][Ii][Cc][Ee][Nn][CcSs][Ee]* "$dir"/COPYING* "$dir"/NOTICE*; do
				[ -f "$f" ] || continue
				printf '\n==== %s %s: %s\n\n' "$path" "$version" "${f##*/}"
				cat "$f"
				found=yes
			done
			[ $found = yes ] || die "module $path $version has no LICENSE file in $dir"
		done
}

# unit writes the packaged copy of the unit $1: the binary is /usr/bin/hosho-intake, not
# install.sh's /usr/local/bin (Debian packages own /usr; /usr/local is the admin's).
unit() {
	cat <<EOT
# Packaged by deploy/build-deb.sh: this file is /usr/lib/systemd/system/$1 and the binary
# /usr/bin/hosho-intake (the comments below speak of install.sh's /etc/systemd/system and
# /usr/local/bin); the package's postinst creates the user and the empty secret files.
EOT
	sed 's|/usr/local/bin/hosho-intake|/usr/bin/hosho-intake|g' "$here/$1"
}

written=
for arch in $ARCHES; do
	bin=$name-$VERSION-linux-$arch
	echo "building $bin"
	# -trimpath: no path of this machine in the binary; -s -w: no symbol table or DWARF
	# (Debian strips binaries; panics still name functions and lines).
	(cd "$src" && CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$OUT/$bin" ./cmd/$name)
	touch -d "@$SOURCE_DATE_EPOCH" "$OUT/$bin"

	stage=$tmp/$arch
	doc=$stage/usr/share/doc/$name
	install -d -m 0755 "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/systemd/system" "$doc" \
		"$stage/usr/share/lintian/overrides"
	# Root's and the group hosho-intake's only (postinst gives them the group, which does
	# not exist when dpkg unpacks them): the config names the mail servers, the accounts
	# and the clerks.
	install -d -m 0750 "$stage/etc/$name"
	install -m 0640 "$here/config.example.toml" "$stage/etc/$name/config.toml"
	install -m 0755 "$OUT/$bin" "$stage/usr/bin/$name"
	for u in "$name.service" "$name@.service" "$name-backup.service" "$name-backup.timer" "$name-backup@.service" "$name-backup@.timer"; do
		unit "$u" >"$stage/usr/lib/systemd/system/$u"
	done
	copyright "$OUT/$bin" >"$doc/copyright"
	LC_ALL=C date -R -d "@$SOURCE_DATE_EPOCH" >"$tmp/date"
	cat >"$tmp/changelog" <<EOT
$name ($debversion) unstable; urgency=medium

  * hosho-intake $VERSION,
    built from commit $commit.

 -- $maintainer  $(cat "$tmp/date")
EOT
	gzip -9n <"$tmp/changelog" >"$doc/changelog.gz"
	if [ -f "$src/CHANGELOG.md" ]; then gzip -9n <"$src/CHANGELOG.md" >"$doc/CHANGELOG.md.gz"; fi
	cp "$here/deb/lintian-overrides" "$stage/usr/share/lintian/overrides/$name"
	for script in postinst prerm postrm; do
		install -m 0755 "$here/deb/$script" "$stage/DEBIAN/$script"
	done
	echo "/etc/$name/config.toml" >"$stage/DEBIAN/conffiles"
	(cd "$stage" && find usr -type f | LC_ALL=C sort | while read -r f; do md5sum "$f"; done) >"$stage/DEBIAN/md5sums"
	chmod 0644 "$stage/DEBIAN/conffiles" "$stage/DEBIAN/md5sums" "$stage/usr/share/lintian/overrides/$name"
	size=$(du -sk "$stage/usr" "$stage/etc" | awk '{ s += $1 } END { print s }')
	# Depends: passwd for postinst's useradd and groupadd; the binary itself needs nothing
	# (static, and it reads PDFs itself: poppler is only the tests' peer).
	cat >"$stage/DEBIAN/control" <<EOT
Package: $name
Version: $debversion
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: passwd
Section: mail
Priority: optional
Description: surety certificate notices from a public-works agency's mailbox
 hosho-intake is a daemon for Japanese public-works agencies. It polls the
 agency's mailbox (IMAP) for the notices that surety companies issue for
 electronic guarantee certificates, checks each against the agency's rules,
 queues it for a clerk to verify, mails the clerks a daily digest and answers
 every contractor in Japanese (SMTP), once.
 .
 The package holds a static binary, the systemd units hosho-intake.service and
 hosho-intake@.service (one per mailbox), a daily backup timer and the example
 config /etc/hosho-intake/config.toml. Nothing is started until it is enabled.
EOT
	find "$stage" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
	deb=${name}_${debversion}_$arch.deb
	# --root-owner-group: every file root:root without fakeroot; postinst sets the group.
	dpkg-deb --root-owner-group -Zxz --build "$stage" "$OUT/$deb" >/dev/null
	echo "built $OUT/$deb"
	written="$written $bin $deb"
done

# shellcheck disable=SC2086 # one argument per file name; none has a space
(cd "$OUT" && sha256sum $written) >"$OUT/SHA256SUMS"
echo "wrote $OUT/SHA256SUMS"
