#!/usr/bin/env bash
# Benchmarks `pegasus redis-proxy` over a local onebox side by side with a
# local redis-server, using redis-benchmark, and prints a markdown table.
#
#   scripts/redis-bench.sh
#
# Environment (all optional):
#   REQUESTS      requests per run (default 100000)
#   CLIENTS       parallel connections (default 50)
#   DATA_SIZE     value size in bytes (default 64)
#   KEYSPACE      random keys per run, redis-benchmark -r (default 100000)
#   PARTITIONS    partitions of the benchmark table (default 8)
#   REDIS_PORT    loopback port of redis-server (default 16379)
#   PROXY_PORT    loopback port of the proxy (default 16380); PROXY_PORT+1
#                 serves a second proxy that runs pipelines one command at a
#                 time (--pipeline-concurrency 1), measured at -P 16 only
#   KEEP=1        keep the work directory (logs, onebox) afterwards
#
# Debian's redis-server and redis-tools are installed first when missing.
# redis-server runs in memory only (no RDB snapshots, no AOF); every write
# through the proxy is replicated to three replica servers and logged
# before it is acknowledged, all on this one machine.
set -euo pipefail

requests=${REQUESTS:-100000}
clients=${CLIENTS:-50}
data_size=${DATA_SIZE:-64}
keyspace=${KEYSPACE:-100000}
partitions=${PARTITIONS:-8}
redis_port=${REDIS_PORT:-16379}
proxy_port=${PROXY_PORT:-16380}
seq_port=$((proxy_port + 1))
table=redis_bench
repo=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-benchmark >/dev/null 2>&1; then
	sudo=""
	if [ "$(id -u)" -ne 0 ]; then
		sudo=sudo
	fi
	echo "installing redis-server and redis-tools" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server redis-tools >/dev/null
fi

for port in "$redis_port" "$proxy_port" "$seq_port"; do
	if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
		echo "redis-bench: something already answers on 127.0.0.1:$port; set REDIS_PORT / PROXY_PORT" >&2
		exit 1
	fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/pegasus-redis-bench.XXXXXX")
pegasus=$work/pegasus
redis_pid=""
proxy_pid=""
seq_pid=""
cleanup() {
	# Only the processes this script started are stopped, by their PIDs.
	for pid in $proxy_pid $seq_pid; do
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
	if [ -x "$pegasus" ] && [ -d "$work/onebox" ]; then
		"$pegasus" onebox stop --dir "$work/onebox" >/dev/null 2>&1 || true
	fi
	if [ "${KEEP:-}" = 1 ]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# wait_ping PORT NAME: wait up to 60 s for PONG on 127.0.0.1:PORT.
wait_ping() {
	for _ in $(seq 600); do
		if [ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]; then
			return 0
		fi
		sleep 0.1
	done
	echo "redis-bench: $2 does not answer on 127.0.0.1:$1; logs in $work" >&2
	KEEP=1
	exit 1
}

echo "building pegasus" >&2
(cd "$repo" && go build -o "$pegasus" ./cmd/pegasus)

echo "starting redis-server on 127.0.0.1:$redis_port" >&2
redis-server --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
	--dir "$work" --logfile "$work/redis-server.log" &
redis_pid=$!
wait_ping "$redis_port" redis-server

echo "starting a onebox (1 meta, 3 replica servers) and table $table" >&2
"$pegasus" onebox start --dir "$work/onebox" --metas 1 --replicas 3 >&2
metas=$(cat "$work/onebox/meta_servers")
"$pegasus" shell --meta "$metas" -e "create $table -p $partitions -r 3" >&2

echo "starting pegasus redis-proxy on 127.0.0.1:$proxy_port" >&2
"$pegasus" redis-proxy --meta "$metas" --table "$table" --listen "127.0.0.1:$proxy_port" \
	2>"$work/redis-proxy.log" &
proxy_pid=$!
"$pegasus" redis-proxy --meta "$metas" --table "$table" --listen "127.0.0.1:$seq_port" \
	--pipeline-concurrency 1 2>"$work/redis-proxy-sequential.log" &
seq_pid=$!
wait_ping "$proxy_port" "pegasus redis-proxy"
wait_ping "$seq_port" "pegasus redis-proxy --pipeline-concurrency 1"

# smoke: redis-cli against the proxy, each answer checked.
smoke() {
	local want=$1
	shift
	local got
	got=$(redis-cli -h 127.0.0.1 -p "$proxy_port" "$@" 2>&1)
	if [ "$got" != "$want" ]; then
		echo "redis-bench: smoke: redis-cli $* answered '$got', want '$want'" >&2
		KEEP=1
		exit 1
	fi
	echo "smoke: redis-cli $* -> $got" >&2
}
smoke PONG ping
smoke OK set smoke:k hello
smoke hello get smoke:k
smoke 1 exists smoke:k
smoke 1 expire smoke:k 100
ttl=$(redis-cli -h 127.0.0.1 -p "$proxy_port" ttl smoke:k)
if [ "$ttl" != 100 ] && [ "$ttl" != 99 ]; then
	echo "redis-bench: smoke: ttl answered '$ttl', want 99 or 100" >&2
	KEEP=1
	exit 1
fi
smoke 5 incrby smoke:n 5
smoke 4 decr smoke:n
smoke 1 del smoke:k
smoke "" get smoke:k
smoke "ERR unknown command 'lpush', with args beginning with: 'l' 'x' " lpush l x

# bench NAME PORT PIPELINE: one redis-benchmark run of SET then GET,
# printed as table rows. Redis 7's --csv adds latency percentiles to the
# throughput; older versions print throughput only.
bench() {
	local name=$1 port=$2 pipeline=$3
	echo "benchmarking $name, -P $pipeline" >&2
	redis-benchmark -h 127.0.0.1 -p "$port" -t set,get -P "$pipeline" -n "$requests" \
		-c "$clients" -d "$data_size" -r "$keyspace" --csv 2>/dev/null |
		awk -F, -v name="$name" -v p="$pipeline" '
			{ gsub(/"/, "") }
			$1 == "SET" || $1 == "GET" {
				p50 = ($5 == "") ? "-" : $5; p99 = ($7 == "") ? "-" : $7
				printf "| %s | %s | %s | %.0f | %s | %s |\n", name, $1, p, $2, p50, p99
			}'
}

# Warm the proxies' connections to the replica servers before measuring.
for port in "$proxy_port" "$seq_port"; do
	redis-benchmark -h 127.0.0.1 -p "$port" -t set -n 2000 -c "$clients" -r "$keyspace" -q >/dev/null 2>&1
done

rows=""
for pipeline in 1 16; do
	rows+=$(bench redis-server "$redis_port" "$pipeline")$'\n'
	rows+=$(bench "pegasus redis-proxy" "$proxy_port" "$pipeline")$'\n'
done
rows+=$(bench "pegasus redis-proxy, sequential pipelines" "$seq_port" 16)$'\n'


echo
echo "redis-benchmark: $requests requests, $clients clients, $data_size-byte values, $keyspace random keys;"
echo "pegasus: 1 meta and 3 replica servers, table of $partitions partitions with 3 replicas; $(nproc) cores, one machine."
echo
echo "| target | command | pipeline (-P) | requests/s | p50 ms | p99 ms |"
echo "| --- | --- | --- | --- | --- | --- |"
printf '%s' "$rows"
