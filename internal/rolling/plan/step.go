package plan

import (
	"fmt"
	"strings"
	"time"
)

// StepKind says what a step does and what it waits for.
type StepKind string

const (
	// KindCheckHealthy waits until every replica server is ALIVE and every
	// partition fully healthy: the roll starts only from a whole cluster.
	KindCheckHealthy StepKind = "check-healthy"
	// KindSetMetaLevel runs set_meta_level; done when acknowledged.
	KindSetMetaLevel StepKind = "set-meta-level"
	// KindSetKnob runs remote_command -t meta-server <knob> <value>; done
	// when acknowledged.
	KindSetKnob StepKind = "set-knob"
	// KindMigrate runs migrate_node and waits for primary_count == 0, in
	// the meta server's view and the node's own.
	KindMigrate StepKind = "migrate-primaries"
	// KindDowngrade runs downgrade_node and waits until the node serves no
	// replica (primary_count and secondary_count both 0).
	KindDowngrade StepKind = "downgrade-secondaries"
	// KindCloseReplicas runs replica.kill_partition on the node, which
	// closes (and so flushes) every replica, and waits until the node itself
	// reports none open, opening or closing.
	KindCloseReplicas StepKind = "close-replicas"
	// KindStop stops the server process; done when node control confirms it
	// is not running.
	KindStop StepKind = "stop"
	// KindInstall puts the new binary and configuration in place.
	KindInstall StepKind = "install"
	// KindStart starts the server process; done when node control confirms
	// it runs.
	KindStart StepKind = "start"
	// KindWaitAlive waits until the meta server lists the node ALIVE.
	KindWaitAlive StepKind = "wait-alive"
	// KindWaitHealthy waits until the node is ALIVE and every partition of
	// every table is fully healthy again.
	KindWaitHealthy StepKind = "wait-healthy"
	// KindCheckMetaRole waits until a meta leader exists and makes sure the
	// meta server about to restart is a follower while any follower is still
	// to go, so leadership moves once, not once per meta server.
	KindCheckMetaRole StepKind = "check-meta-role"
	// KindWaitMetaReady waits until the restarted meta server is up, a
	// leader exists, and the leader has received beacons from every replica
	// server since it started.
	KindWaitMetaReady StepKind = "wait-meta-ready"
	// KindWaitCollector waits until the restarted collector reports.
	KindWaitCollector StepKind = "wait-collector"
	// KindCheckBatch waits until the replica servers of a batch still
	// share no partition, before any of them is touched.
	KindCheckBatch StepKind = "check-batch"
	// KindBaseline measures what clients see before anything is touched:
	// the SLO gate's baseline (see SLO).
	KindBaseline StepKind = "measure-baseline"
	// KindBake watches the SLO for Options.CanaryBake after the first
	// replica server, the canary, before the roll goes on.
	KindBake StepKind = "canary-bake"
	// KindRestorePrimaries hands back to the step's node, with one
	// graceful handover each (balance -p move_pri), the primaries it held
	// before the roll drained it, and waits until it holds them again.
	KindRestorePrimaries StepKind = "restore-primaries"
)

// ackOnly reports whether a step of this kind is done as soon as its
// command is acknowledged, with no condition to observe.
func (k StepKind) ackOnly() bool {
	switch k {
	case KindSetMetaLevel, KindSetKnob, KindStop, KindInstall, KindStart:
		return true
	}
	return false
}

// Phase groups steps for printing and reporting.
type Phase string

const (
	PhasePrepare   Phase = "prepare"
	PhaseReplica   Phase = "replica"
	PhaseMeta      Phase = "meta"
	PhaseCollector Phase = "collector"
	PhaseRestore   Phase = "restore-primaries"
	PhaseRollback  Phase = "rollback"
	PhaseReset     Phase = "reset"
	PhaseCleanup   Phase = "cleanup"
)

// Step is one planned step. Steps are values: the machine's progress lives
// in StepState, so a plan prints the same before and during a roll.
type Step struct {
	Kind  StepKind `json:"kind"`
	Phase Phase    `json:"phase"`
	// Role and Node name the server the step acts on; both are empty for
	// cluster-wide steps.
	Role Role   `json:"role,omitempty"`
	Node string `json:"node,omitempty"`
	// Knob, Value and Restore describe set-meta-level and set-knob steps:
	// the knob, the value set, and the value that undoes it. A step with
	// Value == Restore puts the knob back.
	Knob    string `json:"knob,omitempty"`
	Value   string `json:"value,omitempty"`
	Restore string `json:"restore,omitempty"`
	// RestoreOwner is the owner of the override Restore puts back ("" for
	// an operator's or for DEFAULT).
	RestoreOwner string `json:"restore_owner,omitempty"`
	// Rollback marks an install step that puts the previous binary and
	// configuration back.
	Rollback bool `json:"rollback,omitempty"`
	// Batch numbers, from 1, the batch of replica servers the step
	// belongs to when several restart together (0 otherwise); Together
	// lists them, on the batch's check step.
	Batch    int      `json:"batch,omitempty"`
	Together []string `json:"together,omitempty"`
	// Version is the protocol version being installed, for install steps.
	Version string `json:"version,omitempty"`
	// Partitions is the number of partition replicas Timeout was scaled by.
	Partitions int           `json:"partitions,omitempty"`
	Timeout    time.Duration `json:"timeout"`
	// Holdable marks a step before which a pause may hold the roll (and
	// during which, for a step that only waits). Only a node's first step
	// and the prepare steps are holdable: from a node's first command on,
	// the node goes through to healthy again, since holding a drained or
	// stopped node would stretch the very degradation a pause is meant to
	// limit. A pause requested meanwhile takes effect at the next node.
	Holdable bool `json:"holdable,omitempty"`
}

// Command is the step's command in the Pegasus shell's words, or "" for a
// step that only waits.
func (s Step) Command() string {
	if s.Kind == KindRestorePrimaries {
		return fmt.Sprintf("balance -p move_pri -t %s for each of the %d partitions it led before the roll", s.Node, s.Partitions)
	}
	if a, ok := s.command(); ok {
		return a.String()
	}
	return ""
}

// Waits describes the condition that ends the step, phrased to follow
// "until". replicaServers is the number of replica servers in the cluster.
func (s Step) Waits(replicaServers int) string {
	switch s.Kind {
	case KindCheckHealthy:
		return "every replica server is ALIVE and every partition fully healthy (nodes -d, ls -d)"
	case KindSetMetaLevel, KindSetKnob, KindInstall:
		return "the command succeeds"
	case KindStop:
		return fmt.Sprintf("node control confirms %s has exited", s.Node)
	case KindStart:
		return fmt.Sprintf("node control confirms %s runs", s.Node)
	case KindMigrate:
		return fmt.Sprintf("primary_count == 0 on %s (nodes -d) and it leads none by its own status", s.Node)
	case KindDowngrade:
		return fmt.Sprintf("primary_count == 0 and secondary_count == 0 on %s (nodes -d)", s.Node)
	case KindCloseReplicas:
		return fmt.Sprintf("%s reports no replica open, opening or closing (its own status)", s.Node)
	case KindWaitAlive:
		return fmt.Sprintf("%s is ALIVE (nodes -d)", s.Node)
	case KindWaitHealthy:
		return fmt.Sprintf("%s is ALIVE and every partition fully healthy (nodes -d, ls -d)", s.Node)
	case KindCheckMetaRole:
		return fmt.Sprintf("exactly one meta leader exists, %s is a follower unless no follower is left, "+
			"and a standby is registered (cluster_info)", s.Node)
	case KindWaitMetaReady:
		return fmt.Sprintf("%s is up and registered in this cluster, exactly one leader and a standby exist, "+
			"and the leader has beacons from all %d replica servers (cluster_info)", s.Node, replicaServers)
	case KindWaitCollector:
		return fmt.Sprintf("collector %s reports", s.Node)
	case KindRestorePrimaries:
		return fmt.Sprintf("%s is primary again of the %d partitions it led before the roll (app -d)", s.Node, s.Partitions)
	case KindBaseline:
		return "the collector has reported for the baseline window: per table p99 and error rate, probe p99"
	case KindCheckBatch:
		return fmt.Sprintf("%s share no partition (app -d)", strings.Join(s.Together, ", "))
	case KindBake:
		return fmt.Sprintf("the canary %s has run the bake time with no SLO breach (collector)", s.Node)
	}
	return ""
}
