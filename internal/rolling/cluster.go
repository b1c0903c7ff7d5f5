package rolling

import (
	"context"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Cluster is the orchestrator's view of and lever on the cluster: the meta
// leader's admin RPCs and each replica server's own admin service. Methods
// are the Pegasus shell commands the rolling-restart guide uses.
type Cluster interface {
	// Info is cluster_info: the meta servers, the leader, the meta level,
	// where the cluster keeps its metadata and what protocol each server
	// speaks.
	Info(ctx context.Context) (ClusterInfo, error)
	// View is `nodes -d` and `ls -d` from the meta leader.
	View(ctx context.Context) (*plan.ClusterView, error)
	// Metas asks every meta server for its own account (alive, leader,
	// beacons received). A meta server that does not answer is listed with
	// Alive false.
	Metas(ctx context.Context) ([]plan.MetaStatus, error)
	// ReplicaStatus is a replica server's own count of its replicas.
	ReplicaStatus(ctx context.Context, node string) (plan.ReplicaStatus, error)
	// Partitions is `app <table> -d` for every table: each partition's
	// primary and secondaries.
	Partitions(ctx context.Context) ([]plan.PartitionView, error)
	// MovePrimary is `balance -g <gpid> -p move_pri -f <from> -t <to>`.
	MovePrimary(ctx context.Context, m plan.PrimaryMove) error

	// SetMetaLevel is set_meta_level; level may be DEFAULT.
	SetMetaLevel(ctx context.Context, level string, lease KnobLease) error
	// Knob reads a meta remote-command knob, SetKnob sets it
	// (remote_command -t meta-server <knob> [value]). lease names who sets
	// it and for how long (the zero lease: an operator's lasting override).
	Knob(ctx context.Context, knob string) (string, error)
	SetKnob(ctx context.Context, knob, value string, lease KnobLease) error
	// MigrateNode and DowngradeNode propose moving the node's primaries and
	// downgrading its secondaries.
	MigrateNode(ctx context.Context, node string) error
	DowngradeNode(ctx context.Context, node string) error
	// KillPartitions is remote_command -l <node> replica.kill_partition:
	// the replica server closes (and so flushes) every replica it has.
	KillPartitions(ctx context.Context, node string) error
}

// ClusterInfo is what planning needs to know about the cluster beyond
// `nodes -d` and `ls -d`.
type ClusterInfo struct {
	Name          string
	Leader        string
	MetaLevel     string
	EtcdEndpoints []string
	Metas         []MetaInfo
	// Replicas are the replica servers with the protocol each speaks, from
	// `nodes -d`.
	Replicas []ReplicaInfo
	// Overrides are the knobs overriding the configuration file, by the
	// meta server's knob name (the level is meta.function_level).
	Overrides map[string]KnobOverride
}

// KnobOverride is a knob set at run time, as cluster_info reports it.
type KnobOverride struct {
	Value   string
	Owner   string
	Expires time.Time // zero: never
}

// KnobLease goes with a knob change: who makes it and how long the
// override lasts unless renewed (zero: until reset).
type KnobLease struct {
	Owner string
	TTL   time.Duration
}

// MetaLevelKnob is the meta server's name for the level among its knobs.
const MetaLevelKnob = "meta.function_level"

// MetaInfo is one meta server in cluster_info.
type MetaInfo struct {
	Node     string
	Leader   bool
	Protocol string
}

// ReplicaInfo is one replica server and its protocol version.
type ReplicaInfo struct {
	Node     string
	Protocol string
}
