#!/bin/sh
# drain.sh: what the rolling-update orchestrator does before it stops a
# replica server, for a pod's lifecycle.preStop: pause re-replication to
# this node, move its primaries away (migrate_node), downgrade its
# secondaries (downgrade_node), wait until it holds neither, then flush and
# close its replicas (replica.kill_partition) so that the restart replays
# nothing. It leaves a marker in the data directory, which survives the
# restart of a StatefulSet pod: ready.sh restores the knob once this node
# serves again, and only that node's ready.sh does.
#
# Environment:
#   PEGASUS_META_SERVERS  the meta servers (host:port,...)
#   PEGASUS_NODE          this replica server's address as the meta server knows it
#   DRAIN_TIMEOUT         seconds to wait for the node to empty (default 240;
#                         terminationGracePeriodSeconds must be larger)
#   PEGASUS               the pegasus binary (default: pegasus on PATH)
#   PEGASUS_DATA_DIR      where the marker goes (default /var/lib/pegasus)
#   PEGASUS_TOKEN_FILE    an admin token, when the cluster requires one
#                         (admin_tokens_file; docs/security.md)
# Exits 0 once drained; non-zero on a timeout or error (Kubernetes stops the
# pod anyway after its grace period: the cluster then treats it as a crash).
set -u
: "${PEGASUS_META_SERVERS:?}" "${PEGASUS_NODE:?}"
pegasus=${PEGASUS:-pegasus}
timeout=${DRAIN_TIMEOUT:-240}
sh_() { "$pegasus" shell -e "$1"; }

log() { echo "drain $PEGASUS_NODE: $*" >&2; }

# counts prints "status primaries secondaries" of this node.
counts() {
	"$pegasus" shell -e "nodes -d" | awk -v n="$PEGASUS_NODE" '$1 == n { print $2, $4, $5 }'
}

marker=${PEGASUS_DATA_DIR:-/var/lib/pegasus}/.drained
log "pausing re-replication to this node"
: >"$marker" || exit 1
sh_ "remote_command -t meta-server meta.lb.add_secondary_max_count_for_one_node 0" >/dev/null || exit 1

start=$(date +%s)
while :; do
	set -- $(counts)
	if [ "$#" -eq 3 ] && [ "$2" = 0 ] && [ "$3" = 0 ]; then
		break
	fi
	if [ $(($(date +%s) - start)) -ge "$timeout" ]; then
		log "still ${2:-?} primaries and ${3:-?} secondaries after ${timeout}s; giving up"
		exit 1
	fi
	if [ "$#" -eq 3 ] && [ "$2" != 0 ]; then
		sh_ "migrate_node -n $PEGASUS_NODE" >/dev/null
	elif [ "$#" -eq 3 ]; then
		sh_ "downgrade_node -n $PEGASUS_NODE" >/dev/null
	fi
	sleep 1
done
log "no primary and no secondary left; flushing and closing replicas"
sh_ "remote_command -l $PEGASUS_NODE replica.kill_partition" >/dev/null || exit 1
log "drained"
