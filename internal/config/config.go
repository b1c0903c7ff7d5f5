// Package config defines the configuration of every server role: one TOML
// file per role, every key with a documented default, and flags that
// override the file. Key names follow Pegasus' config.ini where Pegasus has
// the same concept (fd_grace_seconds, replica_assign_delay_ms_for_dropouts,
// ...), so that a Pegasus operator recognises them.
//
// docs/configuration.md is generated from the `doc` tags below and a test
// keeps it in sync (go test ./internal/config -update rewrites it).
package config

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/pegasus-go/pegasus/internal/rpc"
)

// ErrInvalid wraps every validation failure.
var ErrInvalid = errors.New("config: invalid")

// FailureDetector holds the beacon/lease/grace timing shared by meta and
// replica servers. A replica server stops serving when its lease runs out,
// which must happen before the meta server may declare it dead and promote
// another primary: lease < grace.
type FailureDetector struct {
	BeaconIntervalSeconds int `toml:"fd_beacon_interval_seconds" doc:"How often a replica server sends a beacon to the meta server."`
	LeaseSeconds          int `toml:"fd_lease_seconds" doc:"Read lease. A primary serves reads until this long after it sent a message that every member acknowledged; a primary without members, until this long after it sent a beacon the meta server acknowledged. Must be below fd_grace_seconds."`
	GraceSeconds          int `toml:"fd_grace_seconds" doc:"Promise and failure detection. A replica that accepts a primary's message helps no other primary commit or serve until this long after (a new primary waits that long for an old one that neither renewed its lease nor acknowledged its demotion); the meta server declares a replica server dead after this long without beacons. Must exceed fd_lease_seconds, with a margin for clock rates."`
	CheckIntervalSeconds  int `toml:"fd_check_interval_seconds" doc:"How often both sides check leases and graces."`
}

// Log configures a server's own log, shared by every role.
type Log struct {
	Level      string `toml:"log_level" doc:"Least severe log level written: debug, info, warn or error."`
	Format     string `toml:"log_format" doc:"Log line format: text (key=value) or json (one JSON object per line, for log shippers)."`
	File       string `toml:"log_file" doc:"Write the log to this file, rotated by size, instead of stderr. Empty: stderr (under systemd, the journal)."`
	MaxSizeMB  int    `toml:"log_max_size_mb" doc:"With log_file: rotate when the file reaches this size."`
	MaxBackups int    `toml:"log_max_backups" doc:"With log_file: rotated files kept (the oldest are deleted); 0 keeps all."`
}

// DefaultLog returns the log defaults: info, text, stderr.
func DefaultLog() Log {
	return Log{Level: "info", Format: "text", MaxSizeMB: 256, MaxBackups: 10}
}

// Validate checks the log settings.
func (l Log) Validate() error {
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log_level %q is not one of debug, info, warn, error", ErrInvalid, l.Level)
	}
	if l.Format != "text" && l.Format != "json" {
		return fmt.Errorf("%w: log_format %q is not text or json", ErrInvalid, l.Format)
	}
	if l.MaxSizeMB < 1 || l.MaxBackups < 0 {
		return fmt.Errorf("%w: log_max_size_mb must be positive and log_max_backups not negative", ErrInvalid)
	}
	return nil
}

// Meta configures a meta server.
type Meta struct {
	Listen        string `toml:"listen" doc:"gRPC address for replica servers, clients and the shell."`
	HTTPListen    string `toml:"http_listen" doc:"HTTP address of the JSON API, the cluster page and /metrics. Empty disables it."`
	PegasusListen string `toml:"pegasus_listen" doc:"Address of the Apache Pegasus wire-protocol listener for official clients. Empty disables it."`
	// RPCRequestDroppedBeforeExecutionWhenTimeout is Pegasus' task option of the same name.
	RPCRequestDroppedBeforeExecutionWhenTimeout bool     `toml:"rpc_request_dropped_before_execution_when_timeout" doc:"On the Pegasus-protocol listener, drop unanswered a request whose client timeout (from its header) passed while it waited to execute, as Pegasus' option of that name does. Off, as in Pegasus: a request executes whatever its header's timeout says."`
	DataDir                                     string   `toml:"data_dir" doc:"Directory for the embedded etcd's data and the server's own files."`
	ClusterName                                 string   `toml:"cluster_name" doc:"Name of the cluster; prefixes every key the cluster keeps in etcd."`
	EtcdEndpoints                               []string `toml:"etcd_endpoints" doc:"Endpoints of an external etcd cluster. Empty starts an embedded single-node etcd in data_dir."`
	EtcdClientURL                               string   `toml:"etcd_client_url" doc:"Client URL of the embedded etcd (only when etcd_endpoints is empty)."`
	EtcdPeerURL                                 string   `toml:"etcd_peer_url" doc:"Peer URL of the embedded etcd (only when etcd_endpoints is empty)."`

	ElectionTTLSeconds int `toml:"election_ttl_seconds" doc:"TTL of the etcd lease behind meta leadership: a crashed leader is replaced after at most this long. fd_lease_seconds must exceed it plus fd_beacon_interval_seconds."`

	FailureDetector

	ReplicaAssignDelayMsForDropouts int    `toml:"replica_assign_delay_ms_for_dropouts" doc:"How long a partition may run with a missing replica before a new one is added on another node (runtime knob meta.lb.assign_delay_ms). Gives a restarting node a maintenance window."`
	AddSecondaryMaxCountForOneNode  int    `toml:"add_secondary_max_count_for_one_node" doc:"At most this many add-secondary operations in flight per target node (runtime knob meta.lb.add_secondary_max_count_for_one_node); 0 holds back re-adding nodes drained for a restart, other repairs go on one learner per node."`
	NodeLivePercentageThreshold     int    `toml:"node_live_percentage_threshold_for_update" doc:"The meta server freezes (stops reconfiguring) when fewer than this percentage of replica servers are alive (runtime knob meta.live_percentage)."`
	MinLiveNodeCountForUnfreeze     int    `toml:"min_live_node_count_for_unfreeze" doc:"The meta server freezes when fewer replica servers than this are alive."`
	MaxSuccessiveUnstableRestart    int    `toml:"max_succssive_unstable_restart" doc:"A replica server that restarted this many times in a row, each within stable_rs_min_running_seconds (10 minutes) of the previous start, is refused until it has run that long (Pegasus' name, spelling included); 0 disables the guard."`
	MetaFunctionLevelOnStart        string `toml:"meta_function_level_on_start" doc:"Meta level after start: stopped, blind, freezed, steady or lively."`
	LBIntervalMs                    int    `toml:"lb_interval_ms" doc:"How often the leader checks every partition for missing primaries and secondaries (cure) and runs the balancer."`

	Admission
	Security
	Limits
	Log
}

// Replica configures a replica server.
type Replica struct {
	Listen        string `toml:"listen" doc:"gRPC address for clients, peers and the meta server. Also the node's identity in partition configurations."`
	HTTPListen    string `toml:"http_listen" doc:"HTTP address of /metrics and the status JSON. Empty disables it."`
	PegasusListen string `toml:"pegasus_listen" doc:"Address of the Apache Pegasus wire-protocol listener for official clients. Empty disables it."`
	// RPCRequestDroppedBeforeExecutionWhenTimeout is Pegasus' task option of the same name.
	RPCRequestDroppedBeforeExecutionWhenTimeout bool     `toml:"rpc_request_dropped_before_execution_when_timeout" doc:"On the Pegasus-protocol listener, drop unanswered a request whose client timeout (from its header) passed while it waited to execute, as Pegasus' option of that name does. Off, as in Pegasus: a request executes whatever its header's timeout says."`
	DataDir                                     string   `toml:"data_dir" doc:"Directory holding every partition replica: its mutation log and its Pebble store."`
	MetaServers                                 []string `toml:"meta_servers" doc:"gRPC addresses of the meta servers."`
	Zone                                        string   `toml:"zone" doc:"Failure domain (zone or rack) of this server, shown in nodes -d. A rolling update restarts several servers at once only within one zone (--parallel)."`

	FailureDetector

	LogPrivateFileSizeMB int  `toml:"log_private_file_size_mb" doc:"Size at which a mutation log segment is rolled."`
	LogSync              bool `toml:"log_sync" doc:"fsync the mutation log before acknowledging a write. Turn off only for throwaway benchmarks."`

	PrepareTimeoutMsForSecondaries int `toml:"prepare_timeout_ms_for_secondaries" doc:"A secondary that has not acknowledged a prepare within this time is reported to the meta server for removal, so writes never block on a dead member."`
	GroupCheckIntervalMs           int `toml:"group_check_interval_ms" doc:"How often a primary sends its commit point to members when no writes carry it. The answers renew its read lease, so it must be at most half of fd_lease_seconds."`
	MaxInflightMutations           int `toml:"max_inflight_mutations" doc:"Prepared but uncommitted mutations a primary allows before it answers ERR_CAPACITY_EXCEEDED (Pegasus staleness_for_commit)."`
	MutationCacheMB                int `toml:"mutation_cache_mb" doc:"Recent mutations a primary keeps in memory per partition to let a learner catch up from the log without a checkpoint."`
	CheckpointIntervalSeconds      int `toml:"checkpoint_interval_seconds" doc:"How often memtables are flushed to make the durable decree advance and the mutation log shrink."`

	MaxSortKeyBytes int `toml:"max_sort_key_bytes" doc:"Largest sort key accepted; larger writes get ERR_INVALID_PARAMETERS and change nothing."`
	MaxValueBytes   int `toml:"max_value_bytes" doc:"Largest value accepted; larger writes get ERR_INVALID_PARAMETERS and change nothing."`

	Mutation2PCMinReplicaCount int `toml:"mutation_2pc_min_replica_count" doc:"A primary refuses writes (ERR_NOT_ENOUGH_MEMBER) while its partition has fewer members than this (capped at the table's replica count), so a 3-replica partition keeps writing with one secondary down."`
	BlockCacheMB               int `toml:"block_cache_mb" doc:"Block cache shared by every partition store of the server. 0 gives each store a small private cache."`
	WriteDedupRetentionSeconds int `toml:"write_dedup_retention_seconds" doc:"How long an applied write's request record (its id and the result its client gets back) is kept, so that a retry of an incr or check_and_set is answered with the original result instead of running again. Timed by the apply clock; at least 180: the clients' 120 s retry window plus 60 s for clock differences between primaries; at most 3600."`

	GCDiskGarbageReplicaIntervalSeconds int `toml:"gc_disk_garbage_replica_interval_seconds" doc:"How long a replica the meta server disowned (table dropped, replica moved elsewhere) stays on disk in a <gpid>.<ts>.gar directory before it is deleted (Pegasus' default: one day)."`
	GCDiskErrorReplicaIntervalSeconds   int `toml:"gc_disk_error_replica_interval_seconds" doc:"How long a replica found corrupt when it opened (a checksum failure in its mutation log or store) stays on disk in a <gpid>.<ts>.err directory for inspection before it is deleted; the partition learns a fresh copy meanwhile (Pegasus' default: one week)."`
	DiskStatIntervalSeconds             int `toml:"disk_stat_interval_seconds" doc:"How often data_dir is scanned for .gar directories past their retention and their sizes are measured."`
	Security
	Limits
	Log
}

// Collector configures the availability collector.
type Collector struct {
	HTTPListen            string   `toml:"http_listen" doc:"HTTP address of the availability JSON, the cluster page and /metrics."`
	MetaServers           []string `toml:"meta_servers" doc:"gRPC addresses of the meta servers."`
	DetectTable           string   `toml:"available_detect_app" doc:"Table the collector creates and probes on every partition."`
	DetectPartitionCount  int      `toml:"available_detect_partition_count" doc:"Partition count of the detection table when the collector creates it."`
	DetectIntervalSeconds int      `toml:"available_detect_interval_seconds" doc:"How often every partition is probed with a write and a read."`
	DetectTimeoutMs       int      `toml:"available_detect_timeout_ms" doc:"A probe slower than this counts as failed."`
	DetectReplicaCount    int      `toml:"available_detect_replica_count" doc:"Replica count of the detection table when the collector creates it."`
	ScrapeIntervalSeconds int      `toml:"metrics_scrape_interval_seconds" doc:"How often the collector scrapes every replica server's /metrics to compute request rates and latencies."`

	Security
	TokenFile   string `toml:"token_file" doc:"File holding the admin token the collector presents to the meta servers (it creates its detection table). Not needed with an admin certificate."`
	PprofListen string `toml:"pprof_listen" doc:"Address of a listener serving Go's profiles (/debug/pprof/). Empty disables it."`
	Log
}

// DefaultMeta returns a meta server's defaults.
func DefaultMeta() Meta {
	return Meta{
		Listen:                          "127.0.0.1:34601",
		HTTPListen:                      "127.0.0.1:34611",
		PegasusListen:                   "127.0.0.1:34621",
		DataDir:                         "./data/meta",
		ClusterName:                     "onebox",
		EtcdClientURL:                   "http://127.0.0.1:2379",
		EtcdPeerURL:                     "http://127.0.0.1:2380",
		ElectionTTLSeconds:              3,
		FailureDetector:                 DefaultFailureDetector(),
		ReplicaAssignDelayMsForDropouts: 300000,
		AddSecondaryMaxCountForOneNode:  10,
		NodeLivePercentageThreshold:     50,
		MinLiveNodeCountForUnfreeze:     2,
		MaxSuccessiveUnstableRestart:    5,
		MetaFunctionLevelOnStart:        "steady",
		LBIntervalMs:                    1000,
		Limits:                          DefaultLimits(),
		Log:                             DefaultLog(),
	}
}

// DefaultReplica returns a replica server's defaults.
func DefaultReplica() Replica {
	return Replica{
		Listen:                         "127.0.0.1:34801",
		HTTPListen:                     "127.0.0.1:34811",
		PegasusListen:                  "127.0.0.1:34821",
		DataDir:                        "./data/replica",
		MetaServers:                    []string{"127.0.0.1:34601"},
		FailureDetector:                DefaultFailureDetector(),
		LogPrivateFileSizeMB:           32,
		LogSync:                        true,
		PrepareTimeoutMsForSecondaries: 1000,
		GroupCheckIntervalMs:           1000,
		MaxInflightMutations:           1024,
		MutationCacheMB:                1,
		CheckpointIntervalSeconds:      100,
		MaxSortKeyBytes:                64 << 10,
		MaxValueBytes:                  1 << 20,
		Mutation2PCMinReplicaCount:     2,
		BlockCacheMB:                   256,
		Limits:                         DefaultLimits(),
		WriteDedupRetentionSeconds:     300,

		GCDiskGarbageReplicaIntervalSeconds: 24 * 3600,
		GCDiskErrorReplicaIntervalSeconds:   7 * 24 * 3600,
		DiskStatIntervalSeconds:             600,
		Log:                                 DefaultLog(),
	}
}

// DefaultCollector returns the collector's defaults.
func DefaultCollector() Collector {
	return Collector{
		HTTPListen:            "127.0.0.1:34101",
		MetaServers:           []string{"127.0.0.1:34601"},
		DetectTable:           "detect",
		DetectPartitionCount:  8,
		DetectIntervalSeconds: 1,
		DetectTimeoutMs:       1000,
		DetectReplicaCount:    3,
		ScrapeIntervalSeconds: 10,
		Log:                   DefaultLog(),
	}
}

// DefaultFailureDetector returns beacon 3 s, lease 9 s, grace 10 s: the
// figures of the Pegasus operations guide (Pegasus' code ships 20/22 s).
func DefaultFailureDetector() FailureDetector {
	return FailureDetector{BeaconIntervalSeconds: 3, LeaseSeconds: 9, GraceSeconds: 10, CheckIntervalSeconds: 1}
}

// BeaconInterval, Lease, Grace and CheckInterval return the timings as durations.
func (f FailureDetector) BeaconInterval() time.Duration {
	return time.Duration(f.BeaconIntervalSeconds) * time.Second
}
func (f FailureDetector) Lease() time.Duration { return time.Duration(f.LeaseSeconds) * time.Second }
func (f FailureDetector) Grace() time.Duration { return time.Duration(f.GraceSeconds) * time.Second }
func (f FailureDetector) CheckInterval() time.Duration {
	return time.Duration(f.CheckIntervalSeconds) * time.Second
}

// Validate checks the timing invariants.
func (f FailureDetector) Validate() error {
	if f.BeaconIntervalSeconds <= 0 || f.LeaseSeconds <= 0 || f.GraceSeconds <= 0 || f.CheckIntervalSeconds <= 0 {
		return fmt.Errorf("%w: failure detector timings must be positive (beacon %ds, lease %ds, grace %ds, check %ds)",
			ErrInvalid, f.BeaconIntervalSeconds, f.LeaseSeconds, f.GraceSeconds, f.CheckIntervalSeconds)
	}
	if f.LeaseSeconds >= f.GraceSeconds {
		return fmt.Errorf("%w: fd_lease_seconds (%d) must be below fd_grace_seconds (%d), or two primaries could serve at once",
			ErrInvalid, f.LeaseSeconds, f.GraceSeconds)
	}
	if f.BeaconIntervalSeconds >= f.LeaseSeconds {
		return fmt.Errorf("%w: fd_beacon_interval_seconds (%d) must be below fd_lease_seconds (%d), or every lease runs out between beacons",
			ErrInvalid, f.BeaconIntervalSeconds, f.LeaseSeconds)
	}
	return nil
}

// Validate checks a meta server configuration.
func (m Meta) Validate() error {
	if m.Listen == "" {
		return fmt.Errorf("%w: meta listen address is empty", ErrInvalid)
	}
	if m.DataDir == "" {
		return fmt.Errorf("%w: meta data_dir is empty", ErrInvalid)
	}
	switch m.MetaFunctionLevelOnStart {
	case "stopped", "blind", "freezed", "steady", "lively":
	default:
		return fmt.Errorf("%w: meta_function_level_on_start %q is not one of stopped, blind, freezed, steady, lively", ErrInvalid, m.MetaFunctionLevelOnStart)
	}
	if m.ElectionTTLSeconds < 1 {
		return fmt.Errorf("%w: election_ttl_seconds must be at least 1", ErrInvalid)
	}
	if err := m.FailureDetector.Validate(); err != nil {
		return err
	}
	for _, v := range []interface{ Validate() error }{m.Admission, m.Security, m.Limits, m.Log} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	// While a crashed meta leader's election lease runs out, no beacon is
	// acknowledged; a replica server's lease must outlast that and its next
	// beacon to the new leader, or every replica stops serving during an
	// ordinary meta failover.
	if m.LeaseSeconds <= m.ElectionTTLSeconds+m.BeaconIntervalSeconds {
		return fmt.Errorf("%w: fd_lease_seconds (%d) must exceed election_ttl_seconds (%d) + fd_beacon_interval_seconds (%d), or replica leases run out during a meta leader failover",
			ErrInvalid, m.LeaseSeconds, m.ElectionTTLSeconds, m.BeaconIntervalSeconds)
	}
	return nil
}

// MaxRequestFrameBytes is the largest request frame the replica server's
// Pegasus-protocol port reads: a value at max_value_bytes with a sort key
// at max_sort_key_bytes, a hash key at its 64 KiB limit and room for the
// rest of the request. A larger frame is refused on its header, before
// any of it is buffered (a multi_put larger than this must be split).
func (r Replica) MaxRequestFrameBytes() int {
	return r.MaxValueBytes + r.MaxSortKeyBytes + 64<<10 + 64<<10
}

// MaxWriteDedupRetentionSeconds caps write_dedup_retention_seconds: a
// retried write's lookup of its request record reads one bucket of records
// per minute of retention (storage's requests.go), and no client retries
// one write for more than rpc.MaxWriteRetryWindow.
const MaxWriteDedupRetentionSeconds = 3600

// Validate checks a replica server configuration.
func (r Replica) Validate() error {
	if r.Listen == "" {
		return fmt.Errorf("%w: replica listen address is empty", ErrInvalid)
	}
	if r.DataDir == "" {
		return fmt.Errorf("%w: replica data_dir is empty", ErrInvalid)
	}
	if len(r.MetaServers) == 0 {
		return fmt.Errorf("%w: replica meta_servers is empty", ErrInvalid)
	}
	if r.MaxInflightMutations < 1 {
		return fmt.Errorf("%w: max_inflight_mutations must be at least 1", ErrInvalid)
	}
	if r.Mutation2PCMinReplicaCount < 1 {
		return fmt.Errorf("%w: mutation_2pc_min_replica_count must be at least 1", ErrInvalid)
	}
	if r.BlockCacheMB < 0 {
		return fmt.Errorf("%w: block_cache_mb must not be negative", ErrInvalid)
	}
	if r.GCDiskGarbageReplicaIntervalSeconds < 0 || r.GCDiskErrorReplicaIntervalSeconds < 0 || r.DiskStatIntervalSeconds < 1 {
		return fmt.Errorf("%w: gc_disk_garbage_replica_interval_seconds and gc_disk_error_replica_interval_seconds must not be negative and disk_stat_interval_seconds must be positive", ErrInvalid)
	}
	// A client retries a write for up to rpc.MaxWriteRetryWindow; a server
	// that forgot the write before that would run its retry again.
	if minimum := int(rpc.MinWriteDedupRetention / time.Second); r.WriteDedupRetentionSeconds < minimum {
		return fmt.Errorf("%w: write_dedup_retention_seconds (%d) must be at least %d: clients retry a write for up to %v, and primaries' clocks may differ by %v; a shorter retention would run retries of incr and check_and_set twice",
			ErrInvalid, r.WriteDedupRetentionSeconds, minimum, rpc.MaxWriteRetryWindow, rpc.ClockSkewAllowance)
	}
	if r.WriteDedupRetentionSeconds > MaxWriteDedupRetentionSeconds {
		return fmt.Errorf("%w: write_dedup_retention_seconds (%d) must be at most %d: a retried write's lookup reads its id once per minute of retention, and no client retries a write for longer than %v",
			ErrInvalid, r.WriteDedupRetentionSeconds, MaxWriteDedupRetentionSeconds, rpc.MaxWriteRetryWindow)
	}
	if err := r.Log.Validate(); err != nil {
		return err
	}
	// An idle primary renews its read lease with the group check; two
	// chances per lease keep one lost message from costing it.
	if r.GroupCheckIntervalMs < 1 || 2*r.GroupCheckIntervalMs > 1000*r.LeaseSeconds {
		return fmt.Errorf("%w: group_check_interval_ms (%d) must be positive and at most half of fd_lease_seconds (%d), or an idle primary's read lease runs out",
			ErrInvalid, r.GroupCheckIntervalMs, r.LeaseSeconds)
	}
	for _, v := range []interface{ Validate() error }{r.Security, r.Limits} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	return r.FailureDetector.Validate()
}

// Validate checks a collector configuration.
func (c Collector) Validate() error {
	if len(c.MetaServers) == 0 {
		return fmt.Errorf("%w: collector meta_servers is empty", ErrInvalid)
	}
	if c.DetectIntervalSeconds < 1 || c.DetectPartitionCount < 1 {
		return fmt.Errorf("%w: collector detect interval and partition count must be positive", ErrInvalid)
	}
	if c.DetectTimeoutMs < 1 || c.DetectReplicaCount < 1 || c.ScrapeIntervalSeconds < 1 {
		return fmt.Errorf("%w: collector detect timeout, detect replica count and scrape interval must be positive", ErrInvalid)
	}
	if c.DetectTable == "" {
		return fmt.Errorf("%w: collector available_detect_app is empty", ErrInvalid)
	}
	if err := c.Security.Validate(); err != nil {
		return err
	}
	return c.Log.Validate()
}

// Load reads a TOML file over the defaults already in cfg (a pointer to one
// of the role structs). Unknown keys are an error: a misspelt key that is
// silently ignored is a production incident waiting to happen.
func Load(path string, cfg any) error {
	if path == "" {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	md, err := toml.Decode(string(data), cfg)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return fmt.Errorf("%w: %s: unknown keys %v", ErrInvalid, path, und)
	}
	return nil
}
