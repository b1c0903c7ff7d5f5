#!/usr/bin/env bash
# Runs fault scenarios several times each and prints the fault matrix of
# docs/correctness.md: one markdown row per run (schedule, run, ops, failed,
# unknown, acknowledged writes lost, linearizable, longest stall, counters).
#
#   scripts/safety-matrix.sh [scenario ...]
#
# Default scenarios: staggered-outage staggered-outage-r3 etcd-outage
# clock-step counter-restarts isolate-primary-migrate (the last needs root
# and iproute2: it runs on a netns onebox).
# Environment (all optional):
#   RUNS       runs per scenario (default 5)
#   PEGASUS    the pegasus binary (default: built from this checkout)
#   OUT        directory for every run's report (default bench-results/matrix)
#   DURATION   minimum load of each run (default 30s)
#   LIMIT      wall-clock bound of one run (default 15m); a run past it is killed
#   EXTRA      extra flags for every run
#
# A run that fails its checks still prints its row; jq reads report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
OUT=${OUT:-bench-results/matrix}
DURATION=${DURATION:-30s}
LIMIT=${LIMIT:-15m}
if [[ -z "${PEGASUS:-}" ]]; then
	PEGASUS=$(mktemp -d)/pegasus
	go build -o "$PEGASUS" ./cmd/pegasus
fi
command -v jq >/dev/null || apt-get install -y jq >/dev/null
scenarios=("$@")
if [[ ${#scenarios[@]} -eq 0 ]]; then
	scenarios=(staggered-outage staggered-outage-r3 etcd-outage clock-step counter-restarts isolate-primary-migrate)
fi
mkdir -p "$OUT"
echo "| schedule | run | ops | failed | unknown | lost | linearizable | longest stall | counters |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
for s in "${scenarios[@]}"; do
	for i in $(seq 1 "$RUNS"); do
		dir="$OUT/$s-$i"
		rm -rf "$dir"
		# SIGTERM lets the run check what it has and stop its onebox; SIGKILL 5 min
		# later if not.
		# shellcheck disable=SC2086
		timeout -k 5m "$LIMIT" "$PEGASUS" bench scenario "$s" --duration "$DURATION" --out "$dir" ${EXTRA:-} >"$dir.txt" 2>"$dir.log" || true
		if [[ -f "$dir/report.json" ]]; then
			jq -r --arg s "$s" --arg i "$i" '
				def counters: if (.counters // []) == [] then "-" else
					"\([.counters[].ops] | add) ops, \([.counters[].failed] | add) failed, \([.counters[].unknown] | add) unknown, " +
					(if all(.counters[]; (.problem // "") == "") then "exactly-once" else "broken: \([.counters[] | select((.problem // "") != "") | .problem] | join("; "))" end)
				end;
				"| \($s) | \($i) | \(.load.ops) | \(.failed_ops) | \(.unknown_ops) | \(.lost_writes) | \(if .linearizability == "ok" then "yes" else .linearizability end) | \(.longest_stall_ms / 1000 * 10 | round / 10) s | \(counters) |"' \
				"$dir/report.json"
		else
			echo "| $s | $i | - | - | - | - | no report: $(tail -1 "$dir.log") | - | - |"
		fi
	done
done
