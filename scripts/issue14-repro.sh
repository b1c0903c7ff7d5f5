#!/usr/bin/env bash
# The staggered total outage of issue 14, as an outside tester runs it on a
# onebox (etcd, 2 meta servers, 3 replica servers, defaults):
#
#   1. create st -p 1 -r 2; 4 clients write and read 10 keys at 200 ops/s
#      (config {P, B});
#   2. kill -9 B; the meta server removes it and P acknowledges writes alone;
#   3. stop the load, read the 10 keys (what was acknowledged last);
#      kill -9 P; wait until the partition has no primary;
#   4. start B, wait 15 s (ls -d says why the partition waits), start P;
#   5. once the partition has a primary, read the 10 keys again: every one
#      must hold what it held in step 3 (no acknowledged write lost).
#
# The load of steps 1-2 is checked for linearizability by `pegasus bench
# load`. Prints the verdict; exit status 0 only when nothing was lost and
# the load was linearizable.
#
#   scripts/issue14-repro.sh [pegasus binary]   (OUT: dir for the files; LOAD: load length, 10s)
set -euo pipefail
cd "$(dirname "$0")/.."
PEGASUS=${1:-}
if [[ -z "$PEGASUS" ]]; then
	PEGASUS=$(mktemp -d)/pegasus
	go build -o "$PEGASUS" ./cmd/pegasus
fi
command -v jq >/dev/null || apt-get install -y jq >/dev/null
OUT=${OUT:-$(mktemp -d)}
DIR=$OUT/onebox
mkdir -p "$OUT"
trap '"$PEGASUS" onebox clean --dir "$DIR" >/dev/null 2>&1 || true' EXIT
log() { echo "$(date -u +%H:%M:%S) $*"; }

"$PEGASUS" onebox start --dir "$DIR" >"$OUT/onebox.log" 2>&1
META=$(cat "$DIR/meta_servers")
sh() { "$PEGASUS" shell --meta "$META" "$@"; }
name_of() { "$PEGASUS" onebox status --dir "$DIR" --json | jq -r --arg a "$1" '.processes[] | select(.address == $a) | .name'; }
config() { sh --json -e "app st -d" 2>/dev/null | jq -c '.replicas[0] | {ballot, primary, secondaries}'; }
wait_for() { # wait_for <seconds> <description> <jq filter on config>
	local end=$((SECONDS + $1))
	while ((SECONDS < end)); do
		if config | jq -e "$3" >/dev/null 2>&1; then return 0; fi
		sleep 0.5
	done
	log "timed out after $1 s waiting for $2: $(config)"
	return 1
}
read_keys() { # the 10 keys' values, one sha256 per line
	for i in 0 1 2 3 4 5 6 7 8 9; do
		sh -e "use st; get ${PREFIX}$i \"\"" 2>&1 | sha256sum | cut -c1-16
	done
}

sh -e "create st -p 1 -r 2" >/dev/null
c=$(config)
P=$(name_of "$(jq -r .primary <<<"$c")")
B=$(name_of "$(jq -r '.secondaries[0]' <<<"$c")")
log "config $c: P=$P B=$B"
PREFIX=st-$$-

"$PEGASUS" bench load --meta "$META" --table st --keys 10 --rate 200 --workers 4 --read-ratio 0.5 \
	--duration "${LOAD:-10s}" --key-prefix "$PREFIX" --out "$OUT/load" >"$OUT/load.txt" 2>"$OUT/load.log" &
load=$!
sleep 5
log "kill -9 $B"
"$PEGASUS" onebox kill --dir "$DIR" "$B" >/dev/null
wait_for 30 "a configuration without $B" '(.secondaries // []) == [] and .primary != ""'
log "config $(config): $P alone acknowledges writes"
wait "$load" || true
log "load stopped: $(jq -r '"\(.ops) ops, \(.failed_ops) failed (\(.unknown_ops) unknown), linearizability \(.linearizability)"' "$OUT/load/report.json")"
read_keys >"$OUT/before"

log "kill -9 $P"
"$PEGASUS" onebox kill --dir "$DIR" "$P" >/dev/null
wait_for 60 "no primary" '.primary == ""'
log "config $(config): no primary"
log "start $B"
"$PEGASUS" onebox start-node --dir "$DIR" "$B" >/dev/null
sleep 15
log "after 15 s: config $(config)"
sh -e "ls -d" >"$OUT/ls-d.txt" 2>&1 || true
log "ls -d: $(grep -iE 'wait|st ' "$OUT/ls-d.txt" | head -3 | tr '\n' ' ')"
log "start $P"
"$PEGASUS" onebox start-node --dir "$DIR" "$P" >/dev/null
wait_for 120 "a primary" '.primary != ""'
c=$(config)
log "config $c: primary $(name_of "$(jq -r .primary <<<"$c")")"
read_keys >"$OUT/after"

lost=$(paste "$OUT/before" "$OUT/after" | awk '$1 != $2' | wc -l)
lin=$(jq -r '.linearizability' "$OUT/load/report.json")
ops=$(jq -r '.ops' "$OUT/load/report.json")
echo "keys changed across the outage (acknowledged writes lost): $lost of 10; load: $ops ops, linearizable: $lin"
[[ "$lost" == 0 && "$lin" == ok ]]
