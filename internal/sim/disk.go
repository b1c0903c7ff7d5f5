package sim

import (
	"maps"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
)

// disk is a replica server's data directory. It survives the process's
// crashes; what a crash keeps of each replica is what was synced, plus a
// prefix of what was written but not yet synced (a torn tail), exactly as
// the mutation log's recovery promises.
type disk struct {
	replicas map[decide.Gpid]*replicaDisk
	// clusterID is the cluster_id file: the id of the cluster the server
	// joined ("" before it joins), written and synced at once.
	clusterID string
}

func newDisk() *disk { return &disk{replicas: make(map[decide.Gpid]*replicaDisk)} }

// replicaDisk is one replica's directory: its info file, its mutation log
// and its store.
type replicaDisk struct {
	g decide.Gpid
	// info is the replica info file: the core's HardState and the copy's
	// incarnation (drawn when the directory is created). It is written
	// and synced at once (replica's writeReplicaInfo).
	hard        pacifica.HardState
	incarnation uint64
	maxReplicas int32

	// log holds the records in the order they were appended, in the
	// server's record format (replica.LogRecords), from the oldest one GC
	// kept. The first synced of them are durable.
	log    []mutlog.Record
	synced int
	// eff is the effective log of the synced records (mutlog.Effective of
	// log[:synced]), kept up to date as records are synced: it is what
	// survives a crash, what learners read and what the checker inspects.
	eff []mutlog.Record
	// segment is the number of records per log segment: GC removes whole
	// segments, and never the last one.
	segment int

	// store is the store as of its durable decree: what survives a crash
	// (the store's WAL is off; only flushes make it durable).
	store   kvState
	durable int64
	// reqs are the store's request records as of its durable decree: they
	// live in the store, beside the data, and are copied with it on flush
	// and checkpoint (see adapt.go).
	reqs requests
}

// kvState is a store's content: key -> value. Values are small; the model
// copies the map on flush and checkpoint.
type kvState map[string]string

func (s kvState) clone() kvState { return maps.Clone(s) }

// Replay implements replica.LogReplayer with the log's own supersede rules
// (mutlog.Effective) over the records that survived. The model replays
// only after a crash, when every surviving record is synced.
func (d *replicaDisk) Replay(from int64, fn func(mutlog.Record) error) error {
	for _, r := range mutlog.Effective(d.log) {
		if r.Decree < from {
			continue
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// reindex recomputes eff from scratch.
func (d *replicaDisk) reindex() { d.eff = mutlog.Effective(d.log[:d.synced]) }

var _ replica.LogReplayer = (*replicaDisk)(nil)

// errCompacted answers a log read below what GC kept, as mutlog.Read does.
var errCompacted = mutlog.ErrCompacted

// read returns the effective entries from..to for a learner, or
// errCompacted if GC removed some of them.
func (d *replicaDisk) read(from, to pacifica.Decree) ([]pacifica.Entry, error) {
	eff := d.eff
	if len(eff) == 0 || eff[0].Decree > int64(from) {
		return nil, errCompacted
	}
	var out []pacifica.Entry
	for _, r := range eff {
		if r.Decree < int64(from) || r.Decree > int64(to) {
			continue
		}
		e, err := replica.DecodeLogEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// append writes records, unsynced.
func (d *replicaDisk) append(recs []mutlog.Record) { d.log = append(d.log, recs...) }

// sync makes the first n records durable.
func (d *replicaDisk) sync(n int) {
	n = min(n, len(d.log))
	if n <= d.synced {
		return
	}
	for _, r := range d.log[d.synced:n] {
		if k := len(d.eff); k > 0 && r.Decree <= d.eff[k-1].Decree {
			// A record that supersedes others: rare, recompute.
			d.synced = n
			d.reindex()
			return
		}
		d.eff = append(d.eff, r)
	}
	d.synced = n
}

// crash keeps what a crash keeps: the synced records and a random prefix
// of the rest (a torn batch is cut at its first damaged record on open).
func (d *replicaDisk) crash(w *World) {
	if unsynced := len(d.log) - d.synced; unsynced > 0 {
		keep := d.synced + w.rng.IntN(unsynced+1)
		if keep < len(d.log) {
			w.stats.tornRecords += len(d.log) - keep
		}
		d.log = d.log[:keep]
		d.synced = keep
		d.reindex()
	}
}

// flush makes the store durable at decree applied and lets GC drop the
// log segments it covers (mutlog.Log.GC): whole segments of synced records
// whose every decree is at or below the durable decree, never the last.
func (d *replicaDisk) flush(kv kvState, reqs requests, applied int64) {
	d.store, d.reqs, d.durable = kv.clone(), reqs.clone(), applied
	cut := 0
	for end := d.segment; end < d.synced; end += d.segment {
		all := true
		for _, r := range d.log[end-d.segment : end] {
			if r.Decree > applied {
				all = false
				break
			}
		}
		if !all {
			break
		}
		cut = end
	}
	if cut > 0 {
		d.log = append([]mutlog.Record(nil), d.log[cut:]...)
		d.synced -= cut
		d.reindex()
	}
}

// install replaces the store with a checkpoint and discards the log, as
// the server's checkpoint install does (log first, then the store; the
// model does both at once).
func (d *replicaDisk) install(kv kvState, reqs requests, decree int64) {
	d.log, d.synced, d.eff = nil, 0, nil
	d.store, d.reqs, d.durable = kv.clone(), reqs.clone(), decree
}

// diskLatency draws the time a log append takes to be written and synced.
func (w *World) diskLatency() time.Duration {
	d := w.between(100*time.Microsecond, 2*time.Millisecond)
	if w.chance(w.opts.faults.slowDiskP) {
		d += w.between(10*time.Millisecond, 400*time.Millisecond)
	}
	return d
}
