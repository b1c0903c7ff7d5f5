#!/bin/sh
# ready.sh: the readiness gate of a replica pod (readinessProbe exec): ready
# only when the meta server lists this node ALIVE and every partition of
# every table is fully healthy again, the gate the rolling-update
# orchestrator waits on before it moves to the next node. Once ALIVE after
# a drain (drain.sh's marker) it restores the re-replication knob that
# drain.sh paused.
#
# Environment: PEGASUS_META_SERVERS, PEGASUS_NODE, PEGASUS, PEGASUS_DATA_DIR,
# PEGASUS_TOKEN_FILE (an admin token, when the cluster requires one)
# (see drain.sh).
# Exits 0 when ready, 1 when not yet, the shell's status (4: no meta server
# reachable) otherwise.
set -u
: "${PEGASUS_META_SERVERS:?}" "${PEGASUS_NODE:?}"
pegasus=${PEGASUS:-pegasus}

nodes=$("$pegasus" shell -e "nodes") || exit
echo "$nodes" | awk -v n="$PEGASUS_NODE" '$1 == n && $2 == "ALIVE" { ok = 1 } END { exit !ok }' || exit 1
marker=${PEGASUS_DATA_DIR:-/var/lib/pegasus}/.drained
if [ -e "$marker" ]; then
	"$pegasus" shell -e "remote_command -t meta-server meta.lb.add_secondary_max_count_for_one_node DEFAULT" >/dev/null || exit
	rm -f "$marker"
fi
tables=$("$pegasus" shell --json -e "ls -d") || exit
if echo "$tables" | grep -q '"unhealthy": [1-9]'; then
	exit 1
fi
exit 0
