package pacifica

// followerState is what a secondary or learner keeps about its primary.
type followerState struct {
	// matched is the highest decree up to which this replica's log is known
	// to equal the current primary's: everything the primary sent at this
	// ballot and this replica accepted. It restarts at the commit point on
	// every new ballot.
	matched Decree
	// ackOwed: a prepare arrived and has not been answered; the answer
	// waits until the log is durable up to ackWanted.
	ackOwed   bool
	ackWanted Decree
	// echo is the newest SentAt of the primary's messages accepted at this
	// ballot, echoed in acknowledgements: the primary's lease (lease.go).
	echo Time
	// primaryCommitted is the highest commit point the primary announced
	// at this ballot.
	primaryCommitted Decree
}

// acceptPrimary decides whether m, from a primary at a ballot >= r.ballot,
// is to be obeyed, adopting its ballot and the role it assigns (status) if it
// is newer. A message carries enough of the configuration to act on, so a
// secondary does not wait for the meta server's push to follow a new primary.
//
// Accepting is promising (lease.go): this replica will not help another
// primary until r.now + Grace, and echoes m.SentAt so that the primary can
// count on it. It also takes the primary's word on older primaries: their
// holds, or that none is left.
func (r *Replica) acceptPrimary(m Message, status Status) bool {
	if !r.obeys(m, status) {
		return false
	}
	r.promise(m.From, m.Ballot)
	r.follower.echo = max(r.follower.echo, m.SentAt)
	if m.HoldsCleared {
		r.clearHoldsBelow(m.Ballot)
	} else {
		r.mergeHolds(m.Holds)
	}
	return true
}

func (r *Replica) obeys(m Message, status Status) bool {
	if status != StatusSecondary && status != StatusPotentialSecondary {
		return false
	}
	if m.Ballot > r.ballot {
		if m.From != r.primary {
			r.learner = learnerState{} // sessions belong to one primary
		}
		r.enterBallot(m.Ballot, m.From)
		r.config = Configuration{Ballot: m.Ballot, Primary: m.From}
		r.becomeFollower(status, m.From)
		return true
	}
	switch r.status {
	case StatusInactive:
		// Typically a replica restarted while still a member, or a learner
		// whose configuration push arrived first. The configuration, when
		// known, must agree on the primary.
		if r.configKnown && r.config.Primary != m.From {
			return false
		}
		r.becomeFollower(status, m.From)
		return true
	case StatusSecondary, StatusPotentialSecondary:
		// A ballot has one primary, and a role changes only with the ballot.
		return r.primary == m.From && r.status == status
	default:
		// A primary never takes orders at its own ballot.
		return false
	}
}

// handlePrepare processes a prepare (or learn log) from the primary.
//
// The receiver accepts the entries only if its log agrees with the primary's
// up to PrevDecree. Because a replica only ever accepts entries this way (or
// copies a primary's log wholesale when learning), two logs holding the same
// (ballot, decree) agree on everything before it, so checking one entry
// checks the whole prefix.
func (r *Replica) handlePrepare(m Message) error {
	for i, e := range m.Entries {
		if e.Decree != m.PrevDecree+1+Decree(i) || e.Ballot <= 0 || e.Ballot > m.Ballot ||
			e.LastCommitted < 0 || e.LastCommitted >= e.Decree {
			return errorf(ErrInvalidMessage, "entry %v out of sequence after %d", e, m.PrevDecree)
		}
	}
	if m.PrevDecree < 0 {
		return errorf(ErrInvalidMessage, "negative previous decree")
	}
	if !r.acceptPrimary(m, m.Status) {
		return nil
	}
	if r.status == StatusPotentialSecondary {
		// Entries from this primary at this ballot are welcome whatever
		// learning session they belong to: the prefix check below is what
		// keeps the log consistent. A learner that restarted adopts the
		// session it finds.
		if r.learner.learnID == 0 {
			r.learner.learnID = m.LearnID
		}
		if r.learner.awaitingCheckpoint {
			return nil // the checkpoint will replace the log anyway
		}
		r.learner.requestPending = false
	}
	if !r.matchesPrev(m.PrevDecree, m.PrevBallot) {
		// A gap (the prepare overtook an earlier one, or one was lost):
		// ask for what follows our last entry. A conflict at PrevDecree:
		// fall back to what is known to agree, committed or verified.
		hint := max(r.committed, r.follower.matched)
		if m.PrevDecree > r.log.last() {
			hint = r.log.last()
		}
		r.send(Message{Type: MsgPrepareAck, To: m.From, Ballot: r.ballot, Reject: true,
			PrevDecree: m.PrevDecree, Decree: hint, SentAt: r.follower.echo, Holds: r.reportHolds(m.From)})
		return nil
	}
	for _, e := range m.Entries {
		if !r.acceptEntry(e) {
			return r.err
		}
	}
	end := m.PrevDecree + Decree(len(m.Entries))
	r.follower.matched = max(r.follower.matched, end)
	r.follower.primaryCommitted = max(r.follower.primaryCommitted, m.Committed)
	// Apply only what is committed and known to be the primary's version:
	// an entry past matched may be a leftover of an older ballot.
	r.committed = max(r.committed, min(m.Committed, r.follower.matched))
	// Every prepare is answered, group checks included (they are the
	// primary's liveness probe), but only once the entries are durable; one
	// acknowledgement answers all prepares received before it.
	r.follower.ackOwed = true
	r.follower.ackWanted = max(r.follower.ackWanted, end)
	return nil
}

// matchesPrev reports whether this replica's log agrees with the primary's
// up to decree prev, whose ballot in the primary's log is prevBallot (zero if
// the primary does not know it).
func (r *Replica) matchesPrev(prev Decree, prevBallot Ballot) bool {
	// Committed prefixes agree everywhere, and matched was verified.
	if prev <= r.committed || prev <= r.follower.matched {
		return true
	}
	if prevBallot == 0 {
		return false
	}
	b, ok := r.log.ballotAt(prev)
	return ok && b == prevBallot
}

// acceptEntry places one entry from the primary in the log: kept if already
// there, otherwise replacing whatever this replica holds from that decree on.
// It returns false if the entry contradicts a committed one.
func (r *Replica) acceptEntry(e Entry) bool {
	cur, ok := r.log.at(e.Decree)
	if e.Decree <= r.committed {
		if ok && cur.Ballot != e.Ballot {
			r.fail(errorf(ErrDiverged, "primary sent %d.%d, committed copy is %d.%d",
				e.Ballot, e.Decree, cur.Ballot, cur.Decree))
			return false
		}
		return true
	}
	if ok {
		if cur.Ballot == e.Ballot {
			// The same entry (a resend, or reconciliation of an entry we
			// hold): keep it and what follows, which may already be
			// durable and acknowledged.
			return true
		}
		// A leftover of an older primary: it and everything after it were
		// never committed (see doc.go, "The log and the prefix check").
		r.truncateFrom(e.Decree)
	}
	r.appendEntry(e)
	return true
}

// ackReady reports whether an owed acknowledgement can be sent: acks promise
// durability, so they wait for the driver to persist the entries.
func (r *Replica) ackReady() bool {
	if !r.follower.ackOwed || (r.status != StatusSecondary && r.status != StatusPotentialSecondary) {
		return false
	}
	return min(r.follower.matched, r.log.stable) >= r.follower.ackWanted
}

// flushAck sends the owed acknowledgement if it can be sent.
//
// A secondary that entered its ballot from the primary's messages (rather
// than from the meta server's configuration) records the ballot as one it is
// a member of once it acknowledges holding, durably, everything the primary
// said is committed; the Ready persists that before the acknowledgement
// leaves. Recording it at the first message would let a copy created empty
// (a replica deleted and recreated under a configuration that still lists
// it) claim a membership whose writes it does not hold, and be preferred by
// recovery.
func (r *Replica) flushAck() {
	if !r.ackReady() {
		return
	}
	acked := min(r.follower.matched, r.log.stable)
	if r.status == StatusSecondary && acked >= r.follower.primaryCommitted {
		r.noteMember(r.ballot)
	}
	r.send(Message{Type: MsgPrepareAck, To: r.primary, Ballot: r.ballot,
		Decree: acked, SentAt: r.follower.echo, Holds: r.reportHolds(r.primary)})
	r.follower.ackOwed = false
}
