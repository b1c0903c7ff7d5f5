// Package metrics defines the Prometheus series every role exports on
// /metrics. Each server owns its registry (several servers share a process in
// tests), and the series names are the same across roles where the concept is
// the same, so one dashboard (deploy/grafana-dashboard.json) reads them all.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pegasus-go/pegasus/internal/version"
)

// latencyBuckets spans 50 µs to ~6.5 s: fast local reads up to stalls that
// a client would call an outage.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 2, 18)

// Registry is one server's set of series plus the Go runtime and process
// collectors.
type Registry struct {
	reg *prometheus.Registry
}

func newRegistry() *Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), newBuildInfo())
	return &Registry{reg: r}
}

// newBuildInfo is pegasus_build_info: 1, labelled with what the binary is,
// so that a dashboard shows which servers run which build during a roll.
func newBuildInfo() prometheus.Gauge {
	v := version.Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pegasus_build_info",
		Help: "Always 1; the labels say which build the server runs.",
		ConstLabels: prometheus.Labels{
			"version": v.Version, "commit": v.Commit, "build_time": v.BuildTime,
			"go_version": v.GoVersion, "protocol": v.Protocol,
		},
	})
	g.Set(1)
	return g
}

// Handler serves the registry in the Prometheus text format.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{Registry: r.reg})
}

// Gatherer exposes the registry to tests and the collector.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// Replica holds a replica server's series.
type Replica struct {
	*Registry
	// Requests counts client requests by table (app_id, as Pegasus labels
	// per-table series, and the table's name) and operation (get, set,
	// multi_get, ...).
	Requests *prometheus.CounterVec
	// Errors counts failed client requests by table, operation and error
	// code name.
	Errors *prometheus.CounterVec
	// Latency is the server-side latency of client requests by table and
	// operation.
	Latency *prometheus.HistogramVec
	// Replicas counts partition replicas by status (primary, secondary, ...).
	Replicas *prometheus.GaugeVec
	// LogBytes is the size of every mutation log on the server.
	LogBytes prometheus.Gauge
	// LogSyncSeconds is the latency of one group-commit fsync.
	LogSyncSeconds prometheus.Histogram
	// LearnBytes counts bytes received while learning (log entries and checkpoints).
	LearnBytes prometheus.Counter
	// BeaconRTT is the round trip of a beacon to the meta server.
	BeaconRTT prometheus.Histogram
	// LeaseValid is 1 while the server holds a lease from the meta server.
	LeaseValid prometheus.Gauge
	// ClusterInfo is 1, labelled by the cluster id the server joined
	// (empty before it joined one).
	ClusterInfo *prometheus.GaugeVec
	// ClusterRefusals counts messages refused because they came from
	// another cluster, by kind (beacon, update_config, remote_command,
	// peer, join).
	ClusterRefusals *prometheus.CounterVec
	// GarbageReplicas and GarbageBytes describe the replicas moved aside
	// (<gpid>.<ts>.gar directories) that wait for garbage collection.
	GarbageReplicas prometheus.Gauge
	GarbageBytes    prometheus.Gauge
	// GarbageMoved counts replicas moved aside, and GarbageMovedBytes their
	// size; GarbageCollected counts .gar directories deleted after the
	// retention.
	GarbageMoved      prometheus.Counter
	GarbageMovedBytes prometheus.Counter
	GarbageCollected  prometheus.Counter
	// CorruptReplicas counts replicas found corrupt when they opened and
	// moved aside to a .err directory, to be learned again.
	CorruptReplicas prometheus.Counter
	// OpenFailures counts failed opens of a partition replica (corrupt or
	// not).
	OpenFailures prometheus.Counter
	// RetriesAnswered counts write retries answered from the record of the
	// applied original (exactly-once) instead of being executed.
	RetriesAnswered prometheus.Counter
	// RequestRecordCollections counts range deletions of request records
	// past their retention (one per expired bucket of them).
	RequestRecordCollections prometheus.Counter

	// Per table (app_id, table), summed over the table's replicas on this
	// server, refreshed every second:
	// TableLogBytes is the size of the tables' mutation logs.
	TableLogBytes *prometheus.GaugeVec
	// StorageDiskBytes is the disk space of the tables' Pebble stores.
	StorageDiskBytes *prometheus.GaugeVec
	// StorageL0Files counts sstables in level 0, which reads consult one
	// by one: a growing count means compactions fall behind.
	StorageL0Files *prometheus.GaugeVec
	// StorageMemtableBytes is the memory held by the stores' memtables.
	StorageMemtableBytes *prometheus.GaugeVec
	// StorageCompactions counts the stores' compactions.
	StorageCompactions *prometheus.CounterVec
}

// tableLabels label per-table series: Pegasus' app_id and the table's name
// ("" until the server has learnt it from the meta server).
var tableLabels = []string{"app_id", "table"}

// NewReplica creates a replica server's registry.
func NewReplica() *Replica {
	m := &Replica{
		Registry: newRegistry(),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_replica_requests_total", Help: "Client requests received, by table (app_id, table) and operation.",
		}, []string{"app_id", "table", "op"}),
		Errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_replica_request_errors_total", Help: "Client requests that failed, by table (app_id, table), operation and error code.",
		}, []string{"app_id", "table", "op", "code"}),
		Latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pegasus_replica_request_duration_seconds", Help: "Server-side latency of client requests, by table (app_id, table) and operation.",
			Buckets: latencyBuckets,
		}, []string{"app_id", "table", "op"}),
		Replicas: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_replicas", Help: "Partition replicas on this server, by status.",
		}, []string{"status"}),
		LogBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_replica_mutation_log_bytes", Help: "Bytes held in the mutation logs of this server.",
		}),
		LogSyncSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pegasus_replica_mutation_log_fsync_seconds", Help: "Latency of one mutation log group-commit fsync.",
			Buckets: latencyBuckets,
		}),
		LearnBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_learn_bytes_total", Help: "Bytes received while learning (log entries and checkpoint files).",
		}),
		BeaconRTT: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pegasus_replica_beacon_rtt_seconds", Help: "Round trip of a beacon to the meta server.",
			Buckets: latencyBuckets,
		}),
		LeaseValid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_replica_lease_valid", Help: "1 while the server holds a lease from the meta server, else 0.",
		}),
		ClusterInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_cluster_info", Help: "1, labelled by the cluster id this replica server joined (empty before it joined one).",
		}, []string{"cluster_id"}),
		ClusterRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_replica_foreign_cluster_refusals_total", Help: "Messages refused because they came from another cluster (or carried no cluster id), by kind.",
		}, []string{"kind"}),
		GarbageReplicas: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_replica_garbage_replicas", Help: "Replicas moved aside (.gar directories) waiting for garbage collection.",
		}),
		GarbageBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_replica_garbage_bytes", Help: "Bytes held in .gar directories waiting for garbage collection.",
		}),
		GarbageMoved: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_garbage_moved_total", Help: "Replicas closed and moved aside to a .gar directory because the meta server disowned them.",
		}),
		GarbageMovedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_garbage_moved_bytes_total", Help: "Bytes of the replicas moved aside to .gar directories.",
		}),
		GarbageCollected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_garbage_collected_total", Help: ".gar directories deleted after gc_disk_garbage_replica_interval_seconds.",
		}),
		CorruptReplicas: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_corrupt_replicas_total", Help: "Replicas found corrupt (mutation log or store) when they opened, moved aside to a .err directory and learned again.",
		}),
		OpenFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_open_failures_total", Help: "Failed opens of a partition replica, corrupt or not; a failing replica is retried with a growing delay.",
		}),
		RetriesAnswered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_write_retries_answered_total",
			Help: "Write retries answered with the recorded result of their applied original instead of being executed.",
		}),
		RequestRecordCollections: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pegasus_replica_request_record_collections_total",
			Help: "Range deletions of request records (exactly-once state of applied writes) past write_dedup_retention_seconds.",
		}),
		TableLogBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_table_mutation_log_bytes", Help: "Bytes held in the mutation logs of a table's replicas on this server.",
		}, tableLabels),
		StorageDiskBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_storage_disk_bytes", Help: "Disk space of a table's Pebble stores on this server.",
		}, tableLabels),
		StorageL0Files: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_storage_l0_files", Help: "Level-0 sstables of a table's Pebble stores on this server.",
		}, tableLabels),
		StorageMemtableBytes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_replica_storage_memtable_bytes", Help: "Memtable memory of a table's Pebble stores on this server.",
		}, tableLabels),
		StorageCompactions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_replica_storage_compactions_total", Help: "Compactions of a table's Pebble stores on this server.",
		}, tableLabels),
	}
	m.reg.MustRegister(m.Requests, m.Errors, m.Latency, m.Replicas, m.LogBytes, m.LogSyncSeconds, m.LearnBytes, m.BeaconRTT, m.LeaseValid,
		m.ClusterInfo, m.ClusterRefusals, m.GarbageReplicas, m.GarbageBytes, m.GarbageMoved, m.GarbageMovedBytes, m.GarbageCollected,
		m.CorruptReplicas, m.OpenFailures,
		m.RetriesAnswered, m.RequestRecordCollections,
		m.TableLogBytes, m.StorageDiskBytes, m.StorageL0Files, m.StorageMemtableBytes, m.StorageCompactions)
	return m
}

// Meta holds a meta server's series.
type Meta struct {
	*Registry
	// IsLeader is 1 on the leader meta server.
	IsLeader prometheus.Gauge
	// Level is the meta function level (100 stopped ... 500 lively).
	Level prometheus.Gauge
	// Reconfigurations counts partition configuration changes by Pegasus config type.
	Reconfigurations *prometheus.CounterVec
	// BeaconGap is the time between two beacons of one replica server as seen by the meta.
	BeaconGap prometheus.Histogram
	// Nodes counts replica servers by state (alive, dead).
	Nodes *prometheus.GaugeVec
	// Partitions counts partitions by health (fully_healthy, unhealthy, write_unhealthy, read_unhealthy).
	Partitions *prometheus.GaugeVec
	// RollingStep is 1 for the step a rolling update is executing, labelled by node and step.
	RollingStep *prometheus.GaugeVec
	// ClusterInfo is 1, labelled by the cluster's id and name.
	ClusterInfo *prometheus.GaugeVec
	// ClusterRefusals counts messages refused because they came from
	// another cluster, by kind (beacon, propose, query_config).
	ClusterRefusals *prometheus.CounterVec
	// BallotAboveRecord counts partitions where a replica reports a ballot
	// above the meta's record (a configuration the meta never issued).
	BallotAboveRecord prometheus.Gauge
	// RefusedBeacons counts beacons refused before the failure detector
	// saw them, by reason (not_admitted, from_future).
	RefusedBeacons *prometheus.CounterVec
	// KnobOverride is 1 for every knob set at run time over the configuration file's value,
	// labelled by knob and owner ("operator" or "rolling-update <roll id>"); leader only.
	KnobOverride *prometheus.GaugeVec
}

// NewMeta creates a meta server's registry.
func NewMeta() *Meta {
	m := &Meta{
		Registry: newRegistry(),
		IsLeader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_meta_is_leader", Help: "1 on the leader meta server, else 0.",
		}),
		Level: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_meta_level", Help: "Meta function level: 100 stopped, 200 blind, 300 freezed, 400 steady, 500 lively.",
		}),
		Reconfigurations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_meta_reconfigurations_total", Help: "Partition configuration changes, by config type.",
		}, []string{"type"}),
		BeaconGap: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pegasus_meta_beacon_gap_seconds", Help: "Time between two beacons of one replica server.",
			Buckets: prometheus.LinearBuckets(0.5, 0.5, 24),
		}),
		Nodes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_meta_nodes", Help: "Replica servers, by state.",
		}, []string{"state"}),
		Partitions: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_meta_partitions", Help: "Partitions, by health.",
		}, []string{"health"}),
		RollingStep: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_rolling_update_step", Help: "1 for the step a rolling update is executing.",
		}, []string{"node", "step"}),
		ClusterInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_meta_cluster_info", Help: "1, labelled by the cluster id fixed at bootstrap and the cluster name.",
		}, []string{"cluster_id", "cluster_name"}),
		ClusterRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_meta_foreign_cluster_refusals_total", Help: "Messages refused because they came from another cluster, by kind.",
		}, []string{"kind"}),
		BallotAboveRecord: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_meta_partitions_ballot_above_record",
			Help: "Partitions where a replica reports a ballot above the meta's record (see meta.repair_ballot).",
		}),
		RefusedBeacons: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_meta_refused_beacons_total", Help: "Beacons refused before failure detection, by reason.",
		}, []string{"reason"}),
		KnobOverride: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "pegasus_meta_knob_override", Help: "1 for every knob overriding the configuration file, by knob and owner.",
		}, []string{"knob", "owner"}),
	}
	m.reg.MustRegister(m.IsLeader, m.Level, m.Reconfigurations, m.BeaconGap, m.Nodes, m.Partitions, m.RollingStep, m.ClusterInfo, m.ClusterRefusals,
		m.BallotAboveRecord, m.RefusedBeacons, m.KnobOverride)
	return m
}

// Collector holds the availability collector's series.
type Collector struct {
	*Registry
	// Probes counts availability probes by kind (read, write) and result (ok, error).
	Probes *prometheus.CounterVec
	// ProbeLatency is the latency of probes by kind.
	ProbeLatency *prometheus.HistogramVec
	// Availability is the success ratio of the last minute's probes (0..1).
	Availability prometheus.Gauge
}

// NewCollector creates the collector's registry.
func NewCollector() *Collector {
	m := &Collector{
		Registry: newRegistry(),
		Probes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pegasus_collector_probes_total", Help: "Availability probes, by kind and result.",
		}, []string{"kind", "result"}),
		ProbeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pegasus_collector_probe_duration_seconds", Help: "Availability probe latency, by kind.",
			Buckets: latencyBuckets,
		}, []string{"kind"}),
		Availability: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "pegasus_collector_availability_ratio", Help: "Success ratio of the last minute's probes.",
		}),
	}
	m.reg.MustRegister(m.Probes, m.ProbeLatency, m.Availability)
	return m
}
