package sim

import (
	"errors"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/replica"
)

// partition drives one replica's REAL PacificA core (pacifica.Replica) the
// way internal/replica's partition driver does: it feeds it messages,
// configurations (replica.ApplyConfig), client writes and ticks, and carries
// out each Ready in the core's contract order (carryOut). What the real
// driver does on goroutines (log appends, log reads, checkpoint copies) is
// an event that completes later here, so the same interleavings happen.
type partition struct {
	srv  *replicaServer
	g    decide.Gpid
	d    *replicaDisk
	core *pacifica.Replica
	// teaching is the set of learners handed to AddLearner (ApplyConfig).
	teaching map[pacifica.NodeID]bool

	// kv is the store's applied state (volatile: a crash reverts it to
	// d.store), applied its decree; reqs its request records (reverted to
	// d.reqs with it).
	kv      kvState
	reqs    requests
	applied int64

	// outstanding is a Ready whose entries are being appended.
	outstanding *pacifica.Ready
	waiters     map[pacifica.Decree][]*pendingWrite
	installs    []*checkpoint
	failure     error
	closed      bool
	// metaBallot is the newest ballot of a configuration the meta server
	// sent for this partition (replica.RemovalRefused).
	metaBallot int64
	// minPrimaryBallot is core.MinPrimaryBallot(), fixed when the replica
	// was opened; beacons report it (as the server's partition does).
	minPrimaryBallot pacifica.Ballot
}

// pendingWrite is a client write waiting for its decree.
type pendingWrite struct {
	rid      pacifica.RequestID
	kind     opKind
	deadline time.Duration // on the server's monotonic clock
	reply    func(answer)
}

func (w *pendingWrite) fail(err error) { w.reply(errorAnswer(err)) }

// checkpoint is a copy of the primary's store on its way to a learner.
type checkpoint struct {
	req    pacifica.CheckpointRequest
	kv     kvState
	reqs   requests
	decree int64
}

// openPartition opens a replica from its directory, through the server's own
// recovery (replica.RecoverCore).
func (s *replicaServer) openPartition(d *replicaDisk) (*partition, error) {
	cfg := s.coreConfig(d.maxReplicas, d.incarnation)
	core, replayed, err := replica.RecoverCore(cfg, d.hard, d.durable, d, s.mono())
	if err != nil {
		return nil, err
	}
	p := &partition{
		srv:      s,
		g:        d.g,
		d:        d,
		core:     core,
		teaching: make(map[pacifica.NodeID]bool),

		minPrimaryBallot: core.MinPrimaryBallot(),
		kv:               d.store.clone(),
		applied:          d.durable,
		waiters:          make(map[pacifica.Decree][]*pendingWrite),
	}
	adaptRecoverDedup(p)
	s.w.trace.note("%s %s opened: ballot %d (member %d), durable %d, replayed %d", s.id, d.g, d.hard.Ballot,
		d.hard.MemberBallot, d.durable, replayed)
	return p, nil
}

// step hands a peer message to the core.
func (p *partition) step(m pacifica.Message) {
	if p.closed {
		return
	}
	// The clock is read after the message arrived (the server's handle).
	if err := p.core.Step(p.srv.mono(), m); err != nil && !errors.Is(err, pacifica.ErrStaleBallot) {
		p.srv.logf("%s %s: peer message %v refused: %v", p.srv.id, p.g, m.Type, err)
	}
	p.checkCore()
	p.drive()
}

// applyConfig hands a meta server configuration to the core.
func (p *partition) applyConfig(u configUpdate) {
	p.metaBallot = max(p.metaBallot, int64(u.cfg.Ballot))
	if p.closed || p.failure != nil {
		return
	}
	before := p.core.Ballot()
	if err := replica.ApplyConfig(p.core, p.teaching, u.cfg, u.learners, p.srv.log); err != nil {
		p.checkCore()
	}
	if b := p.core.Ballot(); b != before {
		p.srv.w.trace.note("%s %s: config b%d %s/%v -> %s b%d", p.srv.id, p.g, u.cfg.Ballot,
			u.cfg.Primary, u.cfg.Secondaries, p.core.Status(), b)
	}
	p.drive()
}

// tick advances the core's clock and fails the writes whose deadline
// passed (their entries may still commit).
func (p *partition) tick() {
	if p.closed {
		return
	}
	p.core.Tick(p.srv.mono())
	now := p.srv.p.clock.mono()
	for d, ws := range sortedWaiters(p.waiters) {
		kept := ws[:0]
		for _, w := range ws {
			if now > w.deadline {
				w.fail(replica.ErrTimeout)
			} else {
				kept = append(kept, w)
			}
		}
		if len(kept) == 0 {
			delete(p.waiters, d)
		} else {
			p.waiters[d] = kept
		}
	}
	p.drive()
}

// propose hands a client write to the core, unless it is the retry of a
// request this replica already applied: then the request's record answers
// it with the original result and nothing is proposed (the server's
// partition.propose; the core knows only the requests in flight).
func (p *partition) propose(w *pendingWrite, data []byte) {
	switch {
	case p.closed:
		w.fail(replica.ErrClosed)
		return
	case p.failure != nil:
		w.fail(replica.ErrPartitionFailed)
		return
	}
	if !w.rid.IsZero() {
		// Only a writable primary answers from its store: a secondary
		// may be ahead of the primary's applies.
		if err := p.core.Writable(); err != nil {
			w.fail(err)
			return
		}
		if rec, ok := p.reqs.lookup(w.rid, p.srv.dedupRetention()); ok {
			p.srv.w.stats.retriesAnswered++
			p.srv.logf("%s %s: retry %v rid %v answered from its record (decree %d)", p.srv.id, p.g, w.kind, w.rid,
				rec.result.decree)
			w.reply(resultAnswer(w.kind, rec.result))
			return
		}
	}
	d, err := p.core.Propose(w.rid, data, p.srv.p.clock.wall().Unix())
	if err != nil {
		w.fail(err)
		return
	}
	p.srv.w.check.proposed(p.g, p.core.Ballot(), d, p.srv.id)
	p.srv.logf("%s %s: proposed %v rid %v at decree %d (ballot %d)", p.srv.id, p.g, w.kind, w.rid, d, p.core.Ballot())
	p.waiters[d] = append(p.waiters[d], w)
	p.drive()
}

// drive carries out the core's Ready batches until it has none, or one is
// waiting for its log append; checkpoints queued are installed between
// batches.
func (p *partition) drive() {
	for !p.closed && p.failure == nil && p.outstanding == nil {
		if len(p.installs) > 0 {
			if !p.install(p.installs[0]) {
				break
			}
			p.installs = p.installs[1:]
			continue
		}
		if !p.core.HasReady() {
			break
		}
		p.carryOut(p.core.Ready())
	}
}

// carryOut executes one Ready in the contract's order: ballot, messages,
// log append (completing later), committed entries, replies, then the
// requests that complete later.
func (p *partition) carryOut(rd pacifica.Ready) {
	s, w := p.srv, p.srv.w
	if !rd.HardState.IsZero() {
		p.d.hard = rd.HardState // written and synced at once
	}
	for _, m := range rd.Messages {
		s.sendPeer(p.g, m)
	}
	if len(rd.Entries) > 0 {
		p.d.append(replica.LogRecords(rd.Entries, p.d.hard.Ballot))
		n := len(p.d.log)
		p.outstanding = &rd
		w.schedule(s.p, w.diskLatency(), func() {
			if p.closed || p.outstanding != &rd {
				return
			}
			p.d.sync(n)
			p.outstanding = nil
			p.core.Advance(rd)
			p.drive()
		})
	}
	applied, ok := p.apply(rd.Committed)
	if !ok {
		return
	}
	p.reply(rd.Replies, applied)
	for _, cp := range rd.ConfigProposals {
		s.queueProposal(p.g, cp, p.core.CommittedDecree())
	}
	for _, lr := range rd.LogReads {
		lr := lr
		w.schedule(s.p, w.between(100*time.Microsecond, 5*time.Millisecond), func() {
			if p.closed {
				return
			}
			entries, err := p.d.read(lr.From, lr.To)
			p.core.LogReadResult(lr, entries, err)
			p.drive()
		})
	}
	for _, cr := range rd.CheckpointRequests {
		s.fetchCheckpoint(p, cr)
	}
	if len(rd.Entries) == 0 {
		p.core.Advance(rd)
	}
}

// apply applies committed entries to the store in decree order and returns
// the results of those that client writes on this replica wait for.
func (p *partition) apply(entries []pacifica.Entry) (map[pacifica.Decree]opResult, bool) {
	var waited map[pacifica.Decree]opResult
	for _, e := range entries {
		p.srv.w.check.applied(p.g, p.srv.id, e)
		var res opResult
		if len(e.Data) > 0 {
			m, err := decodeMutation(e.Data)
			if err != nil {
				p.fail(err)
				return nil, false
			}
			res = applyMutation(p.kv, m)
		}
		res.decree = e.Decree
		p.applied = int64(e.Decree)
		// The request's record goes with the data (storage's Apply).
		p.reqs.applied(e.Timestamp, e.RequestID, res)
		if _, waiting := p.waiters[e.Decree]; waiting {
			if waited == nil {
				waited = make(map[pacifica.Decree]opResult)
			}
			waited[e.Decree] = res
		}
	}
	return waited, true
}

// reply answers the writes the core's replies are for, as the server does:
// a fresh result (a duplicate the core joined to its original gets the
// original's), else the request's record, else (a record already
// collected) the decree for idempotent writes and ERR_UNKNOWN_OUTCOME for
// incr and check_and_set.
func (p *partition) reply(replies []pacifica.Reply, applied map[pacifica.Decree]opResult) {
	for _, r := range replies {
		wr := p.takeWaiter(r.Decree, r.ID)
		if wr == nil {
			continue
		}
		if r.Err != nil {
			wr.fail(r.Err)
			continue
		}
		if res, ok := applied[r.Decree]; ok {
			wr.reply(resultAnswer(wr.kind, res))
			continue
		}
		if rec, ok := p.reqs.lookup(r.ID, p.srv.dedupRetention()); ok && rec.result.decree == r.Decree {
			wr.reply(resultAnswer(wr.kind, rec.result))
			continue
		}
		if !wr.kind.idempotent() {
			wr.fail(replica.ErrUnknownOutcome)
			continue
		}
		wr.reply(resultAnswer(wr.kind, opResult{decree: r.Decree}))
	}
}

func (p *partition) takeWaiter(d pacifica.Decree, id pacifica.RequestID) *pendingWrite {
	ws := p.waiters[d]
	for i, w := range ws {
		if w.rid == id {
			ws = append(ws[:i], ws[i+1:]...)
			if len(ws) == 0 {
				delete(p.waiters, d)
			} else {
				p.waiters[d] = ws
			}
			return w
		}
	}
	return nil
}

// install offers a copied checkpoint to the core and, if it is still
// wanted, makes it the replica's state (the server's partition.install).
func (p *partition) install(c *checkpoint) bool {
	err := p.core.InstallCheckpoint(c.req, pacifica.Decree(c.decree))
	switch {
	case errors.Is(err, pacifica.ErrReadyOutstanding):
		return false
	case errors.Is(err, pacifica.ErrCheckpointNotWanted):
		return true
	case err != nil:
		p.fail(err)
		return true
	}
	p.d.install(c.kv, c.reqs, c.decree)
	p.kv, p.applied = c.kv.clone(), c.decree
	adaptInstallDedup(p, c)
	p.srv.w.stats.checkpoints++
	p.srv.w.check.diskChanged(p.g)
	p.srv.w.trace.note("%s %s: checkpoint installed at decree %d from %s", p.srv.id, p.g, c.decree, c.req.From)
	return true
}

func (p *partition) checkCore() {
	if p.failure == nil && p.core.Status() == pacifica.StatusError {
		p.fail(p.core.Err())
	}
}

// fail stops the replica after an error it cannot continue from.
func (p *partition) fail(err error) {
	if p.failure != nil {
		return
	}
	p.failure = err
	p.srv.w.trace.note("%s %s: replica failed: %v", p.srv.id, p.g, err)
	for d, ws := range sortedWaiters(p.waiters) {
		for _, w := range ws {
			w.fail(replica.ErrPartitionFailed)
		}
		delete(p.waiters, d)
	}
}

// close ends the replica (the server's partition.close): the append in
// flight completes, pending writes fail, later events are ignored. With
// flush the store is made durable first (kill_partition, shutdown).
func (p *partition) close(flush bool) {
	if p.closed {
		return
	}
	// Closing the log waits for the append in flight: it ends durable.
	p.d.sync(len(p.d.log))
	if flush && p.failure == nil {
		p.d.flush(p.kv, p.reqs, p.applied)
		p.srv.w.check.diskChanged(p.g)
	}
	p.closed = true
	for d, ws := range sortedWaiters(p.waiters) {
		for _, w := range ws {
			w.fail(replica.ErrClosed)
		}
		delete(p.waiters, d)
	}
}

// report describes the replica for beacons (the server's partition.report).
func (p *partition) report() decide.ReplicaReport {
	st := decide.StatusInactive
	switch {
	case p.failure != nil:
		st = decide.StatusError
	case p.core.Status() == pacifica.StatusPrimary:
		st = decide.StatusPrimary
	case p.core.Status() == pacifica.StatusSecondary:
		st = decide.StatusSecondary
	case p.core.Status() == pacifica.StatusPotentialSecondary:
		st = decide.StatusPotentialSecondary
	case p.core.Status() == pacifica.StatusError:
		st = decide.StatusError
	}
	return decide.ReplicaReport{
		Gpid:                p.g,
		Status:              st,
		Ballot:              int64(p.core.Ballot()),
		MemberBallot:        int64(p.core.MemberBallot()),
		LastCommittedDecree: int64(p.core.CommittedDecree()),
		LastPreparedDecree:  int64(p.core.PreparedDecree()),
		LastDurableDecree:   p.d.durable,
		Incarnation:         p.d.incarnation,
		MinPrimaryBallot:    int64(p.minPrimaryBallot),
	}
}
