package pacifica

// entryOverhead approximates the memory an Entry costs besides its payload;
// it keeps CacheBytes meaningful for tiny mutations.
const entryOverhead = 64

// replicaLog is a replica's in-memory view of its effective log: the
// contiguous entries first..last(). Entries up to the applied decree may be
// evicted from the front (they stay in the driver's on-disk log); entries are
// removed from the back only when a primary's version of a decree replaces a
// different one.
//
// Two cursors track the driver's progress. handed: entries up to it were
// handed out in a Ready for persisting. stable: entries up to it are durable
// in exactly their current version. Replacing entries pulls both back, so an
// entry counts as durable only once its own version was written.
type replicaLog struct {
	entries []Entry
	first   Decree
	// prevBallot is the ballot of decree first-1 when known (after an
	// eviction), zero when not (after a restart or checkpoint).
	prevBallot Ballot
	bytes      int
	stable     Decree
	handed     Decree
}

// newReplicaLog returns an empty log whose next entry is decree after+1;
// everything up to after is already durable in storage.
func newReplicaLog(after Decree) replicaLog {
	return replicaLog{first: after + 1, stable: after, handed: after}
}

func (l *replicaLog) last() Decree { return l.first + Decree(len(l.entries)) - 1 }

// at returns the entry at decree d if it is in memory.
func (l *replicaLog) at(d Decree) (*Entry, bool) {
	if d < l.first || d > l.last() {
		return nil, false
	}
	return &l.entries[d-l.first], true
}

// ballotAt returns the ballot of the entry at d, if known. Decree 0 (before
// the first mutation) trivially has ballot 0.
func (l *replicaLog) ballotAt(d Decree) (Ballot, bool) {
	if d == 0 {
		return 0, true
	}
	if e, ok := l.at(d); ok {
		return e.Ballot, true
	}
	if d == l.first-1 && l.prevBallot != 0 {
		return l.prevBallot, true
	}
	return 0, false
}

// append adds e at the end; e.Decree must be last()+1.
func (l *replicaLog) append(e Entry) {
	if e.Decree != l.last()+1 {
		panic("pacifica: log append out of sequence")
	}
	l.entries = append(l.entries, e)
	l.bytes += len(e.Data) + entryOverhead
}

// truncateFrom removes the entries at decrees >= d. d must be within the
// in-memory range.
func (l *replicaLog) truncateFrom(d Decree) {
	if d < l.first || d > l.last() {
		panic("pacifica: log truncation outside the in-memory range")
	}
	i := int(d - l.first)
	for j := i; j < len(l.entries); j++ {
		l.bytes -= len(l.entries[j].Data) + entryOverhead
		l.entries[j] = Entry{} // release the payload
	}
	l.entries = l.entries[:i]
	l.stable = min(l.stable, d-1)
	l.handed = min(l.handed, d-1)
}

// evictThrough drops the in-memory entries at decrees <= d.
func (l *replicaLog) evictThrough(d Decree) {
	if d < l.first {
		return
	}
	n := int(min(d, l.last()) - l.first + 1)
	l.prevBallot = l.entries[n-1].Ballot
	for j := 0; j < n; j++ {
		l.bytes -= len(l.entries[j].Data) + entryOverhead
		l.entries[j] = Entry{}
	}
	l.entries = l.entries[n:]
	l.first += Decree(n)
}

// copyRange returns copies of the entries lo..hi. Callers hand the result to
// the driver, which may keep it after the log has changed.
func (l *replicaLog) copyRange(lo, hi Decree) []Entry {
	if lo > hi {
		return nil
	}
	if lo < l.first || hi > l.last() {
		panic("pacifica: log copy outside the in-memory range")
	}
	out := make([]Entry, hi-lo+1)
	copy(out, l.entries[lo-l.first:hi-l.first+1])
	return out
}

// unhanded returns the entries not yet handed to the driver and marks them
// handed.
func (l *replicaLog) unhanded() []Entry {
	if l.handed >= l.last() {
		return nil
	}
	out := l.copyRange(l.handed+1, l.last())
	l.handed = l.last()
	return out
}
