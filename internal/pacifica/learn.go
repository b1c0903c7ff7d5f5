package pacifica

// Learning brings a node that is not a member (new, or back after a failure)
// to the primary's state while writes continue, so that the meta server can
// make it a secondary without a pause (Pegasus replica_learn.cpp).
//
//	meta ──AddLearner──▶ primary ──LearnStart──▶ learner
//	                     primary ◀─LearnRequest── learner   (its durable commit point c)
//	   entries c+1.. in the primary's memory or on-disk log:
//	                     primary ──LearnLog, Prepare, Prepare…──▶ learner
//	   otherwise:        primary ──LearnApp──▶ learner ─▶ driver copies a
//	                     checkpoint, InstallCheckpoint(d), LearnRequest(d)…
//	                     primary ◀─PrepareAck── learner      (caught up)
//	meta ◀─UpgradeToSecondary── primary;  meta ──config ballot+1──▶ all
//
// The learner is streamed the primary's log from its commit point with the
// same prepares secondaries get: old entries first, then live ones as they
// are proposed, so it ends exactly in sync without the primary ever
// stopping writes. Entries before the learner's commit point are the committed
// history, which every replica shares, so the learner's own uncommitted
// leftovers are simply replaced.

// learnerState is what a potential secondary keeps about its learning.
type learnerState struct {
	learnID uint64
	// requestPending: a learn request is unanswered and is sent again every
	// PrepareRetryTicks.
	requestPending bool
	requestTick    int64
	// awaitingCheckpoint: the driver is copying a checkpoint.
	awaitingCheckpoint bool
}

// AddLearner makes the primary start teaching node (Pegasus CT_ADD_SECONDARY
// sent by the meta server to the primary). ballot is the meta server's ballot
// for the partition and must be the primary's. Adding a node that is already
// learning restarts its learning, unless its upgrade is already proposed.
func (r *Replica) AddLearner(node NodeID, ballot Ballot) error {
	if r.status != StatusPrimary {
		return r.notPrimary()
	}
	if ballot < r.ballot {
		return &StaleBallotError{Ballot: r.ballot, Got: ballot}
	}
	if ballot > r.ballot {
		return &NotPrimaryError{Ballot: ballot}
	}
	if node == r.id || r.config.HasMember(node) {
		return errorf(ErrAlreadyMember, "%s", node)
	}
	t := r.tracker(node)
	if t != nil && t.upgrading {
		return nil
	}
	if t == nil {
		t = &tracker{node: node}
		r.addTracker(t)
	}
	r.prim.nextLearnID++
	*t = tracker{
		node:         node,
		learner:      true,
		learnID:      r.prim.nextLearnID,
		phase:        phaseLearnStarting,
		progressTick: r.tick,
		heardTick:    r.tick,
	}
	r.sendLearnStart(t)
	return nil
}

// RemoveLearner makes the primary stop teaching node: the meta server's
// configuration no longer lists it as a learner (the primary gave up on it
// and proposed its removal, or the meta server removed it). A node that is
// a member, or that the primary is not teaching, is left alone.
func (r *Replica) RemoveLearner(node NodeID) {
	if t := r.tracker(node); t != nil && t.learner && r.status == StatusPrimary {
		r.removeTracker(node)
	}
}

func (r *Replica) sendLearnStart(t *tracker) {
	r.send(Message{Type: MsgLearnStart, To: t.node, Ballot: r.ballot, LearnID: t.learnID, SentAt: r.now})
	t.sentTick = r.tick
}

// sendLearnApp tells a learner to copy a checkpoint; it will ask again with
// the checkpoint's decree as its commit point.
//
// The checkpoint will replace the learner's log, so nothing it acknowledged
// counts any more. LearnApp opens a new session: only a learn request the
// learner sends after installing the checkpoint carries the new id, so the
// primary cannot mistake an older request (sent before the install) for
// the go-ahead to stream, and count acknowledgements of entries that the
// install is about to destroy.
func (r *Replica) sendLearnApp(t *tracker) {
	r.prim.nextLearnID++
	t.learnID = r.prim.nextLearnID
	t.phase = phaseAwaitingCheckpoint
	t.acked, t.sent, t.base = 0, 0, 0
	t.reading, t.probe, t.sendLearnLog = false, false, false
	r.send(Message{Type: MsgLearnApp, To: t.node, Ballot: r.ballot, LearnID: t.learnID, SentAt: r.now})
	t.sentTick = r.tick
}

// handleLearnStart makes this replica a learner of the sending primary.
func (r *Replica) handleLearnStart(m Message) {
	if !r.acceptPrimary(m, StatusPotentialSecondary) {
		return
	}
	// Session ids only grow under one primary: a lower one is stale.
	switch {
	case m.LearnID < r.learner.learnID:
		return
	case m.LearnID > r.learner.learnID:
		r.learner = learnerState{learnID: m.LearnID}
	case r.learner.awaitingCheckpoint:
		return // a repeat; the answer comes after the checkpoint
	}
	r.sendLearnRequest()
}

func (r *Replica) sendLearnRequest() {
	r.send(Message{
		Type:    MsgLearnRequest,
		To:      r.primary,
		Ballot:  r.ballot,
		LearnID: r.learner.learnID,
		// Only the durable part: the primary treats it as acknowledged.
		Committed: min(r.committed, r.log.stable),
		Decree:    r.log.last(),
		SentAt:    r.follower.echo,
		Holds:     r.reportHolds(r.primary),
	})
	r.learner.requestPending = true
	r.learner.requestTick = r.tick
}

// handleLearnRequest starts (or restarts) streaming to a learner from its
// commit point.
func (r *Replica) handleLearnRequest(m Message) {
	if r.status != StatusPrimary || m.Ballot != r.ballot {
		return
	}
	t := r.tracker(m.From)
	if t == nil || !t.learner {
		return
	}
	if !r.hearFrom(t, m) || t.phase == phaseUnreachable {
		// Another copy, whose learning starts over, or given up on: it
		// learns again only once the meta server adds it anew
		// (RemoveLearner, then AddLearner).
		r.maybeCommit()
		return
	}
	if t.phase == phaseAwaitingCheckpoint && m.LearnID < t.learnID {
		// The learner has not heard that it must copy a checkpoint (the
		// LearnApp was lost): tell it again.
		t.heardTick = r.tick
		r.send(Message{Type: MsgLearnApp, To: t.node, Ballot: r.ballot, LearnID: t.learnID, SentAt: r.now})
		return
	}
	if t.learnID != m.LearnID {
		return
	}
	t.heardTick, t.progressTick = r.tick, r.tick
	// The learner's commit point is part of the committed history, which
	// this primary holds too, so the learner's log equals ours up to there.
	t.acked, t.sent, t.base = m.Committed, m.Committed, m.Committed
	t.reading, t.probe = false, false
	if m.Committed > r.log.last() {
		// A commit point beyond our log contradicts the history: start the
		// learner over from a checkpoint of ours.
		r.sendLearnApp(t)
		return
	}
	t.phase = phaseStreaming
	t.sendLearnLog = true
}

// handleLearnApp makes the learner ask its driver for a checkpoint, in the
// new session the LearnApp opens. A LearnApp for the current session is a
// repeat, or a late copy arriving after the checkpoint was installed and
// streaming resumed; acting on it would destroy acknowledged entries.
func (r *Replica) handleLearnApp(m Message) {
	if r.status != StatusPotentialSecondary || m.Ballot != r.ballot || m.From != r.primary ||
		m.LearnID <= r.learner.learnID {
		return
	}
	r.promise(m.From, m.Ballot)
	r.follower.echo = max(r.follower.echo, m.SentAt)
	r.learner = learnerState{learnID: m.LearnID, awaitingCheckpoint: true}
	r.checkpointRequests = append(r.checkpointRequests,
		CheckpointRequest{From: m.From, Ballot: r.ballot, LearnID: m.LearnID})
}

// InstallCheckpoint asks to install a checkpoint the driver fetched for req,
// holding everything up to decree. If it returns nil, the driver must replace
// storage with the checkpoint and discard its whole log before it carries out
// another Ready: the replica's log now restarts after decree, and the learner
// asks the primary for the rest. If a Ready is outstanding it returns
// ErrReadyOutstanding: finish it (Advance) and ask again. If it returns
// ErrCheckpointNotWanted, the learning session moved on (the checkpoint
// arrived late, or the node is no longer learning) and the driver must
// discard the copy: installing it would destroy entries this replica may
// already have acknowledged. If the copy fails, the driver may retry it; the
// primary gives up on a learner silent for LearnTimeoutTicks and proposes
// its removal, and the meta server adds it again later.
//
// Nothing is in flight afterwards: the request records of every write up to
// decree are in the checkpoint (storage), and the log restarts after it.
func (r *Replica) InstallCheckpoint(req CheckpointRequest, decree Decree) error {
	if r.status == StatusError {
		return r.err
	}
	if r.status != StatusPotentialSecondary || !r.learner.awaitingCheckpoint ||
		req.LearnID != r.learner.learnID || req.From != r.primary {
		return errorf(ErrCheckpointNotWanted, "learning session %d from %s", req.LearnID, req.From)
	}
	if r.outstanding != nil {
		// Its Entries were meant for the log the checkpoint discards.
		return ErrReadyOutstanding
	}
	if decree < 0 {
		return errorf(ErrInvalidLog, "negative checkpoint decree %d", decree)
	}
	r.log = newReplicaLog(decree)
	r.committed, r.applied, r.applyHanded = decree, decree, decree
	clear(r.inflight)
	r.follower = followerState{matched: decree}
	r.learner.awaitingCheckpoint = false
	r.sendLearnRequest()
	return nil
}

// tickLearner repeats an unanswered learn request.
func (r *Replica) tickLearner() {
	if r.learner.requestPending && r.tick-r.learner.requestTick >= int64(r.cfg.PrepareRetryTicks) {
		r.sendLearnRequest()
	}
}

// maybeUpgrade proposes a learner that holds everything committed for
// secondary. From the proposal on, its acknowledgements gate commits (see
// tracker.upgrading).
//
// Committed means as far as anyone may have acknowledged, which for a
// primary still reconciling is everything it had prepared when promoted
// (reconcileTo), not its own commit point: an entry there may have been
// acknowledged by the primary before, and a learner made a secondary
// without it would be a member missing an acknowledged write (simulation
// seed 4738: the learner caught up to the commit point 25 was upgraded
// while decree 26, acknowledged two primaries before, was only prepared).
func (r *Replica) maybeUpgrade(t *tracker) {
	if !t.learner || t.upgrading || t.phase != phaseStreaming || t.acked < max(r.committed, r.prim.reconcileTo) {
		return
	}
	t.upgrading = true
	r.propose(ConfigUpgradeToSecondary, t.node)
}
