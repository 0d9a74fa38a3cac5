#!/bin/sh
# Renders the HTML part of the demo's digest with headless Chromium into digest.png here.
# A manual step, not part of `go test` (CI has no Chromium): run it after changing the
# digest (verifier/digest.go) and commit the PNG. Needs: apt-get install chromium fonts-noto-cjk
#
#   deploy/screenshots/make.sh          (from the repository's root)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here/../.."
out=$(go run ./cmd/hosho-intake demo)
html=$(printf '%s\n' "$out" | sed -n 's/^The digest.s HTML part is \(.*\)\.$/\1/p')
dir=$(printf '%s\n' "$out" | sed -n 's/^Remove \(.*\) when done\.$/\1/p')
[ -n "$html" ] && [ -n "$dir" ] || { echo "make.sh: the demo printed no digest" >&2; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$dir" "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
	--disable-sync --no-first-run --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor=1 \
	--window-size=900,${HEIGHT:-3400} --screenshot="$here/digest.png" "file://$html" 2>/dev/null
echo "wrote $here/digest.png"
