package pacifica

// dedupTable maps the RequestIDs of the entries a replica holds to their
// decrees, for exactly-once writes. Every replica maintains it as it logs
// entries, so a secondary promoted to primary recognises retries of writes
// the old primary proposed.
//
// It keeps two generations of half the window each: new records go to cur;
// when cur is full it becomes prev and the old prev is dropped whole. So the
// table always knows the last size/2 to size identified entries, costs one
// map insert per entry, and never deletes in steady state (a map that is
// inserted at one end and deleted at the other degrades badly). A retry of an
// older write is executed again: the exactly-once window (doc.go).
type dedupTable struct {
	genSize int
	cur     map[RequestID]Decree
	prev    map[RequestID]Decree
}

func newDedupTable(size int) dedupTable {
	g := max(size/2, 1)
	return dedupTable{genSize: g, cur: make(map[RequestID]Decree)}
}

// lookup returns the decree of the entry carrying id, if known.
func (t *dedupTable) lookup(id RequestID) (Decree, bool) {
	if d, ok := t.cur[id]; ok {
		return d, true
	}
	d, ok := t.prev[id]
	return d, ok
}

// add records that the entry at decree d carries id.
func (t *dedupTable) add(id RequestID, d Decree) {
	if id.IsZero() {
		return
	}
	t.cur[id] = d
	if len(t.cur) >= t.genSize {
		t.prev, t.cur = t.cur, make(map[RequestID]Decree, len(t.cur))
	}
}

// remove forgets that the entry at decree d carries id (its entry was
// replaced). The id may have been reused by a later entry (a retry arriving
// after its original left the window); only a record for d is removed.
func (t *dedupTable) remove(id RequestID, d Decree) {
	if t.cur[id] == d {
		delete(t.cur, id)
	} else if t.prev[id] == d {
		delete(t.prev, id)
	}
}

// reset forgets everything (after a checkpoint replaced the replica's state).
func (t *dedupTable) reset() {
	t.cur, t.prev = make(map[RequestID]Decree), nil
}
