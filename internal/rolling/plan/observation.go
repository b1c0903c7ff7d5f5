package plan

import (
	"slices"
	"time"
)

// Observation is what the driver learned since the previous Next: the
// results of the commands it ran and the answers to the queries it was
// asked. Views are nil when not queried. The driver must gather an
// observation after executing every action of the previous Next, never
// before: a gate trusts only observations taken after its step began.
type Observation struct {
	Results   []ActionResult   `json:"results,omitempty"`
	Cluster   *ClusterView     `json:"cluster,omitempty"`
	Replicas  []ReplicaStatus  `json:"replicas,omitempty"`
	Metas     []MetaStatus     `json:"metas,omitempty"`
	Collector *CollectorStatus `json:"collector,omitempty"`
	// Partitions is every partition's configuration (`app <table> -d` for
	// every table), nil when not queried.
	Partitions []PartitionView `json:"partitions,omitempty"`
	// Balance is the balancer's state (meta.lb.get_balance_operation_count
	// and cluster_info's deviations), nil when not queried.
	Balance *BalanceStatus `json:"balance,omitempty"`
}

// BalanceStatus is what the meta server says of its balancer.
type BalanceStatus struct {
	// MovePrimary and CopySecondary count the moves in progress.
	MovePrimary   int `json:"move_pri"`
	CopySecondary int `json:"copy_sec"`
	// Balanced: the balancer ran in the meta server's last round (level
	// lively), found nothing to move and has no move in progress.
	Balanced bool `json:"balanced"`
	// Level is the level the last round acted on; Blocked says why the
	// balancer started nothing, when it did not run or could not.
	Level   string `json:"level,omitempty"`
	Blocked string `json:"blocked,omitempty"`
	// PrimaryStddev and TotalStddev are cluster_info's
	// primary_replica_count_stddev and total_replica_count_stddev.
	PrimaryStddev float64 `json:"primary_stddev"`
	TotalStddev   float64 `json:"total_stddev"`
}

// Moves counts the moves in progress.
func (b BalanceStatus) Moves() int { return b.MovePrimary + b.CopySecondary }

// PartitionView is one partition's configuration.
type PartitionView struct {
	// Gpid is "<app_id>.<partition_index>", as Pegasus prints it.
	Gpid        string   `json:"gpid"`
	Table       string   `json:"table,omitempty"`
	Primary     string   `json:"primary,omitempty"`
	Secondaries []string `json:"secondaries,omitempty"`
	// Learners are nodes catching up to become secondaries (a copy in
	// flight); they hold no replica yet.
	Learners []string `json:"learners,omitempty"`
	// MaxReplicas is the table's replica count.
	MaxReplicas int `json:"max_replicas"`
}

// Holds reports whether node is the primary or a secondary of p.
func (p PartitionView) Holds(node string) bool {
	return p.Primary == node || slices.Contains(p.Secondaries, node)
}

// Lists reports whether p names node in any role, learner included.
func (p PartitionView) Lists(node string) bool {
	return p.Holds(node) || slices.Contains(p.Learners, node)
}

// members are the nodes p names: primary, secondaries, learners.
func (p PartitionView) members() []string {
	var out []string
	if p.Primary != "" {
		out = append(out, p.Primary)
	}
	out = append(out, p.Secondaries...)
	return append(out, p.Learners...)
}

// Members counts the primary and secondaries.
func (p PartitionView) Members() int {
	n := len(p.Secondaries)
	if p.Primary != "" {
		n++
	}
	return n
}

// ClusterView is the meta leader's `nodes -d` and `ls -d`.
type ClusterView struct {
	Nodes  []NodeStatus  `json:"nodes"`
	Tables []TableHealth `json:"tables"`
}

// NodeStatus is one row of `nodes -d`.
type NodeStatus struct {
	Node        string `json:"node"`
	Alive       bool   `json:"alive"`
	Primaries   int    `json:"primaries"`
	Secondaries int    `json:"secondaries"`
	Zone        string `json:"zone,omitempty"`
}

// TableHealth is one row of `ls -d`'s healthy_info.
type TableHealth struct {
	AppID          int32  `json:"app_id"`
	Name           string `json:"name"`
	PartitionCount int    `json:"partition_count"`
	FullyHealthy   int    `json:"fully_healthy"`
	Unhealthy      int    `json:"unhealthy"`
	WriteUnhealthy int    `json:"write_unhealthy"`
	ReadUnhealthy  int    `json:"read_unhealthy"`
}

// ReplicaStatus is a replica server's own account of its replicas
// (ReplicaAdmin.Status). It is asked of the server rather than read from
// the meta server because only the server knows whether a replica it was
// told to close has finished closing, i.e. flushing.
type ReplicaStatus struct {
	Node    string `json:"node"`
	Total   int    `json:"total"`
	Opening int    `json:"opening"`
	Closing int    `json:"closing"`
	// Primaries counts the replicas the server itself still runs as
	// primary: after migrate_node, until it entered each new ballot (and so
	// acknowledged its demotion), its successors wait out its lease.
	Primaries int `json:"primaries"`
}

// MetaStatus is one meta server in `cluster_info`. A meta server that did
// not answer is reported with Alive false (or left out).
type MetaStatus struct {
	Node   string `json:"node"`
	Alive  bool   `json:"alive"`
	Leader bool   `json:"leader"`
	// BeaconsFrom is the number of distinct replica servers whose beacons
	// it received since it started.
	BeaconsFrom int `json:"beacons_from"`
	// Cluster is the cluster its configuration names; Registered is
	// whether the leader lists it (it holds a session in the cluster's
	// etcd, so it can take over). A meta server that answers RPCs but
	// cannot reach etcd, or serves another cluster, is not registered.
	Cluster    string `json:"cluster,omitempty"`
	Registered bool   `json:"registered,omitempty"`
	// EmbeddedEtcd: it runs the cluster's etcd inside its own process.
	EmbeddedEtcd bool `json:"embedded_etcd,omitempty"`
}

// CollectorStatus is the collector's report.
type CollectorStatus struct {
	Alive bool `json:"alive"`
	// Availability is the share of successful probes over the collector's
	// window, in [0,1].
	Availability float64 `json:"availability"`
	// ClientErrors counts failed client requests since the collector
	// started; it restarts from zero with the collector.
	ClientErrors uint64 `json:"client_errors"`
	// ProbeP99 is the p99 latency of the collector's probes over its
	// window; zero when unknown.
	ProbeP99 time.Duration `json:"probe_p99,omitempty"`
	// Tables are what clients of each table see, from the replica
	// servers' request metrics over the collector's last scrape interval.
	// TrafficAt tells one scrape from the next.
	Tables    []TableSLO `json:"tables,omitempty"`
	TrafficAt time.Time  `json:"traffic_at,omitzero"`
}

// TableSLO is one table's client-visible service level.
type TableSLO struct {
	Table string  `json:"table"`
	QPS   float64 `json:"qps"`
	// ErrorRate is the share of requests that failed, in [0,1].
	ErrorRate float64 `json:"error_rate"`
	// P99 is the worse of the read and write p99 latencies.
	P99 time.Duration `json:"p99"`
}

func (v *ClusterView) node(addr string) (NodeStatus, bool) {
	for _, n := range v.Nodes {
		if n.Node == addr {
			return n, true
		}
	}
	return NodeStatus{}, false
}

// replica returns node's own status, if it was observed.
func (o Observation) replica(node string) (ReplicaStatus, bool) {
	for _, r := range o.Replicas {
		if r.Node == node {
			return r, true
		}
	}
	return ReplicaStatus{}, false
}

// unhealthyPartitions sums partitions that are not fully healthy.
func (v *ClusterView) unhealthyPartitions() int {
	total := 0
	for _, t := range v.Tables {
		// ls -d defines unhealthy as partition_count - fully_healthy; use the
		// larger of the two in case a driver fills only one.
		total += max(t.Unhealthy, t.PartitionCount-t.FullyHealthy)
	}
	return total
}
