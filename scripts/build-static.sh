#!/usr/bin/env bash
# Builds the static pegasus binary the container image ships, and checks it.
# The Dockerfile runs exactly this; CI runs it too (no Docker engine there),
# so the image's build steps are tested on every change.
#
#   scripts/build-static.sh OUT [COMMIT [BUILD_TIME]]
#
# COMMIT and BUILD_TIME default to the git checkout's HEAD and its commit
# time; a build context without .git passes them (docker build --build-arg).
set -euo pipefail
out=${1:?usage: $0 OUT [COMMIT [BUILD_TIME]]}
cd "$(dirname "$0")/.."
commit=${2:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
build_time=${3:-$(git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null || echo unknown)}
pkg=github.com/pegasus-go/pegasus/internal/version

# CGO off: a static binary that runs on any base image, including one
# without a C library. -trimpath keeps build paths out of the binary.
CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false" go build -trimpath \
	-ldflags "-s -w -X $pkg.commit=$commit -X $pkg.buildTime=$build_time" \
	-o "$out" ./cmd/pegasus

# Static: no program interpreter (dynamic loader) in the ELF headers.
if grep -q 'ld-linux' "$out"; then
	echo "$out is dynamically linked" >&2
	exit 1
fi
"$out" version | grep -q "commit:     $commit" || { echo "$out does not report commit $commit" >&2; exit 1; }
echo "built $out ($commit, $build_time)"
