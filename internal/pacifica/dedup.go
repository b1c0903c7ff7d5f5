package pacifica

// inflightIDs maps the RequestIDs of the entries a replica holds above its
// applied decree to their decrees: the writes in flight, logged but not yet
// applied. It is half of exactly-once; storage is the other half.
//
// The boundary between the two is the applied decree, and it is exact. An
// entry's id enters the table when the entry is logged (if it is above the
// applied decree) and leaves it when Advance reports the entry applied; the
// driver has written the entry's request record to storage, in the batch
// that applied it, before that Advance (Ready contract, step 4). So at any
// moment an id the replica logged is in this table, or in storage, or both
// (between the Ready that hands an entry out and its Advance); never in
// neither. A Propose whose id is here creates no entry; the driver looks
// storage up first, on a writable primary, for requests already applied
// (doc.go, exactly-once).
//
// Every replica keeps the table as it logs entries, so a secondary promoted
// to primary recognises retries of the writes its predecessor proposed but
// had not finished. Its size is the number of logged, unapplied entries, which
// the log keeps in memory anyway: it needs no bound of its own.
type inflightIDs map[RequestID]Decree

// lookup returns the decree of the in-flight entry carrying id, if any.
func (t inflightIDs) lookup(id RequestID) (Decree, bool) {
	d, ok := t[id]
	return d, ok
}

// add records that the entry at decree d carries id.
func (t inflightIDs) add(id RequestID, d Decree) {
	if !id.IsZero() {
		t[id] = d
	}
}

// remove forgets that the entry at decree d carries id (it was applied, or
// replaced). Only a record for d is removed: the id may have been given to
// another entry since (a retry proposed after its original was replaced).
func (t inflightIDs) remove(id RequestID, d Decree) {
	if cur, ok := t[id]; ok && cur == d {
		delete(t, id)
	}
}
