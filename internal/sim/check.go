package sim

import (
	"slices"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
)

// checker holds the invariants checked while the run goes, beside the
// end-of-run judgement of the histories (history.go):
//
//  1. One primary accepts writes per ballot: every entry created at ballot b
//     of a partition was created by the same node.
//  2. No acknowledged write is missing from any member of the current
//     configuration: every primary and secondary the store names holds, in
//     what survives a crash (its synced log and durable store), every write
//     a client saw acknowledged.
//  3. No read is served by a primary while a configuration excluding it
//     has committed: a read served at ballot b after an entry created at a
//     ballot above b was committed anywhere is stale.
//  4. Replicas apply one history: the entry applied at a decree is the
//     same on every replica (same ballot and request id).
//  5. Exactly once: a request id is applied at one decree only.
//
// 1, 3, 4 and 5 are checked when the event happens; 2 after every step
// whose changes could break it (a new acknowledgement, a configuration
// written, a disk that lost or replaced data).
type checker struct {
	w *World

	writers map[gpidBallot]pacifica.NodeID
	history map[decide.Gpid]map[pacifica.Decree]entryID
	byRID   map[decide.Gpid]map[pacifica.RequestID]pacifica.Decree
	// newest is, per partition, the highest ballot in which an entry was
	// created and committed (applied somewhere).
	newest map[decide.Gpid]pacifica.Ballot
	// acks are the acknowledged decrees, per partition.
	acks    map[decide.Gpid][]pacifica.Decree
	configs map[decide.Gpid]decide.PartitionConfig
	dirty   map[decide.Gpid]bool
}

type gpidBallot struct {
	g decide.Gpid
	b pacifica.Ballot
}

type entryID struct {
	ballot pacifica.Ballot
	rid    pacifica.RequestID
}

func newChecker(w *World) *checker {
	return &checker{
		w:       w,
		writers: make(map[gpidBallot]pacifica.NodeID),
		history: make(map[decide.Gpid]map[pacifica.Decree]entryID),
		byRID:   make(map[decide.Gpid]map[pacifica.RequestID]pacifica.Decree),
		newest:  make(map[decide.Gpid]pacifica.Ballot),
		acks:    make(map[decide.Gpid][]pacifica.Decree),
		configs: make(map[decide.Gpid]decide.PartitionConfig),
		dirty:   make(map[decide.Gpid]bool),
	}
}

// proposed records that node created the entry at decree d in ballot b.
func (c *checker) proposed(g decide.Gpid, b pacifica.Ballot, d pacifica.Decree, node pacifica.NodeID) {
	k := gpidBallot{g, b}
	if prev, ok := c.writers[k]; ok && prev != node {
		c.w.fail("%s: two primaries accepted writes at ballot %d: %s and %s (decree %d)", g, b, prev, node, d)
		return
	}
	c.writers[k] = node
}

// applied records that node applied e.
func (c *checker) applied(g decide.Gpid, node pacifica.NodeID, e pacifica.Entry) {
	h := c.history[g]
	if h == nil {
		h = make(map[pacifica.Decree]entryID)
		c.history[g] = h
		c.byRID[g] = make(map[pacifica.RequestID]pacifica.Decree)
	}
	id := entryID{e.Ballot, e.RequestID}
	if prev, ok := h[e.Decree]; ok {
		if prev != id {
			c.w.fail("%s: %s applied entry b%d rid %v at decree %d, another replica applied b%d rid %v there",
				g, node, e.Ballot, e.RequestID, e.Decree, prev.ballot, prev.rid)
		}
		return
	}
	h[e.Decree] = id
	if !e.RequestID.IsZero() {
		if d, ok := c.byRID[g][e.RequestID]; ok && d != e.Decree {
			c.w.fail("%s: request %v applied twice, at decrees %d and %d (exactly-once broken)", g, e.RequestID, d, e.Decree)
		}
		c.byRID[g][e.RequestID] = e.Decree
	}
	if e.Ballot > c.newest[g] {
		c.newest[g] = e.Ballot
	}
}

// readServed checks that node may serve a read at ballot b.
func (c *checker) readServed(g decide.Gpid, node pacifica.NodeID, b pacifica.Ballot) {
	c.w.stats.reads++
	if n := c.newest[g]; n > b {
		c.w.fail("%s: stale read: %s served a read as primary of ballot %d after an entry of ballot %d committed",
			g, node, b, n)
	}
}

// acked records a write acknowledged to a client.
func (c *checker) acked(g decide.Gpid, d pacifica.Decree) {
	if d <= 0 {
		return
	}
	c.acks[g] = append(c.acks[g], d)
	c.checkMembers(g, []pacifica.Decree{d})
}

// configWritten records a configuration the store took.
func (c *checker) configWritten(cfg decide.PartitionConfig) {
	if old, ok := c.configs[cfg.Gpid]; ok && old.Ballot >= cfg.Ballot {
		return
	}
	c.configs[cfg.Gpid] = cfg.Clone()
	c.dirty[cfg.Gpid] = true
}

// diskChanged marks a partition whose replicas' disks lost or replaced
// data.
func (c *checker) diskChanged(g decide.Gpid) { c.dirty[g] = true }

// afterStep runs the checks the step may have made necessary.
func (c *checker) afterStep() {
	if len(c.dirty) == 0 {
		return
	}
	for _, g := range sortedGpids(c.dirty) {
		c.checkMembers(g, c.acks[g])
	}
	clear(c.dirty)
}

// checkMembers checks invariant 2 for the decrees ds of partition g.
func (c *checker) checkMembers(g decide.Gpid, ds []pacifica.Decree) {
	if len(ds) == 0 || c.w.stopped {
		return
	}
	cfg, ok := c.configs[g]
	if !ok {
		return
	}
	members := append([]string{}, cfg.Secondaries...)
	if cfg.Primary != "" {
		members = append(members, cfg.Primary)
	}
	slices.Sort(members)
	for _, n := range members {
		srv := c.w.node(n)
		if srv == nil {
			continue
		}
		d := srv.disk.replicas[g]
		var durable []mutlog.Record
		var storeAt int64
		if d != nil {
			durable = d.eff
			storeAt = d.durable
		}
		for _, dec := range ds {
			if int64(dec) <= storeAt {
				continue
			}
			want := c.history[g][dec]
			i, found := slices.BinarySearchFunc(durable, int64(dec), func(r mutlog.Record, x int64) int {
				return int(r.Decree - x)
			})
			if found {
				if e, err := replica.DecodeLogEntry(durable[i]); err == nil && e.Ballot == want.ballot && e.RequestID == want.rid {
					continue
				}
			}
			where := "no replica on its disk"
			if d != nil {
				where = "durable store at " + itoa(storeAt) + ", synced log " + logRange(durable)
			}
			c.w.fail("%s: acknowledged write at decree %d (b%d) missing from member %s of ballot %d (%s)",
				g, dec, want.ballot, n, cfg.Ballot, where)
			return
		}
	}
}

func logRange(recs []mutlog.Record) string {
	if len(recs) == 0 {
		return "empty"
	}
	return itoa(recs[0].Decree) + ".." + itoa(recs[len(recs)-1].Decree)
}
