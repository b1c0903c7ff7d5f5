#!/usr/bin/env bash
# Runs the official Apache Pegasus Go client's own test suite (its `pegasus`
# package) against a local onebox of this project, and prints the result.
#
#   scripts/pegasus-go-client-suite.sh PATH [go test flags...]
#
# PATH is a checkout of the Apache Pegasus repository (its go-client/ is
# used) or of go-client/ itself. This script downloads nothing but the
# client's Go modules, through the Go module proxy; the checkout is copied
# to a work directory first, so it is left as it was.
#
# What it does:
#   1. builds `pegasus` from this repository and the client's test binary;
#   2. starts a onebox with 3 meta servers in a temporary directory and
#      creates the table the suite uses (temp, 8 partitions, 3 replicas);
#   3. forwards 127.0.0.1:34601-34603, where the suite expects Pegasus'
#      meta servers, to the meta servers' Pegasus-protocol ports (socat);
#   4. runs the suite (-test.v), prints each test's result and a total,
#      stops everything it started and exits with the suite's status.
#
# Needs: Go, socat (Debian: apt-get install socat), ports 34601-34603 free.
# Environment: KEEP=1 keeps the work directory (onebox, logs, suite output).
set -euo pipefail

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 PATH-TO-PEGASUS-CHECKOUT [go test flags...]" >&2
	exit 2
fi
src=$(cd "$1" && pwd)
shift
[ -f "$src/go-client/go.mod" ] && src="$src/go-client"
if ! grep -q '^module github.com/apache/incubator-pegasus/go-client' "$src/go.mod" 2>/dev/null; then
	echo "$src is not the Apache Pegasus go-client (no go.mod of that module)" >&2
	exit 2
fi
command -v socat >/dev/null || { echo "socat is missing (Debian: apt-get install socat)" >&2; exit 2; }

repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d -t pegasus-go-client-suite.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -f "$work/onebox/onebox.json" ]; then
		"$work/pegasus" onebox stop --dir "$work/onebox" >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

echo "== building pegasus and the client's test binary"
(cd "$repo" && go build -o "$work/pegasus" ./cmd/pegasus)
cp -r "$src" "$work/go-client"
chmod -R u+w "$work/go-client"
# The client's go.sum lacks some test dependencies; tidy fills them in
# from the module proxy (in the copy only).
(cd "$work/go-client" && go mod tidy >/dev/null && go test -c -o "$work/pegasus.test" ./pegasus)

echo "== starting a onebox with 3 meta servers"
"$work/pegasus" onebox start --dir "$work/onebox" --metas 3 >"$work/onebox-start.log"
metas=$(cat "$work/onebox/meta_servers")
# The suite connects to Pegasus-protocol addresses: the metas' pegasus_listen.
mapfile -t pmetas < <("$work/pegasus" onebox status --dir "$work/onebox" --json |
	grep -A3 '"role": "meta"' | sed -n 's/.*"pegasus_address": "\(.*\)".*/\1/p')
if [ "${#pmetas[@]}" -ne 3 ]; then
	echo "expected 3 meta Pegasus addresses, got: ${pmetas[*]:-none}" >&2
	exit 1
fi
"$work/pegasus" shell --meta "$metas" -e "create temp -p 8 -r 3"

echo "== forwarding 127.0.0.1:34601-34603 to ${pmetas[*]}"
for i in 0 1 2; do
	socat "TCP-LISTEN:$((34601 + i)),bind=127.0.0.1,reuseaddr,fork" "TCP:${pmetas[$i]}" &
	pids+=($!)
done
for i in 0 1 2; do
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$((34601 + i))") 2>/dev/null && break
		sleep 0.1
	done
done

echo "== running the suite"
set +e
(cd "$work/go-client/pegasus" && "$work/pegasus.test" -test.v -test.timeout 15m "$@") >"$work/suite.log" 2>&1
rc=$?
set -e
grep -E '^(--- (PASS|FAIL|SKIP)|(ok|FAIL|PASS)$|panic:)' "$work/suite.log" || true
passed=$(grep -c '^--- PASS' "$work/suite.log" || true)
failed=$(grep -c '^--- FAIL' "$work/suite.log" || true)
skipped=$(grep -c '^--- SKIP' "$work/suite.log" || true)
echo "$passed passed, $failed failed, $skipped skipped"
if [ "$rc" -ne 0 ]; then
	echo "suite exited $rc; its output: $work/suite.log (KEEP=1 keeps it)"
fi
exit "$rc"
