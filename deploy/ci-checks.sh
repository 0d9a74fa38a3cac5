#!/usr/bin/env bash
# The CI checks of deploy/, called from .ci/run: install.sh into throwaway roots (--root),
# and both units through `systemd-analyze verify` and `systemd-analyze security --offline`
# (an exposure level of 2.0 or lower); the amd64 .deb built by build-deb.sh, taken apart
# with dpkg-deb, checked by lintian and installed, upgraded and purged with dpkg --root.
# deploy_test.go and deb_test.go do the checking; this script makes sure their tools are
# there, so that under CI=true nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# systemd-analyze comes with the package systemd; installing it in a container does not
# start it. useradd (passwd / shadow-utils) and dash are in every Debian and RHEL base.
# dpkg-deb comes with dpkg (Essential on Debian); lintian is a package of its own.
missing=()
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v lintian >/dev/null 2>&1 || missing+=(lintian)
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y -q "${missing[@]}"
  fi
fi
systemd-analyze --version | head -1
lintian --version

echo "== deploy: install.sh, build-deb.sh and the package's maintainer scripts parse as POSIX sh"
scripts=(deploy/install.sh deploy/build-deb.sh deploy/deb/postinst deploy/deb/prerm deploy/deb/postrm)
for s in "${scripts[@]}"; do sh -n "$s"; done
if command -v shellcheck >/dev/null 2>&1; then shellcheck -s sh "${scripts[@]}"; fi

echo "== deploy: install.sh in throwaway roots; units: verify, security exposure; the .deb"
# -count=1: the result depends on the tools installed, which the test cache does not see.
go test -count=1 -v ./deploy/
