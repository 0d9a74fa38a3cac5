#!/usr/bin/env bash
# The CI checks of deploy/, called from .ci/run: install.sh into throwaway roots (--root),
# and both units through `systemd-analyze verify` and `systemd-analyze security --offline`
# (an exposure level of 2.0 or lower). deploy_test.go does the checking; this script makes
# sure its tools are there, so that under CI=true nothing is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI=true

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# systemd-analyze comes with the package systemd; installing it in a container does not
# start it. useradd (passwd / shadow-utils) and dash are in every Debian and RHEL base.
if ! command -v systemd-analyze >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    as_root dnf install -y -q systemd
  fi
fi
systemd-analyze --version | head -1

echo "== deploy: install.sh parses as POSIX sh"
sh -n deploy/install.sh
if command -v shellcheck >/dev/null 2>&1; then shellcheck -s sh deploy/install.sh; fi

echo "== deploy: install.sh in throwaway roots; units: verify, security exposure"
# -count=1: the result depends on the tools installed, which the test cache does not see.
go test -count=1 -v ./deploy/
