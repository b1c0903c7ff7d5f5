package collector

import (
	"sync"
	"time"
)

// ProbeKind names the two probes sent to every partition each round.
type ProbeKind string

const (
	ProbeWrite ProbeKind = "write"
	ProbeRead  ProbeKind = "read"
)

// ProbeFailure is the latest failed probe of a partition.
type ProbeFailure struct {
	// TS is the Unix second the probe was issued in (the per_second bucket
	// it counted against).
	TS        int64     `json:"ts"`
	Kind      ProbeKind `json:"kind"`
	Error     string    `json:"error"`
	LatencyUS uint32    `json:"latency_us"`
}

// PartitionProbes is what the detector knows about one partition since it
// started probing the table.
type PartitionProbes struct {
	Index   int    `json:"partition_index"`
	HashKey string `json:"hash_key"`
	Probes  uint64 `json:"probes"`
	// Failures counts failed probes; ConsecutiveFailures those since the
	// last success, so a non-zero value means the partition is failing now.
	Failures            uint64 `json:"failures"`
	ConsecutiveFailures uint64 `json:"consecutive_failures"`
	// Skipped counts rounds in which the partition was not probed because
	// its earlier probes were still running (see detector).
	Skipped uint64 `json:"skipped"`
	// LastOK is the Unix second of the latest successful probe's issue.
	LastOK      int64         `json:"last_ok"`
	LastFailure *ProbeFailure `json:"last_failure"`
}

// PartitionsReport answers /api/availability/partitions.
type PartitionsReport struct {
	Table          string            `json:"table"`
	AppID          int32             `json:"app_id"`
	PartitionCount int               `json:"partition_count"`
	Partitions     []PartitionProbes `json:"partitions"`
}

// partitionBoard keeps the per-partition view.
type partitionBoard struct {
	mu    sync.Mutex
	table string
	appID int32
	parts []PartitionProbes
}

// reset starts a fresh view for a table layout: the counters of another
// layout describe other keys.
func (b *partitionBoard) reset(table string, appID int32, keys []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.table, b.appID = table, appID
	b.parts = make([]PartitionProbes, len(keys))
	for i, k := range keys {
		b.parts[i] = PartitionProbes{Index: i, HashKey: k}
	}
}

// record counts one probe of partition pidx. It reports whether the
// partition changed between failing and succeeding, and for how many
// probes it had been failing, so the caller logs transitions only.
func (b *partitionBoard) record(pidx int, kind ProbeKind, issued time.Time, latency time.Duration, err error) (changed bool, failedBefore uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if pidx >= len(b.parts) {
		return false, 0 // a probe of a layout replaced while it ran
	}
	p := &b.parts[pidx]
	p.Probes++
	if err == nil {
		failedBefore = p.ConsecutiveFailures
		p.ConsecutiveFailures = 0
		p.LastOK = max(p.LastOK, issued.Unix())
		return failedBefore > 0, failedBefore
	}
	p.Failures++
	p.ConsecutiveFailures++
	if p.LastFailure == nil || p.LastFailure.TS <= issued.Unix() {
		p.LastFailure = &ProbeFailure{TS: issued.Unix(), Kind: kind, Error: err.Error(), LatencyUS: micros(latency)}
	}
	return p.ConsecutiveFailures == 1, 0
}

func (b *partitionBoard) skipped(pidx int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if pidx < len(b.parts) {
		b.parts[pidx].Skipped++
	}
}

func (b *partitionBoard) report() PartitionsReport {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := PartitionsReport{Table: b.table, AppID: b.appID, PartitionCount: len(b.parts), Partitions: make([]PartitionProbes, len(b.parts))}
	for i, p := range b.parts {
		if p.LastFailure != nil {
			f := *p.LastFailure
			p.LastFailure = &f
		}
		r.Partitions[i] = p
	}
	return r
}
