package pacifica

import (
	"cmp"
	"slices"
)

// primaryState is what only a primary keeps.
type primaryState struct {
	// trackers follow every secondary and learner, sorted by node so that
	// the output order is deterministic.
	trackers []*tracker
	// waiters are the Propose calls to answer when a decree is applied.
	waiters map[Decree][]waiter
	// reconcileTo is the last decree this replica had prepared when it was
	// promoted. Until it is applied, an acknowledged write of the previous
	// primary may be missing from storage, so reads are refused.
	reconcileTo Decree
	nextLearnID uint64
	// cleared is set once no primary of a lower ballot can be serving any
	// more (lease.go, maybeClear). Until then nothing commits and no read
	// is served.
	cleared bool
}

type waiter struct {
	id        RequestID
	duplicate bool
}

// trackerPhase is where the primary is with one secondary or learner.
type trackerPhase uint8

const (
	// phaseLearnStarting: LearnStart sent, waiting for the learn request.
	phaseLearnStarting trackerPhase = iota
	// phaseStreaming: prepares flow (for a learner: from its commit point on,
	// old entries first, live ones after).
	phaseStreaming
	// phaseAwaitingCheckpoint: the learner is copying a checkpoint; it will
	// send a new learn request when done.
	phaseAwaitingCheckpoint
	// phaseUnreachable: nothing is sent and the node's removal is proposed
	// until the configuration drops it: a member that needs entries this
	// primary no longer has, or a learner given up on (silent for
	// LearnTimeoutTicks).
	phaseUnreachable
)

// tracker is the primary's view of one secondary or learner.
//
// acked is the highest decree up to which the node's log is durable and
// equal to this primary's: the node said so at this primary's ballot, and
// because the primary never rewrites its own log that stays true across its
// later ballots. sent is the highest decree sent (or assumed held); base is
// where a resend restarts when nothing is acknowledged yet.
type tracker struct {
	node    NodeID
	learner bool
	learnID uint64
	phase   trackerPhase

	acked Decree
	sent  Decree
	base  Decree

	// probe asks for a message even if there is nothing new to send (group
	// check, or the first contact at a new ballot).
	probe bool
	// sendLearnLog marks the next message as the answer to a learn request.
	sendLearnLog bool
	// reading is set while a LogRead for this node is outstanding.
	reading  bool
	readFrom Decree
	// upgrading is set once UpgradeToSecondary was proposed for a learner.
	// From then on its acknowledgements count for commit like a
	// secondary's: the meta server may apply the proposal at any time, and
	// the new secondary must already hold everything committed by then.
	upgrading bool

	progressTick int64 // last time acked advanced (or there was nothing to ack)
	heardTick    int64 // last message from the node
	sentTick     int64 // last message to the node

	// incarnation is the node's copy of the partition that this tracker
	// describes (zero until it first answers).
	incarnation uint64
	// legacy: the node runs a version without leases and incarnations.
	legacy bool
	// heard: the node answered at this ballot, so its holds are known.
	heard bool
	// grantedAt is the newest SentAt of this primary's messages the node
	// acknowledged accepting: it promised not to help another primary
	// until after grantedAt + Grace, and the primary may serve reads on it
	// until grantedAt + Lease. Zero: none.
	grantedAt Time
}

// countsForCommit reports whether the node must hold a decree before the
// primary may commit it.
func (t *tracker) countsForCommit() bool { return !t.learner || t.upgrading }

// resendFrom is where retransmission restarts.
func (t *tracker) resendFrom() Decree { return max(t.acked, t.base) }

func (r *Replica) tracker(n NodeID) *tracker {
	i, ok := slices.BinarySearchFunc(r.prim.trackers, n, func(t *tracker, n NodeID) int {
		return cmp.Compare(t.node, n)
	})
	if !ok {
		return nil
	}
	return r.prim.trackers[i]
}

func (r *Replica) addTracker(t *tracker) {
	r.prim.trackers = append(r.prim.trackers, t)
	slices.SortFunc(r.prim.trackers, func(a, b *tracker) int { return cmp.Compare(a.node, b.node) })
}

func (r *Replica) removeTracker(n NodeID) {
	r.prim.trackers = slices.DeleteFunc(r.prim.trackers, func(t *tracker) bool { return t.node == n })
}

// Propose submits a client write. It returns the decree the write will have,
// or an error if the write is refused right away (*NotPrimaryError,
// ErrCapacityExceeded, ErrNotEnoughMembers). A new primary refuses writes
// (with a *NotPrimaryError naming itself) until the Ready carrying its ballot
// has been carried out. The outcome arrives later as a
// Reply in Ready.Replies, after the entry is committed and handed out for
// applying.
//
// A write whose RequestID is in flight here (logged above the applied
// decree) creates no entry: the reply (Duplicate, original decree) comes when
// the original commits, or in the next Ready if it was handed out for
// applying already. A request id gets one reply per decree however often it
// is proposed; the driver answers every call waiting on that id with it.
// Requests at or below the applied decree are not known here: the driver
// looks them up in storage before proposing (doc.go, exactly-once).
func (r *Replica) Propose(id RequestID, data []byte, timestamp int64) (Decree, error) {
	if err := r.checkWritable(); err != nil {
		return 0, err
	}
	if !id.IsZero() {
		if d, ok := r.inflight.lookup(id); ok {
			if d <= r.applyHanded {
				r.replies = append(r.replies, Reply{ID: id, Decree: d, Duplicate: true})
			} else if !slices.ContainsFunc(r.prim.waiters[d], func(w waiter) bool { return w.id == id }) {
				// Answered with the original when it commits; one reply per
				// request id and decree, however often the client retries.
				r.prim.waiters[d] = append(r.prim.waiters[d], waiter{id: id, duplicate: true})
			}
			return d, nil
		}
	}
	last := r.log.last()
	if last-r.committed >= Decree(r.cfg.MaxInflight) {
		return 0, ErrCapacityExceeded
	}
	e := Entry{
		Ballot:        r.ballot,
		Decree:        last + 1,
		LastCommitted: r.committed,
		Timestamp:     timestamp,
		RequestID:     id,
		Data:          data,
	}
	r.appendEntry(e)
	r.prim.waiters[e.Decree] = append(r.prim.waiters[e.Decree], waiter{id: id})
	return e.Decree, nil
}

// Writable returns the error Propose would refuse a write with right now
// (*NotPrimaryError, ErrNotEnoughMembers), or nil. The driver checks it before
// answering a retry from storage: only a writable primary may answer one.
// Its reply then follows the apply on the primary, where reads are served; a
// secondary that applied the request may be ahead of the primary, and its
// "done" could precede a read at the primary that does not see the write.
func (r *Replica) Writable() error { return r.checkWritable() }

// checkWritable returns why this replica may not accept a write, or nil.
func (r *Replica) checkWritable() error {
	if r.status != StatusPrimary || r.observedBallot > r.ballot {
		return r.notPrimary()
	}
	if r.durableBallot < r.ballot {
		// Promoted a moment ago; writable after the next Ready is carried
		// out. The client retries here.
		return r.notPrimary()
	}
	if 1+len(r.config.Secondaries) < r.cfg.MinReplicaCount {
		return ErrNotEnoughMembers
	}
	return nil
}

func (r *Replica) notPrimary() *NotPrimaryError {
	if r.observedBallot > r.ballot {
		return &NotPrimaryError{Primary: r.observedPrimary, Ballot: r.observedBallot}
	}
	if r.status == StatusPrimary {
		return &NotPrimaryError{Primary: r.id, Ballot: r.ballot}
	}
	return &NotPrimaryError{Primary: r.primary, Ballot: r.ballot}
}

// becomePrimary takes the primary role for r.config (whose ballot r has
// entered).
//
// A replica promoted from secondary reconciles: every entry it holds above
// its commit point may have been acknowledged by the old primary, so it
// prepares them all again, under its ballot, to every member, and commits
// them before serving reads. The entries keep their original ballot, so a
// member that already holds one keeps it; a member holding a different entry
// at that decree replaces it (and everything after it), which is safe because
// that entry cannot have been committed: the old primary's commit needed this
// replica's acknowledgement too.
//
// A primary that stays primary across a membership change keeps what it knows
// about each node; only prepares in flight under the old ballot are sent again.
//
// A new primary first waits for the holds on the primaries before it (see
// lease.go): it commits and serves nothing until it has heard every member
// at its ballot and no hold is left. A primary that stays primary keeps its
// decision, unless it skipped a ballot, whose primary it cannot know.
func (r *Replica) becomePrimary(prevBallot Ballot) {
	continuing := r.status == StatusPrimary
	r.learner = learnerState{}
	r.status = StatusPrimary
	r.primary = r.id

	old := r.prim.trackers
	find := func(n NodeID) *tracker {
		for _, t := range old {
			if t.node == n {
				return t
			}
		}
		return nil
	}
	var trackers []*tracker
	for _, s := range r.config.Secondaries {
		t := find(s)
		if t == nil {
			// Nothing known about the node: assume it holds the committed
			// prefix (every member does) and let its answer correct that.
			t = &tracker{node: s, sent: r.committed, base: r.committed}
		} else {
			// Old-ballot prepares in flight will be refused; send again.
			t.sent = t.resendFrom()
		}
		t.learner, t.upgrading, t.phase = false, false, phaseStreaming
		trackers = append(trackers, t)
	}
	for _, t := range old {
		if t.learner && !r.config.HasMember(t.node) && t.node != r.id {
			// Learners survive a ballot change; the ballot voids a pending
			// upgrade proposal, which is made again if still deserved.
			t.upgrading = false
			if t.phase == phaseStreaming {
				t.sent = t.resendFrom()
			}
			trackers = append(trackers, t)
		}
	}
	slices.SortFunc(trackers, func(a, b *tracker) int { return cmp.Compare(a.node, b.node) })
	for _, t := range trackers {
		t.probe = t.phase == phaseStreaming
		t.progressTick, t.heardTick, t.sentTick = r.tick, r.tick, r.tick
		if t.phase == phaseLearnStarting {
			r.sendLearnStart(t)
		}
	}
	r.prim.trackers = trackers
	if !continuing {
		r.prim.waiters = make(map[Decree][]waiter)
		r.prim.reconcileTo = r.log.last()
	}
	if r.ballot != prevBallot+1 {
		// Another primary may have held the ballots in between: decide
		// afresh, from what every member says at this ballot.
		r.prim.cleared = false
		for _, t := range trackers {
			t.heard = false
		}
	}
	r.maybeCommit()
}

// stepDown ends the primary role, failing every pending write with a
// redirection to hint. Their outcome is unknown to the client: the entries
// may still commit under the next primary. The client retries with the same
// RequestID, which the next primary recognises. Proposals not yet handed out
// for writing are dropped: no one else can hold them.
func (r *Replica) stepDown(hint NodeID) {
	decrees := make([]Decree, 0, len(r.prim.waiters))
	for d := range r.prim.waiters {
		decrees = append(decrees, d)
	}
	slices.Sort(decrees)
	for _, d := range decrees {
		for _, w := range r.prim.waiters[d] {
			r.replies = append(r.replies, Reply{ID: w.id, Decree: d, Duplicate: w.duplicate,
				Err: &NotPrimaryError{Primary: hint, Ballot: max(r.ballot, r.observedBallot)}})
		}
	}
	r.prim = primaryState{nextLearnID: r.prim.nextLearnID}
	r.discardUnhanded()
}

// maybeCommit advances the commit point to the highest decree durable in the
// primary's own log and acknowledged by every member (and upgrading learner).
//
// This is PacificA's rule, stricter than a quorum: every member holds every
// committed entry, so the meta server may promote any of them, and a
// failed member costs a reconfiguration instead of an election. A member
// that stops answering stalls commits until tickPrimary has it removed.
func (r *Replica) maybeCommit() {
	if !r.maybeClear() {
		return
	}
	c := r.log.stable
	for _, t := range r.prim.trackers {
		if t.countsForCommit() {
			c = min(c, t.acked)
		}
	}
	if c > r.committed {
		r.committed = c
		for _, t := range r.prim.trackers {
			r.maybeUpgrade(t)
		}
	}
}

// handlePrepareAck processes a secondary's or learner's answer to a prepare.
func (r *Replica) handlePrepareAck(m Message) {
	if r.status != StatusPrimary || m.Ballot != r.ballot {
		// An answer from a newer ballot: the configuration that says what
		// to do is on its way from the meta server.
		return
	}
	t := r.tracker(m.From)
	if t == nil {
		return
	}
	if !r.hearFrom(t, m) || t.phase != phaseStreaming {
		r.maybeCommit()
		return
	}
	t.heardTick = r.tick
	if m.Reject {
		// The node could not place a prepare: it lacks the entries before
		// it (a prepare was lost or overtaken) or holds different ones (a
		// leftover of an older primary). Resend from its hint, which it
		// knows it shares with us. What it acknowledged stays valid (its
		// durable log agrees with ours there), so never go back further.
		if m.PrevDecree <= t.acked {
			return // answers a prepare older than what is acknowledged since
		}
		hint := min(m.Decree, t.sent)
		t.base = min(t.base, hint)
		t.sent = max(t.acked, hint)
		return
	}
	if m.Decree > r.log.last() {
		return // cannot be: nobody holds more of this primary's log than it
	}
	// Acknowledgements are cumulative and may arrive out of order; only an
	// advance counts as progress for the failure timer.
	if m.Decree > t.acked {
		t.acked = m.Decree
		t.progressTick = r.tick
	}
	t.sent = max(t.sent, t.acked)
	r.maybeCommit()
	r.maybeUpgrade(t)
}

// hearFrom takes what any answer from a tracked node at this ballot says
// besides its progress: which copy answers, the lease it grants and the
// holds it reports. It returns false if the answer must not be used further:
// it comes from another copy of the partition than the one the tracker
// described, whose learning starts over.
func (r *Replica) hearFrom(t *tracker, m Message) bool {
	ok := r.checkIncarnation(t, m.Incarnation)
	t.heard = true
	if m.SentAt > t.grantedAt && m.SentAt <= r.now {
		t.grantedAt = m.SentAt
	}
	if !r.prim.cleared {
		r.mergeHolds(m.Holds)
	}
	return ok
}

// checkIncarnation compares the copy that answers with the one the tracker
// describes. Another copy (the node's replica was deleted and created again,
// empty) holds none of what the old one acknowledged: the tracker forgets
// it, so the copy is never counted as caught up. A learner starts learning
// over; an upgrade already proposed for the old copy is voided by asking for
// a new ballot (the meta server also refuses it: it checks the copy). It
// returns false when the message belongs to the voided session.
func (r *Replica) checkIncarnation(t *tracker, inc uint64) bool {
	t.legacy = inc == 0
	if inc == 0 || t.incarnation == inc {
		return true
	}
	if t.incarnation == 0 {
		t.incarnation = inc
		return true
	}
	t.incarnation = inc
	t.acked, t.grantedAt = 0, 0
	t.progressTick = r.tick
	if !t.learner {
		// Resend from the start; the copy's answers say what it lacks.
		t.sent, t.base = 0, 0
		t.reading = false
		return true
	}
	if t.upgrading {
		t.upgrading = false
		r.propose(ConfigForceUpdateBallot, r.id)
	}
	r.prim.nextLearnID++
	*t = tracker{node: t.node, learner: true, learnID: r.prim.nextLearnID, phase: phaseLearnStarting,
		incarnation: inc, heard: t.heard, progressTick: r.tick, heardTick: r.tick}
	r.sendLearnStart(t)
	return false
}

// flushPrepares turns what each node is missing into prepare messages,
// batching consecutive entries up to the configured limits and keeping at
// most MaxInflight decrees unacknowledged per node.
func (r *Replica) flushPrepares() {
	for _, t := range r.prim.trackers {
		r.flushTracker(t)
	}
}

// flushTracker sends t what it is missing. Prepares are pipelined: the next
// batch goes out before the previous one is acknowledged, up to the window;
// a receiver that finds a gap refuses and the primary resends from there.
func (r *Replica) flushTracker(t *tracker) {
	last := r.log.last()
	for r.trackerHasWork(t) {
		if t.sent >= last {
			r.sendPrepare(t, t.sent, nil) // group check, probe or empty learn answer
			return
		}
		lo := t.sent + 1
		if lo < r.log.first {
			// Gone from memory: ask the driver to read its on-disk log.
			hi := min(r.log.first-1, lo+Decree(r.cfg.MaxBatchEntries)-1)
			r.logReads = append(r.logReads, LogRead{For: t.node, Ballot: r.ballot, From: lo, To: hi})
			t.reading, t.readFrom = true, lo
			return
		}
		hi, size := lo, 0
		for hi <= last && hi-lo < Decree(r.cfg.MaxBatchEntries) {
			e, _ := r.log.at(hi)
			n := len(e.Data) + entryOverhead
			if hi > lo && size+n > r.cfg.MaxBatchBytes {
				break
			}
			size += n
			hi++
		}
		r.sendPrepare(t, lo-1, r.log.copyRange(lo, hi-1))
	}
}

// trackerHasWork reports whether flushTracker would send something to t (or
// ask to read the log for it). HasReady relies on it, so the two must agree.
func (r *Replica) trackerHasWork(t *tracker) bool {
	if t.phase != phaseStreaming || t.reading {
		return false
	}
	if t.sent >= r.log.last() {
		return t.probe || t.sendLearnLog
	}
	// Entries to send, unless MaxInflight of them are already unanswered;
	// then the retransmission timer takes over.
	return t.sent-t.resendFrom() < Decree(r.cfg.MaxInflight)
}

// sendPrepare sends entries following decree prev to t and moves t.sent.
func (r *Replica) sendPrepare(t *tracker, prev Decree, entries []Entry) {
	prevBallot, _ := r.log.ballotAt(prev)
	typ := MsgPrepare
	if t.sendLearnLog {
		typ = MsgLearnLog
	}
	status, learnID := StatusSecondary, uint64(0)
	if t.learner {
		status, learnID = StatusPotentialSecondary, t.learnID
	}
	m := Message{
		Type:       typ,
		To:         t.node,
		Ballot:     r.ballot,
		Status:     status,
		PrevBallot: prevBallot,
		PrevDecree: prev,
		Entries:    entries,
		Committed:  r.committed,
		LearnID:    learnID,
		SentAt:     r.now,
	}
	if r.prim.cleared {
		m.HoldsCleared = true
	} else {
		// Pass the holds on: should this primary fail or hand over before
		// it cleared them, its successor (one of these followers) still
		// knows which old primaries may be serving.
		m.Holds = r.reportHolds(t.node)
	}
	r.send(m)
	t.sent = prev + Decree(len(entries))
	t.probe, t.sendLearnLog = false, false
	t.sentTick = r.tick
}

// LogReadResult answers a Ready.LogReads request with the effective log
// entries read.From..read.To, or the error that prevented reading them (for
// example because the log was already garbage-collected). A learner whose
// entries cannot be read is told to copy a checkpoint; a secondary is
// reported for removal (it will come back as a learner).
func (r *Replica) LogReadResult(read LogRead, entries []Entry, err error) {
	if r.status != StatusPrimary || read.Ballot != r.ballot {
		return
	}
	t := r.tracker(read.For)
	if t == nil || !t.reading || t.readFrom != read.From {
		return
	}
	t.reading = false
	if err == nil && !isRange(entries, read.From, read.To) {
		err = errorf(ErrInvalidLog, "log read %d..%d returned another range", read.From, read.To)
	}
	switch {
	case err != nil && t.learner:
		r.sendLearnApp(t)
	case err != nil:
		t.phase = phaseUnreachable
		r.propose(ConfigDowngradeToInactive, t.node)
	case t.sent == read.From-1:
		// The entries before read.From are settled on the node (it said so,
		// or they are its commit point), so the unknown previous ballot is
		// no obstacle.
		r.sendPrepare(t, read.From-1, slices.Clone(entries))
	}
}

// isRange reports whether entries are exactly the decrees from..to.
func isRange(entries []Entry, from, to Decree) bool {
	if Decree(len(entries)) != to-from+1 {
		return false
	}
	for i, e := range entries {
		if e.Decree != from+Decree(i) {
			return false
		}
	}
	return true
}

// tickPrimary drives the primary's timers: retransmission, group checks,
// failure detection of members, learner timeouts and proposal retries.
//
// Retransmission comes first because a lost prepare is the common case on a
// reconnecting stream, and a member that merely missed one should not be
// removed. The failure timer only runs while the node owes an answer:
// progressTick is refreshed on every tick the node is fully caught up, so
// PrepareTimeoutTicks counts from the moment it fell behind.
func (r *Replica) tickPrimary() {
	last := r.log.last()
	for _, t := range slices.Clone(r.prim.trackers) {
		if t.phase == phaseLearnStarting && r.tick-t.sentTick >= int64(r.cfg.PrepareRetryTicks) {
			r.sendLearnStart(t)
		}
		if t.acked >= last {
			t.progressTick = r.tick
		}
		if t.phase == phaseStreaming && !t.reading && t.sent > t.resendFrom() &&
			r.tick-t.progressTick >= int64(r.cfg.PrepareRetryTicks) &&
			r.tick-t.sentTick >= int64(r.cfg.PrepareRetryTicks) {
			t.sent = t.resendFrom()
		}
		if t.phase == phaseStreaming && r.tick-t.sentTick >= int64(r.cfg.GroupCheckTicks) {
			t.probe = true
		}
		// Stalled: entries outstanding for too long, or silent through a
		// whole group check round when idle.
		stalled := (t.acked < last && r.tick-t.progressTick >= int64(r.cfg.PrepareTimeoutTicks)) ||
			r.tick-t.heardTick >= int64(r.cfg.GroupCheckTicks+r.cfg.PrepareTimeoutTicks)
		switch {
		case !t.learner && stalled:
			// PacificA needs every member for every commit; a member that
			// stopped acknowledging must leave the configuration.
			r.propose(ConfigDowngradeToInactive, t.node)
		case t.upgrading && stalled:
			// The upgrade cannot be taken back, only voided by a new ballot.
			r.propose(ConfigForceUpdateBallot, r.id)
		case t.upgrading:
			r.propose(ConfigUpgradeToSecondary, t.node)
		case t.learner && (t.phase == phaseUnreachable || r.tick-t.heardTick >= int64(r.cfg.LearnTimeoutTicks)):
			// Give up on the learner, but keep asking the meta server to
			// take it off the configuration's learners: it adds one
			// learner at a time, so a learner it still lists would keep the
			// partition a replica short. RemoveLearner ends this.
			t.phase = phaseUnreachable
			r.propose(ConfigDowngradeToInactive, t.node)
		}
	}
}
