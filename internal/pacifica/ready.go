package pacifica

import "slices"

// HardState is what a replica persists besides its log and storage, and
// gets back through DurableState after a restart.
type HardState struct {
	// Ballot is the newest ballot the replica entered: as a member, or as a
	// learner of its primary. Log records are filed under it (doc.go, "The
	// log"). A configuration that does not list the replica never changes
	// it.
	Ballot Ballot
	// Primary is the primary of Ballot as the replica knows it. After a
	// restart the replica cannot know what it promised that primary, so it
	// holds it until restart + Grace (lease.go).
	Primary NodeID
	// MemberBallot is the highest ballot at which the replica was a member
	// (primary or secondary). The replica reports it to the meta server: a
	// member of ballot B holds every write committed at or before B, which
	// is what recovery after the loss of every member compares.
	MemberBallot Ballot
	// Holds are the other primaries the replica held promises or waits for
	// when it last persisted; a restart holds each until restart + Grace.
	Holds []HoldRef
}

// IsZero reports whether h is the state of a brand-new replica.
func (h HardState) IsZero() bool {
	return h.Ballot == 0 && h.Primary == "" && h.MemberBallot == 0 && len(h.Holds) == 0
}

// Equal reports whether h and o are the same state.
func (h HardState) Equal(o HardState) bool {
	return h.Ballot == o.Ballot && h.Primary == o.Primary && h.MemberBallot == o.MemberBallot &&
		slices.Equal(h.Holds, o.Holds)
}

// Ready is a batch of work for the driver. Carry it out in this order (see
// doc.go for why):
//
//  1. If HardState is not zero, persist it. Do this before sending Messages.
//  2. Send Messages. They never depend on Entries of the same Ready, so they
//     may go out while Entries are being written.
//  3. Append Entries to the log and make them durable (filed under the
//     replica's current ballot if the log resolves conflicts by ballot).
//  4. Apply Committed to storage, in order.
//  5. Deliver Replies to clients (after Committed is applied, so a client
//     reading its own write from the primary finds it).
//  6. Hand ConfigProposals to the meta server, serve LogReads
//     (LogReadResult) and CheckpointRequests (InstallCheckpoint);
//     these may complete later, asynchronously.
//  7. Call Advance.
type Ready struct {
	// HardState is the replica's new persistent state, zero if unchanged.
	HardState HardState
	// Entries go to the log in order. An entry at decree d replaces every
	// entry the log holds at decrees >= d (doc.go, "The log").
	Entries []Entry
	// Messages go to other replicas, best effort.
	Messages []Message
	// Committed are durable in the local log and committed; apply them.
	Committed []Entry
	// Replies answer Propose calls.
	Replies []Reply
	// ConfigProposals go to the meta server.
	ConfigProposals []ConfigProposal
	// LogReads ask for old entries from the on-disk log.
	LogReads []LogRead
	// CheckpointRequests ask for a storage checkpoint from the primary.
	CheckpointRequests []CheckpointRequest
}

// pendingReady remembers what the outstanding Ready handed out, so Advance
// can account for it.
type pendingReady struct {
	ballot      Ballot // Ballot handed out, 0 if none
	entriesTo   Decree // last decree in Entries, 0 if none
	committedTo Decree // last decree applied once Committed is
	// truncFloor is the lowest decree replaced since the Ready was handed
	// out: Entries from there on were superseded before becoming durable.
	truncFloor Decree
}

const maxDecree = Decree(1<<63 - 1)

// HasReady reports whether Ready would return any work. It is false while a
// Ready is outstanding (until Advance).
func (r *Replica) HasReady() bool {
	if r.outstanding != nil {
		return false
	}
	if r.hardStateChanged() || len(r.msgs) > 0 || len(r.replies) > 0 || len(r.configProposals) > 0 ||
		len(r.logReads) > 0 || len(r.checkpointRequests) > 0 {
		return true
	}
	if r.log.handed < r.log.last() || min(r.committed, r.log.stable) > r.applyHanded || r.ackReady() {
		return true
	}
	if r.status == StatusPrimary {
		for _, t := range r.prim.trackers {
			if r.trackerHasWork(t) {
				return true
			}
		}
	}
	return false
}

// Ready returns the pending work and hands it to the driver, which must call
// Advance after carrying it out and before calling Ready again.
func (r *Replica) Ready() Ready {
	if r.outstanding != nil {
		panic("pacifica: Ready called again before Advance")
	}
	if r.status == StatusPrimary {
		r.flushPrepares()
	}
	r.flushAck()

	var rd Ready
	if r.hardStateChanged() {
		rd.HardState = r.hardState()
		r.handedHard = rd.HardState
	}
	r.hardDirty = false
	rd.Entries = r.log.unhanded()
	// Apply only what is durable here too: storage must never be ahead of
	// the log a restart replays.
	if to := min(r.committed, r.log.stable); to > r.applyHanded {
		rd.Committed = r.log.copyRange(r.applyHanded+1, to)
		r.applyHanded = to
		if r.status == StatusPrimary {
			for _, e := range rd.Committed {
				for _, w := range r.prim.waiters[e.Decree] {
					r.replies = append(r.replies, Reply{ID: w.id, Decree: e.Decree, Duplicate: w.duplicate})
				}
				delete(r.prim.waiters, e.Decree)
			}
		}
	}
	rd.Messages, r.msgs = r.msgs, nil
	rd.Replies, r.replies = r.replies, nil
	rd.ConfigProposals, r.configProposals = r.configProposals, nil
	rd.LogReads, r.logReads = r.logReads, nil
	rd.CheckpointRequests, r.checkpointRequests = r.checkpointRequests, nil

	p := &pendingReady{ballot: rd.HardState.Ballot, committedTo: r.applyHanded, truncFloor: maxDecree}
	if n := len(rd.Entries); n > 0 {
		p.entriesTo = rd.Entries[n-1].Decree
	}
	r.outstanding = p
	return rd
}

// hardState is the persistent state as it stands.
func (r *Replica) hardState() HardState {
	return HardState{Ballot: r.ballot, Primary: r.ballotPrimary, MemberBallot: r.memberBallot, Holds: r.persistedHolds()}
}

// hardStateChanged reports whether the persistent state differs from what
// the last Ready handed out. hardDirty is a cheap filter: only changes to
// the ballot, the member ballot or the set of holds set it.
func (r *Replica) hardStateChanged() bool {
	if !r.hardDirty {
		return false
	}
	if r.hardState().Equal(r.handedHard) {
		r.hardDirty = false
		return false
	}
	return true
}

// Advance tells the replica that the driver carried out the Ready last
// returned: its HardState and Entries are durable and its Committed applied.
func (r *Replica) Advance(Ready) {
	p := r.outstanding
	if p == nil {
		panic("pacifica: Advance without an outstanding Ready")
	}
	r.outstanding = nil
	r.durableBallot = max(r.durableBallot, p.ballot)
	if p.entriesTo > 0 {
		r.log.stable = max(r.log.stable, min(p.entriesTo, p.truncFloor-1))
	}
	for d := r.applied + 1; d <= p.committedTo; d++ {
		// Applied: the driver wrote the request's record to storage in the
		// batch that applied it, so storage answers its retries from here.
		if e, ok := r.log.at(d); ok {
			r.inflight.remove(e.RequestID, d)
		}
	}
	r.applied = max(r.applied, p.committedTo)
	r.maybeCommit()
	r.evictCache()
}

// evictCache drops applied entries beyond the cache limits, oldest first.
// Entries a lagging node still needs are kept up to twice the limits; past
// that, the node is served from the on-disk log.
func (r *Replica) evictCache() {
	needed := maxDecree
	for _, t := range r.prim.trackers {
		if t.phase == phaseStreaming {
			needed = min(needed, t.resendFrom()+1)
		}
	}
	for r.log.first <= r.applied && len(r.log.entries) > 0 {
		n, b := len(r.log.entries), r.log.bytes
		if n <= r.cfg.CacheEntries && b <= r.cfg.CacheBytes {
			return
		}
		hardLimit := n > 2*r.cfg.CacheEntries || b > 2*r.cfg.CacheBytes
		if r.log.first >= needed && !hardLimit {
			return
		}
		r.log.evictThrough(r.log.first)
	}
}
