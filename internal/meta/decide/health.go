package decide

import (
	"slices"
)

// PartitionHealth classifies one partition the way Pegasus' `ls -d` and
// `app -d` do.
type PartitionHealth struct {
	// FullyHealthy: a primary and at least max_replica_count members.
	FullyHealthy bool
	// WriteUnhealthy: writes fail, for want of a primary, or because the
	// primary alone is below the two members a write needs.
	WriteUnhealthy bool
	// ReadUnhealthy: reads fail; only the primary serves them.
	ReadUnhealthy bool
}

// HealthOf classifies cfg. A partition whose max_replica_count is 1 is fully
// healthy with its primary alone, and then not write-unhealthy: the
// two-member rule applies only to partitions that are short of members.
func HealthOf(cfg PartitionConfig) PartitionHealth {
	if cfg.Primary == "" {
		return PartitionHealth{WriteUnhealthy: true, ReadUnhealthy: true}
	}
	n := cfg.ReplicaCount()
	if n >= int(cfg.MaxReplicaCount) {
		return PartitionHealth{FullyHealthy: true}
	}
	return PartitionHealth{WriteUnhealthy: n < 2}
}

// TableHealth is one row of `ls -d` [healthy_info].
type TableHealth struct {
	AppID          int32
	PartitionCount int
	FullyHealthy   int
	// Unhealthy is PartitionCount - FullyHealthy.
	Unhealthy      int
	WriteUnhealthy int
	ReadUnhealthy  int
}

// TableHealths counts partition health per table, in ascending table id.
func TableHealths(configs []PartitionConfig) []TableHealth {
	byApp := make(map[int32]*TableHealth)
	for i := range configs {
		c := &configs[i]
		t := byApp[c.Gpid.AppID]
		if t == nil {
			t = &TableHealth{AppID: c.Gpid.AppID}
			byApp[c.Gpid.AppID] = t
		}
		h := HealthOf(*c)
		t.PartitionCount++
		if h.FullyHealthy {
			t.FullyHealthy++
		} else {
			t.Unhealthy++
		}
		if h.WriteUnhealthy {
			t.WriteUnhealthy++
		}
		if h.ReadUnhealthy {
			t.ReadUnhealthy++
		}
	}
	out := make([]TableHealth, 0, len(byApp))
	for _, t := range byApp {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b TableHealth) int { return int(a.AppID) - int(b.AppID) })
	return out
}

// NodeReplicas is one row of `nodes -d`.
type NodeReplicas struct {
	Node           string
	PrimaryCount   int
	SecondaryCount int
	// ReplicaCount is PrimaryCount + SecondaryCount; learners are not
	// counted, as they serve nothing yet.
	ReplicaCount int
}

// NodeReplicaCounts counts roles per node over configs. Every node in nodes
// gets a row, with zeros if it holds nothing (a freshly drained node must
// show replica_count 0, not vanish); nodes that appear only in configs get
// one as well. Rows are in ascending address order.
func NodeReplicaCounts(configs []PartitionConfig, nodes []string) []NodeReplicas {
	rows := make(map[string]*NodeReplicas, len(nodes))
	row := func(n string) *NodeReplicas {
		r := rows[n]
		if r == nil {
			r = &NodeReplicas{Node: n}
			rows[n] = r
		}
		return r
	}
	for _, n := range nodes {
		row(n)
	}
	for i := range configs {
		c := &configs[i]
		if c.Primary != "" {
			r := row(c.Primary)
			r.PrimaryCount++
			r.ReplicaCount++
		}
		for _, s := range c.Secondaries {
			r := row(s)
			r.SecondaryCount++
			r.ReplicaCount++
		}
	}
	out := make([]NodeReplicas, 0, len(rows))
	for _, r := range rows {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b NodeReplicas) int {
		switch {
		case a.Node < b.Node:
			return -1
		case a.Node > b.Node:
			return 1
		}
		return 0
	})
	return out
}
