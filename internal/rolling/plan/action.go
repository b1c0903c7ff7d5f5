package plan

import (
	"fmt"
	"strings"
	"time"
)

// ActionKind is what the driver is asked to do.
//
// Every command is safe to repeat, which is what lets a new orchestrator
// re-issue the current step after the old one died without knowing whether
// the command ran:
//
//   - set-meta-level and remote-command set an absolute value; setting it
//     twice leaves the same value.
//   - migrate-node proposes a primary move only for partitions whose primary
//     is still the node, and downgrade-node a downgrade only for partitions
//     where the node is still a secondary; a repeat finds less or nothing
//     to do (a proposal already queued is refused, which is harmless).
//   - kill-partition closes the replicas still open; closed ones are skipped.
//   - stop must treat "not running" as success, start must treat "already
//     running" as success, and install must replace the binary and
//     configuration atomically (write aside, then rename) so a repeat after
//     a crash half-way finds either the old or the new files, never a mix.
//   - queries change nothing.
type ActionKind string

const (
	ActSetMetaLevel   ActionKind = "set-meta-level"  // set_meta_level <Value> on the meta leader
	ActRemoteCommand  ActionKind = "remote-command"  // remote_command -t meta-server <Knob> <Value>
	ActMigrateNode    ActionKind = "migrate-node"    // migrate_node -n <Node>
	ActDowngradeNode  ActionKind = "downgrade-node"  // downgrade_node -n <Node>
	ActKillPartition  ActionKind = "kill-partition"  // remote_command -l <Node> replica.kill_partition
	ActStop           ActionKind = "stop"            // stop the <Role> process on <Node>
	ActInstall        ActionKind = "install"         // install the new binary and configuration on <Node>
	ActStart          ActionKind = "start"           // start the <Role> process on <Node>
	ActQueryCluster   ActionKind = "query-cluster"   // nodes -d and ls -d → Observation.Cluster
	ActQueryReplica   ActionKind = "query-replica"   // <Node>'s own status → Observation.Replicas
	ActQueryMetas     ActionKind = "query-metas"     // cluster_info → Observation.Metas
	ActQueryCollector ActionKind = "query-collector" // collector report → Observation.Collector
	// ActMovePrimaries hands each of Moves' primaries back
	// (balance -p move_pri per partition).
	ActMovePrimaries ActionKind = "move-primaries"
	// ActQueryPartitions: app <table> -d for every table → Observation.Partitions.
	ActQueryPartitions ActionKind = "query-partitions"
)

// Action is one thing for the driver to do. Commands carry the step number
// and attempt; the driver answers each with an ActionResult in the next
// Observation. Queries carry no attempt; their answers are the
// Observation's views.
type Action struct {
	Kind    ActionKind `json:"kind"`
	Step    int        `json:"step"`              // 1-based step number, as printed in the plan
	Attempt int        `json:"attempt,omitempty"` // 1 for the first issue of a command, 0 for queries
	Role    Role       `json:"role,omitempty"`
	Node    string     `json:"node,omitempty"`
	Knob    string     `json:"knob,omitempty"`
	Value   string     `json:"value,omitempty"`
	// Owner and Lease go with a knob or level set: the roll's own changes
	// carry "rolling-update <roll id>" and Options.KnobLease, to be renewed;
	// a restore carries the owner the override had before the roll (empty
	// for an operator's) and no lease.
	Owner string        `json:"owner,omitempty"`
	Lease time.Duration `json:"lease,omitempty"`
	// Moves are the primary handovers of a move-primaries command.
	Moves []PrimaryMove `json:"moves,omitempty"`
	// Rollback: an install of the previous binary and configuration.
	Rollback bool `json:"rollback,omitempty"`
}

// PrimaryMove hands the primary of partition Gpid from From to To, a
// secondary (balance -g <gpid> -p move_pri -f <from> -t <to>).
type PrimaryMove struct {
	Gpid string `json:"gpid"`
	From string `json:"from"`
	To   string `json:"to"`
}

func (m PrimaryMove) String() string {
	return fmt.Sprintf("balance -g %s -p move_pri -f %s -t %s", m.Gpid, m.From, m.To)
}

// IsQuery reports whether the action only reads.
func (a Action) IsQuery() bool {
	switch a.Kind {
	case ActQueryCluster, ActQueryReplica, ActQueryMetas, ActQueryCollector, ActQueryPartitions:
		return true
	}
	return false
}

// Result builds the answer to a command: success when err is nil.
func (a Action) Result(err error) ActionResult {
	r := ActionResult{Step: a.Step, Attempt: a.Attempt}
	if err != nil {
		r.Err = err.Error()
		if r.Err == "" {
			r.Err = "error"
		}
	}
	return r
}

// String renders the action as an operator would type it.
func (a Action) String() string {
	switch a.Kind {
	case ActSetMetaLevel:
		return "set_meta_level " + a.Value
	case ActRemoteCommand:
		return fmt.Sprintf("remote_command -t meta-server %s %s", a.Knob, a.Value)
	case ActMigrateNode:
		return "migrate_node -n " + a.Node
	case ActDowngradeNode:
		return "downgrade_node -n " + a.Node
	case ActKillPartition:
		return fmt.Sprintf("remote_command -l %s replica.kill_partition", a.Node)
	case ActStop:
		return fmt.Sprintf("stop %s %s", a.Role, a.Node)
	case ActInstall:
		if a.Rollback {
			return fmt.Sprintf("install the previous binary on %s %s (protocol %s)", a.Role, a.Node, a.Value)
		}
		return fmt.Sprintf("install %s %s (protocol %s)", a.Role, a.Node, a.Value)
	case ActStart:
		return fmt.Sprintf("start %s %s", a.Role, a.Node)
	case ActQueryCluster:
		return "query nodes -d, ls -d"
	case ActQueryReplica:
		return "query status of " + a.Node
	case ActQueryMetas:
		return "query cluster_info"
	case ActQueryCollector:
		return "query collector"
	case ActQueryPartitions:
		return "query app -d"
	case ActMovePrimaries:
		if len(a.Moves) == 0 {
			return "move primaries back to " + a.Node + " (none left to move)"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "move %d primaries back to %s:", len(a.Moves), a.Node)
		for _, m := range a.Moves {
			b.WriteString(" " + m.Gpid)
		}
		return b.String()
	}
	return string(a.Kind)
}

// ActionResult is the driver's answer to a command. Err is empty on
// success; otherwise the command's error text, kept in the step's state
// and quoted if the step fails.
type ActionResult struct {
	Step    int    `json:"step"`
	Attempt int    `json:"attempt"`
	Err     string `json:"err,omitempty"`
}

// command returns the command a step issues, if any. Step and Attempt are
// filled in by the machine.
func (s Step) command() (Action, bool) {
	a := Action{Role: s.Role, Node: s.Node}
	switch s.Kind {
	case KindSetMetaLevel:
		a.Kind, a.Knob, a.Value = ActSetMetaLevel, s.Knob, s.Value
		if s.Value == s.Restore {
			a.Owner = s.RestoreOwner
		}
	case KindSetKnob:
		a.Kind, a.Knob, a.Value = ActRemoteCommand, s.Knob, s.Value
		if s.Value == s.Restore {
			a.Owner = s.RestoreOwner
		}
	case KindMigrate:
		a.Kind = ActMigrateNode
	case KindDowngrade:
		a.Kind = ActDowngradeNode
	case KindCloseReplicas:
		a.Kind = ActKillPartition
	case KindStop:
		a.Kind = ActStop
	case KindInstall:
		a.Kind, a.Value, a.Rollback = ActInstall, s.Version, s.Rollback
	case KindStart:
		a.Kind = ActStart
	case KindRestorePrimaries:
		a.Kind = ActMovePrimaries // Moves filled in by the machine
	default:
		return Action{}, false
	}
	return a, true
}

// queries returns what a step must observe while it waits.
func (s Step) queries() []Action {
	switch s.Kind {
	case KindMigrate:
		// The partitions show a drain blocked by a repair elsewhere; the
		// server's own status shows it stepped down.
		return []Action{{Kind: ActQueryCluster}, {Kind: ActQueryPartitions},
			{Kind: ActQueryReplica, Role: RoleReplica, Node: s.Node}}
	case KindDowngrade:
		// The partitions show a drain blocked by a repair elsewhere.
		return []Action{{Kind: ActQueryCluster}, {Kind: ActQueryPartitions}}
	case KindWaitAlive:
		return []Action{{Kind: ActQueryCluster}}
	case KindCheckHealthy, KindWaitHealthy:
		// The partitions name what keeps a cluster from being whole.
		return []Action{{Kind: ActQueryCluster}, {Kind: ActQueryPartitions}}
	case KindRestorePrimaries, KindCheckBatch:
		return []Action{{Kind: ActQueryPartitions}}
	case KindCloseReplicas:
		return []Action{{Kind: ActQueryReplica, Role: RoleReplica, Node: s.Node}}
	case KindCheckMetaRole, KindWaitMetaReady:
		return []Action{{Kind: ActQueryMetas}}
	case KindWaitCollector:
		return []Action{{Kind: ActQueryCollector, Role: RoleCollector, Node: s.Node}}
	}
	return nil
}
