#!/usr/bin/env bash
# Takes a headless screenshot of the collector's cluster page.
#
#   scripts/screenshot.sh [URL] [OUTPUT]
#
# URL defaults to the collector's default address, http://127.0.0.1:34101/;
# OUTPUT to docs/cluster-page.png in the repository. Debian's chromium is
# installed first when no chromium is on the PATH.
set -euo pipefail

url=${1:-http://127.0.0.1:34101/}
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${2:-$repo/docs/cluster-page.png}

if ! command -v chromium >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	fi
	echo "installing chromium" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi

# Fail early with a clear message rather than photograph an error page.
if ! curl -fsS -o /dev/null --max-time 5 "$url"; then
	echo "screenshot: $url does not answer; is the collector running?" >&2
	exit 1
fi

mkdir -p "$(dirname "$out")"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# The page renders every section on the server and draws the availability
# timeline from data embedded in it, so the screenshot needs no wait for
# the page's polling.
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
	--disable-background-networking --disable-component-update --disable-sync \
	--user-data-dir="$profile" --window-size=1280,900 \
	--screenshot="$out" "$url" 2>/dev/null
echo "$out"
