package plan

import (
	"fmt"
	"strings"
)

// Role is the kind of server a node runs, named like Pegasus'
// `remote_command -t` targets.
type Role string

const (
	RoleMeta      Role = "meta-server"
	RoleReplica   Role = "replica-server"
	RoleCollector Role = "collector"
)

// Snapshot is the cluster as the driver saw it just before planning: the
// answers of `cluster_info`, `nodes -d`, `ls -d`, each server's protocol
// version, the current meta knobs and the collector's availability. Build
// reads nothing else, so a dry run is exactly as good as the snapshot.
type Snapshot struct {
	// Cluster is the cluster's name (its etcd namespace), as the meta
	// leader reports it: a restarted meta server must serve the same one.
	Cluster   string           `json:"cluster,omitempty"`
	Metas     []MetaServer     `json:"metas"`
	Replicas  []ReplicaServer  `json:"replicas"`
	Collector *CollectorServer `json:"collector,omitempty"`
	Tables    []TableHealth    `json:"tables,omitempty"`
	// Partitions is every partition's configuration: where the primaries
	// are before the roll (put back after it), and which servers share a
	// partition (never restarted together).
	Partitions []PartitionView `json:"partitions,omitempty"`

	// MetaLevel is the current meta function level (stopped, blind, freezed,
	// steady or lively; an "fl_" prefix is accepted). The roll sets steady
	// and puts this level back at the end. Empty means unknown and is taken
	// as steady, the level a meta server starts in, so nothing is restored.
	MetaLevel string `json:"meta_level,omitempty"`
	// Knobs holds the state of the knobs the roll changes (KnobMetaLevel,
	// KnobAssignDelay, KnobAddSecondaryMax): the value and whether, and by
	// whom, it is overridden. An operator's override is restored as it
	// was; a knob not overridden, or overridden by an earlier roll, or
	// absent (unknown), is reset to DEFAULT, the configuration's value.
	Knobs map[string]KnobState `json:"knobs,omitempty"`
	// NewVersion is the protocol version ("major.minor") of the binary being
	// installed. Required when upgrading.
	NewVersion string `json:"new_version,omitempty"`
	// Availability is the collector's current availability in [0,1], when a
	// collector runs.
	Availability *float64 `json:"availability,omitempty"`
	// RollbackBlocked says why an upgrade could not be rolled back: the
	// previous binary cannot read an on-disk format the new one writes.
	// Empty when it can, or when unknown.
	RollbackBlocked string `json:"rollback_blocked,omitempty"`
}

// MetaServer is one meta server.
type MetaServer struct {
	Node    string `json:"node"`
	Alive   bool   `json:"alive"`
	Leader  bool   `json:"leader"`
	Version string `json:"version"`
	// EmbeddedEtcd: it runs the cluster's etcd inside its own process.
	EmbeddedEtcd bool `json:"embedded_etcd,omitempty"`
	// Unregistered: it answers, but the leader does not list it (it cannot
	// reach etcd, or serves another cluster), so it could not take over.
	Unregistered bool `json:"unregistered,omitempty"`
}

// ReplicaServer is one replica server, as in `nodes -d`.
type ReplicaServer struct {
	Node        string `json:"node"`
	Alive       bool   `json:"alive"`
	Primaries   int    `json:"primaries"`
	Secondaries int    `json:"secondaries"`
	Version     string `json:"version"`
	// Zone is the failure domain (zone or rack) its configuration names,
	// "" for none.
	Zone string `json:"zone,omitempty"`
}

// Partitions is the number of partition replicas the server hosts, the
// quantity gate timeouts scale with.
func (r ReplicaServer) Partitions() int { return r.Primaries + r.Secondaries }

// CollectorServer is the collector.
type CollectorServer struct {
	Node    string `json:"node"`
	Alive   bool   `json:"alive"`
	Version string `json:"version"`
}

// metaLevels are Pegasus' meta function levels, lowest first.
var metaLevels = []string{"stopped", "blind", "freezed", "steady", "lively"}

// normalizeMetaLevel accepts "lively" and "fl_lively" alike; empty stays
// empty.
func normalizeMetaLevel(level string) (string, error) {
	l := strings.TrimPrefix(strings.ToLower(strings.TrimSpace(level)), "fl_")
	if l == "" {
		return "", nil
	}
	for _, known := range metaLevels {
		if l == known {
			return l, nil
		}
	}
	return "", fmt.Errorf("%w: unknown meta level %q", ErrInvalidSnapshot, level)
}

// validate checks the snapshot's shape: addresses present and unique,
// counts non-negative, exactly one meta leader.
func (s Snapshot) validate() error {
	if len(s.Metas) == 0 {
		return fmt.Errorf("%w: no meta server", ErrInvalidSnapshot)
	}
	seen := make(map[string]bool)
	add := func(node string) error {
		if node == "" {
			return fmt.Errorf("%w: empty node address", ErrInvalidSnapshot)
		}
		if seen[node] {
			return fmt.Errorf("%w: node %s listed twice", ErrInvalidSnapshot, node)
		}
		seen[node] = true
		return nil
	}
	leaders := 0
	for _, m := range s.Metas {
		if err := add(m.Node); err != nil {
			return err
		}
		if m.Leader {
			leaders++
		}
	}
	if leaders != 1 {
		return fmt.Errorf("%w (%d marked leader)", ErrNoMetaLeader, leaders)
	}
	for _, r := range s.Replicas {
		if err := add(r.Node); err != nil {
			return err
		}
		if r.Primaries < 0 || r.Secondaries < 0 {
			return fmt.Errorf("%w: negative replica count on %s", ErrInvalidSnapshot, r.Node)
		}
	}
	if s.Collector != nil {
		if err := add(s.Collector.Node); err != nil {
			return err
		}
	}
	if s.Availability != nil && (*s.Availability < 0 || *s.Availability > 1) {
		return fmt.Errorf("%w: availability %v outside [0,1]", ErrInvalidSnapshot, *s.Availability)
	}
	_, err := normalizeMetaLevel(s.MetaLevel)
	return err
}

// downNodes lists meta and replica servers that are not alive. A dead
// collector is not listed: restarting it is harmless and may even cure it.
func (s Snapshot) downNodes() []string {
	var down []string
	for _, m := range s.Metas {
		switch {
		case !m.Alive:
			down = append(down, m.Node)
		case m.Unregistered:
			down = append(down, m.Node+" (answers, but is not registered with the leader)")
		}
	}
	for _, r := range s.Replicas {
		if !r.Alive {
			down = append(down, r.Node)
		}
	}
	return down
}

// MetaNodes, ReplicaNodes and CollectorNode list the servers' addresses.
func (s Snapshot) MetaNodes() []string {
	var out []string
	for _, m := range s.Metas {
		out = append(out, m.Node)
	}
	return out
}

func (s Snapshot) ReplicaNodes() []string {
	var out []string
	for _, r := range s.Replicas {
		out = append(out, r.Node)
	}
	return out
}

func (s Snapshot) CollectorNode() []string {
	if s.Collector == nil {
		return nil
	}
	return []string{s.Collector.Node}
}
