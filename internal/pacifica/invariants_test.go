package pacifica

import "fmt"

// checkInvariants verifies the replica's internal consistency. Tests call it
// after every step; it is deliberately exhaustive rather than fast.
func (r *Replica) checkInvariants() error {
	l := &r.log
	switch {
	case l.stable > l.handed || l.handed > l.last() || l.stable < l.first-1:
		return fmt.Errorf("%s: log cursors first=%d stable=%d handed=%d last=%d",
			r.id, l.first, l.stable, l.handed, l.last())
	case r.applied > r.applyHanded || r.applyHanded > r.committed || r.committed > l.last():
		return fmt.Errorf("%s: applied=%d applyHanded=%d committed=%d last=%d",
			r.id, r.applied, r.applyHanded, r.committed, l.last())
	case r.applyHanded > l.stable:
		return fmt.Errorf("%s: applying %d beyond durable %d", r.id, r.applyHanded, l.stable)
	case l.first > r.applied+1:
		return fmt.Errorf("%s: evicted up to %d, applied only %d", r.id, l.first-1, r.applied)
	case r.status != StatusPrimary && r.follower.matched > l.last():
		return fmt.Errorf("%s: matched %d beyond log %d", r.id, r.follower.matched, l.last())
	}
	size := 0
	for i, e := range l.entries {
		if e.Decree != l.first+Decree(i) {
			return fmt.Errorf("%s: entry %d holds decree %d", r.id, l.first+Decree(i), e.Decree)
		}
		if i > 0 && e.Ballot < l.entries[i-1].Ballot {
			return fmt.Errorf("%s: ballot decreases at %s", r.id, e)
		}
		if e.Ballot > r.ballot {
			return fmt.Errorf("%s: entry %s from the future (ballot %d)", r.id, e, r.ballot)
		}
		size += len(e.Data) + entryOverhead
	}
	if size != l.bytes {
		return fmt.Errorf("%s: log bytes %d, counted %d", r.id, l.bytes, size)
	}
	// The in-flight table holds exactly the ids of the logged entries above
	// the applied decree (dedup.go): one missing would let a retry create a
	// second entry, one left behind would hide an applied request from the
	// storage lookup's answer.
	for id, d := range r.inflight {
		if d <= r.applied || d > l.last() {
			return fmt.Errorf("%s: request %s in flight at %d, outside (%d, %d]", r.id, id, d, r.applied, l.last())
		}
		if e, ok := l.at(d); !ok || e.RequestID != id {
			return fmt.Errorf("%s: request %s in flight at %d which holds another", r.id, id, d)
		}
	}
	for d := r.applied + 1; d <= l.last(); d++ {
		e, _ := l.at(d)
		if got, ok := r.inflight.lookup(e.RequestID); !e.RequestID.IsZero() && (!ok || got != d) {
			return fmt.Errorf("%s: in-flight request %s at %d not in the table (%d, %v)", r.id, e.RequestID, d, got, ok)
		}
	}
	if r.status == StatusPrimary {
		if r.committed > l.stable {
			return fmt.Errorf("%s: primary committed %d beyond its durable log %d", r.id, r.committed, l.stable)
		}
		for i, t := range r.prim.trackers {
			if i > 0 && r.prim.trackers[i-1].node >= t.node {
				return fmt.Errorf("%s: trackers out of order", r.id)
			}
			if t.acked > l.last() || t.sent > l.last() {
				return fmt.Errorf("%s: tracker %s acked=%d sent=%d beyond %d", r.id, t.node, t.acked, t.sent, l.last())
			}
			if t.node == r.id {
				return fmt.Errorf("%s: tracks itself", r.id)
			}
			if !t.learner && !r.config.HasMember(t.node) {
				return fmt.Errorf("%s: tracks non-member %s as secondary", r.id, t.node)
			}
		}
		for d := range r.prim.waiters {
			if d <= r.applyHanded {
				return fmt.Errorf("%s: waiter for applied decree %d", r.id, d)
			}
		}
	} else if len(r.prim.trackers) > 0 || len(r.prim.waiters) > 0 {
		return fmt.Errorf("%s: %s keeps primary state", r.id, r.status)
	}
	return nil
}
