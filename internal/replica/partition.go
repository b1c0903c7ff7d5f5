package replica

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pegasus-go/pegasus/internal/mutlog"
	"github.com/pegasus-go/pegasus/internal/pacifica"
	"github.com/pegasus-go/pegasus/internal/storage"
)

// partition drives one partition replica: the PacificA core, the mutation
// log and the store. Every call into the core happens on the partition's own
// goroutine (run); other goroutines talk to it through its inbox and read
// what it publishes (view).
type partition struct {
	srv *Server
	g   gpid
	dir string
	log *slog.Logger
	// partitionCount is fixed for the replica's life.
	partitionCount int32

	core *pacifica.Replica
	// minPrimaryBallot is core.MinPrimaryBallot(), fixed when the replica
	// was opened; beacons report it.
	minPrimaryBallot pacifica.Ballot
	// diskMu orders the store and log swaps of a checkpoint install and of
	// close (exclusive) against the flusher, log readers and checkpoint
	// sources (shared). The run goroutine reads the plog field without it:
	// only that goroutine assigns it.
	diskMu sync.RWMutex
	store  atomic.Pointer[storage.Store]
	plog   *mutlog.Log

	in    inbox
	ticks atomic.Int64
	view  atomic.Pointer[replicaView]
	// peers is the membership of the configuration last taken (guard.go).
	peers atomic.Pointer[peerSet]
	stats partitionStats
	// throttle counts client writes for the table's write throttling.
	throttle throttle
	// ctx ends when the replica closes; background work (log reads,
	// checkpoint copies) stops with it.
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	// incarnation names this copy of the partition (replicaInfo's); fixed
	// at open, so the beacon goroutine reads it without touching info.
	incarnation uint64

	// State of the run goroutine.
	info replicaInfo // its Ballot is the persisted ballot
	// waitingSince is when this primary started waiting to clear (see
	// noteWaiting); zero when it is not waiting.
	waitingSince time.Time
	// outstanding is a Ready whose entries are being appended; the core
	// gets no new Ready until the append completes and Advance is called.
	outstanding *pacifica.Ready
	appended    func(error)
	waiters     map[pacifica.Decree][]*pendingWrite
	// learners are the nodes handed to AddLearner since this replica last
	// became primary, so that a repeated configuration does not restart
	// their learning.
	learners map[pacifica.NodeID]bool
	// installs wait for the outstanding Ready: a checkpoint replaces the
	// log that Ready is being written to.
	installs []*fetchedCheckpoint
	failure  error
	stopped  bool
	// metaBallot is the newest ballot of a configuration the meta server
	// sent for this partition.
	metaBallot int64
}

// replicaView is what the partition goroutine publishes for readers, reports
// and status pages. It is a comparable value, republished only on change.
type replicaView struct {
	status       pacifica.Status
	ballot       pacifica.Ballot
	memberBallot pacifica.Ballot
	primary      pacifica.NodeID
	committed    pacifica.Decree
	prepared     pacifica.Decree
	applied      pacifica.Decree
	// The core's ReadState: readable when it had no error, else
	// reconciling or heldByOldPrimary tell which refusal and hint names
	// where to go. leaseUntil and needMetaLease say until when reads may
	// be served: the reader checks them with the time of the read.
	readable         bool
	reconciling      bool
	heldByOldPrimary bool
	hint             pacifica.NotPrimaryError
	leaseUntil       pacifica.Time
	needMetaLease    bool
	failed           bool
}

// readState rebuilds the core's ReadState from the view.
func (v *replicaView) readState() pacifica.ReadState {
	rs := pacifica.ReadState{LeaseUntil: v.leaseUntil, NeedMetaLease: v.needMetaLease}
	switch {
	case v.failed:
		rs.Err = ErrPartitionFailed
	case v.readable:
	case v.reconciling:
		rs.Err = pacifica.ErrReconciling
	case v.heldByOldPrimary:
		rs.Err = pacifica.ErrOldPrimaryLease
	default:
		hint := v.hint
		rs.Err = &hint
	}
	return rs
}

// readError returns why a read at now must be refused, or nil, given the
// end of the server's lease from the meta server.
func (v *replicaView) readError(now, metaLeaseUntil pacifica.Time) error {
	return v.readState().Check(now, metaLeaseUntil)
}

// partitionStats count work an operator (and the tests) want to see.
type partitionStats struct {
	openDuration     time.Duration
	replayedEntries  int
	logEntriesServed atomic.Int64
	ckptServed       atomic.Int64
	ckptInstalled    atomic.Int64
}

// configUpdate is a partition configuration from the meta server, in the
// core's terms, with the learners the primary is to bring in.
type configUpdate struct {
	config   pacifica.Configuration
	learners []pacifica.NodeID
}

type logReadResult struct {
	read    pacifica.LogRead
	entries []pacifica.Entry
	err     error
}

// fetchedCheckpoint is a storage checkpoint copied from the primary into
// dir, on the replica's filesystem, holding everything up to decree.
type fetchedCheckpoint struct {
	req    pacifica.CheckpointRequest
	decree int64
	dir    string
}

type closeRequest struct {
	// flush makes the store durable before closing, so a reopen replays
	// nothing.
	flush bool
	done  chan closeResult
}

type closeResult struct {
	durable int64
	err     error
}

// start launches the partition goroutine.
func (p *partition) start() {
	p.in = newInbox()
	p.waiters = make(map[pacifica.Decree][]*pendingWrite)
	p.learners = make(map[pacifica.NodeID]bool)
	p.done = make(chan struct{})
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.appended = func(err error) {
		// The log's writer calls this; a closed inbox means the replica
		// closed meanwhile and nobody waits for the outcome.
		_ = p.in.push(event{kind: evAppended, err: err})
	}
	p.publish()
	go p.run()
}

func (p *partition) run() {
	defer close(p.done)
	var buf []event
	for {
		<-p.in.signal
		buf = p.in.take(buf[:0])
		for i := range buf {
			p.handle(&buf[i])
			buf[i] = event{}
			if p.stopped {
				p.refuse(buf[i+1:])
				return
			}
		}
		if n := p.ticks.Swap(0); n > 0 {
			p.tick(int(n))
		}
		p.drive()
	}
}

func (p *partition) handle(ev *event) {
	switch ev.kind {
	case evWrite:
		p.propose(ev.write)
	case evMessage:
		// The clock is read after the message arrived: the promise it
		// may carry counts from no earlier than its arrival.
		if err := p.core.Step(p.srv.mono(), ev.msg); err != nil && !errors.Is(err, pacifica.ErrStaleBallot) {
			p.log.Warn("peer message refused", "msg", ev.msg.String(), "err", err)
		}
		p.checkCore()
	case evAppended:
		p.finishReady(ev.err)
	case evLogRead:
		p.core.LogReadResult(ev.read.read, ev.read.entries, ev.read.err)
	case evCheckpoint:
		p.installs = append(p.installs, ev.ckpt)
	case evConfig:
		p.updateConfig(ev.config)
	case evClose:
		p.shutdown(ev.close)
	case evRemove:
		p.tryRemove(ev.remove)
	}
}

// tick advances the core's clock and answers the writes whose deadline
// passed. Their entries may still commit: the client learns the outcome by
// retrying with the same RequestID.
func (p *partition) tick(n int) {
	mono := p.srv.mono()
	for range n {
		p.core.Tick(mono)
	}
	// Deadlines are time.Time values with a monotonic reading: comparing
	// them ignores wall clock steps too.
	now := time.Now()
	for d, ws := range p.waiters {
		kept := ws[:0]
		for _, w := range ws {
			if now.After(w.deadline) {
				w.fail(errorf(ErrTimeout, "decree %d not committed in time", d))
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
}

// propose hands a client write to the core, unless it is the retry of a
// request this replica already applied: then the request's record in
// storage answers it with the original result (exactly-once; the core knows
// only the requests in flight, see pacifica's doc.go). Storage holds every
// request up to the core's applied decree: this goroutine applies each
// Ready's committed entries, records included, before it proposes anything
// else. Every write with a request id is looked up, first attempts too: the
// client numbers its attempts, but a first attempt held up in a socket
// buffer or on a connection the client gave up on can arrive after its
// retry was applied (TestLateFirstAttemptAnsweredWithOriginal).
func (p *partition) propose(w *pendingWrite) {
	switch {
	case p.failure != nil:
		w.fail(errorf(ErrPartitionFailed, "%v", p.failure))
		return
	case time.Now().After(w.deadline):
		w.fail(errorf(ErrTimeout, "expired in the queue"))
		return
	}
	if !w.rid.IsZero() {
		// Only a writable primary answers from storage: a secondary may
		// be ahead of the primary's applies (see pacifica Writable).
		if err := p.core.Writable(); err != nil {
			w.fail(err)
			return
		}
		rec, ok, err := p.store.Load().AppliedRequest(storageID(w.rid))
		if err != nil {
			w.fail(err)
			if errors.Is(err, storage.ErrCorrupt) {
				p.fail(err)
			}
			return
		}
		if ok {
			p.srv.opts.Metrics.RetriesAnswered.Inc()
			w.succeed(resultOf(pacifica.Decree(rec.Decree), rec.Results))
			return
		}
	}
	// The mutation's timestamp is wall time: TTLs are wall-clock deadlines
	// that every replica applies the same way.
	d, err := p.core.Propose(w.rid, w.data, p.srv.now().Unix())
	if err != nil {
		w.fail(err)
		return
	}
	p.waiters[d] = append(p.waiters[d], w)
}

// updateConfig applies a configuration from the meta server and, on the
// primary, starts teaching the learners it names (ApplyConfig).
func (p *partition) updateConfig(u *configUpdate) {
	p.metaBallot = max(p.metaBallot, int64(u.config.Ballot))
	if p.failure != nil {
		return
	}
	if err := ApplyConfig(p.core, p.learners, u.config, u.learners, p.log); err != nil {
		p.checkCore()
		return
	}
	// Taken (not refused as stale): the peer guard follows it.
	if p.core.Ballot() == u.config.Ballot {
		p.notePeers(u)
	}
}

// drive carries out the core's Ready batches until it has none, or one is
// waiting for its log append.
func (p *partition) drive() {
	// Publish before any message of this pass leaves: a secondary must stop
	// serving as primary before its acknowledgement lets a new primary
	// commit (see doc.go).
	p.publish()
	for p.failure == nil && !p.stopped && p.outstanding == nil {
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
	p.publish()
}

// carryOut executes one Ready in the order its contract gives: ballot,
// messages, log append (asynchronous: its completion calls Advance),
// committed entries, replies, then the requests that complete later.
func (p *partition) carryOut(rd pacifica.Ready) {
	if !rd.HardState.IsZero() {
		info := p.info.withHardState(rd.HardState)
		if err := writeReplicaInfo(p.srv.fs, p.dir, info); err != nil {
			p.fail(err)
			return
		}
		p.info = info
	}
	if len(rd.Messages) > 0 {
		p.srv.peers.send(p.g, rd.Messages)
	}
	if len(rd.Entries) > 0 {
		// Records carry the persisted ballot (see logentry.go); every entry
		// of this Ready was created at or below it.
		recs := logRecords(rd.Entries, pacifica.Ballot(p.info.Ballot))
		p.outstanding = &rd
		p.plog.AppendAsync(recs, p.appended)
	}
	// Committed entries were durable in the log before this Ready (the core
	// hands out only what is), so they may be applied while the new entries
	// are still being written.
	applied, ok := p.apply(rd.Committed)
	if !ok {
		return
	}
	p.reply(rd.Replies, applied)
	for _, cp := range rd.ConfigProposals {
		// Debug: the core repeats a standing proposal every second; the
		// meta server's decision shows in the configurations.
		p.log.Debug("configuration proposal", "type", cp.Type.String(), "node", cp.Node, "ballot", cp.Ballot)
		p.srv.proposals.add(p.g, cp)
	}
	for _, lr := range rd.LogReads {
		go p.readLog(lr)
	}
	for _, cr := range rd.CheckpointRequests {
		p.log.Info("copying a checkpoint", "from", cr.From, "ballot", cr.Ballot)
		go p.fetchCheckpoint(cr)
	}
	if len(rd.Entries) == 0 {
		p.core.Advance(rd)
	}
}

// finishReady completes the outstanding Ready once its entries are durable.
func (p *partition) finishReady(err error) {
	rd := p.outstanding
	if rd == nil {
		return
	}
	p.outstanding = nil
	if err != nil {
		p.fail(err)
		return
	}
	p.core.Advance(*rd)
}

// apply applies committed entries to the store in decree order and returns
// the results of those that client writes on this replica wait for.
func (p *partition) apply(entries []pacifica.Entry) (map[pacifica.Decree]writeResult, bool) {
	var waited map[pacifica.Decree]writeResult
	store := p.store.Load()
	for _, e := range entries {
		var ops []storage.WriteOp
		if len(e.Data) > 0 {
			var err error
			if ops, err = storage.DecodeOps(e.Data); err != nil {
				p.fail(errorf(ErrCorruptLog, "decree %d: %v", e.Decree, err))
				return nil, false
			}
		}
		// The request's record (its results) goes into the batch that
		// applies it: storage knows the request exactly when it holds its
		// effects, through restarts and checkpoints.
		results, err := store.Apply(int64(e.Decree), unixSeconds32(e.Timestamp), storageID(e.RequestID), ops)
		if err != nil {
			p.fail(err)
			return nil, false
		}
		if _, waiting := p.waiters[e.Decree]; waiting {
			if waited == nil {
				waited = make(map[pacifica.Decree]writeResult)
			}
			waited[e.Decree] = resultOf(e.Decree, results)
		}
	}
	return waited, true
}

// unixSeconds32 clamps a mutation's timestamp to the store's clock range.
func unixSeconds32(ts int64) uint32 {
	return uint32(min(max(ts, 0), math.MaxUint32))
}

// reply answers the writes the core's replies are for.
func (p *partition) reply(replies []pacifica.Reply, applied map[pacifica.Decree]writeResult) {
	for _, r := range replies {
		w := p.takeWaiter(r.Decree, r.ID)
		if w == nil {
			continue // answered already (deadline passed)
		}
		if r.Err != nil {
			w.fail(r.Err)
			continue
		}
		// The entry at r.Decree carries r.ID (for a duplicate too: the
		// core joined it to the original), so its result is the answer.
		if res, ok := applied[r.Decree]; ok {
			w.succeed(res)
			continue
		}
		// Applied in an earlier Ready: the request's record has it.
		rec, ok, err := p.store.Load().AppliedRequest(storageID(r.ID))
		switch {
		case err != nil:
			w.fail(err)
		case ok && rec.Decree == int64(r.Decree):
			w.succeed(resultOf(r.Decree, rec.Results))
		default:
			w.succeedApplied(r.Decree)
		}
	}
}

// takeWaiter removes and returns the first write waiting at decree with id.
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

// checkCore stops the replica if the core entered StatusError.
func (p *partition) checkCore() {
	if p.failure == nil && p.core.Status() == pacifica.StatusError {
		p.fail(p.core.Err())
	}
}

// fail stops the replica after an error it cannot continue from. It keeps
// answering (with errors) and reporting PS_ERROR until it is closed; the
// meta server then rebuilds it elsewhere or by learning.
func (p *partition) fail(err error) {
	if p.failure != nil {
		return
	}
	p.failure = err
	p.log.Error("partition replica failed", "err", err)
	for d, ws := range p.waiters {
		for _, w := range ws {
			w.fail(errorf(ErrPartitionFailed, "%v", err))
		}
		delete(p.waiters, d)
	}
	p.publish()
}

// noteWaiting logs when a new primary starts waiting before it may commit
// and serve (for a member to answer at its ballot, or for an old primary's
// read lease to run out), and how long it waited: writes stall meanwhile,
// and the log says why.
func (p *partition) noteWaiting(waiting bool) {
	switch {
	case waiting && p.waitingSince.IsZero():
		p.waitingSince = time.Now()
		p.log.Info("new primary waiting before it commits or serves", "ballot", p.core.Ballot(), "for", p.core.Waiting())
	case !waiting && !p.waitingSince.IsZero():
		msg := "new primary commits and serves"
		if p.core.Status() != pacifica.StatusPrimary {
			msg = "new primary stopped waiting: no longer primary"
		}
		p.log.Info(msg, "ballot", p.core.Ballot(), "waited", time.Since(p.waitingSince).Round(time.Millisecond))
		p.waitingSince = time.Time{}
	}
}

// publish refreshes the view other goroutines read.
func (p *partition) publish() {
	v := replicaView{
		status:       p.core.Status(),
		ballot:       p.core.Ballot(),
		memberBallot: p.core.MemberBallot(),
		primary:      p.core.Primary(),
		committed:    p.core.CommittedDecree(),
		prepared:     p.core.PreparedDecree(),
		applied:      p.core.AppliedDecree(),
		failed:       p.failure != nil,
	}
	rs := p.core.ReadState()
	p.noteWaiting(errors.Is(rs.Err, pacifica.ErrOldPrimaryLease))
	v.leaseUntil, v.needMetaLease = rs.LeaseUntil, rs.NeedMetaLease
	switch err := rs.Err; {
	case err == nil:
		v.readable = true
	case errors.Is(err, pacifica.ErrReconciling):
		v.reconciling = true
	case errors.Is(err, pacifica.ErrOldPrimaryLease):
		v.heldByOldPrimary = true
	default:
		var np *pacifica.NotPrimaryError
		if errors.As(err, &np) {
			v.hint = *np
		}
	}
	if old := p.view.Load(); old == nil || *old != v {
		p.view.Store(&v)
	}
}

// shutdown closes the replica on its own goroutine. Writes still waiting get
// ErrClosed: their entries may commit later under another primary, which
// the client finds out by retrying.
func (p *partition) shutdown(req *closeRequest) {
	p.stopped = true
	p.cancel()
	p.refuse(p.in.close())
	for d, ws := range p.waiters {
		for _, w := range ws {
			w.fail(errorf(ErrClosed, "partition %s closing", p.g))
		}
		delete(p.waiters, d)
	}
	p.diskMu.Lock()
	defer p.diskMu.Unlock()
	var res closeResult
	store := p.store.Load()
	if req.flush {
		res.durable, res.err = store.Flush()
	} else {
		res.durable = store.DurableDecree()
	}
	// Closing the log waits for the append in flight, if any: nothing half
	// written is left behind.
	res.err = errors.Join(res.err, p.plog.Close(), store.Close())
	req.done <- res
}

// refuse answers the events a closing replica will not handle: writes fail,
// other close requests learn it is closed, the rest needs no answer.
func (p *partition) refuse(events []event) {
	for _, ev := range events {
		switch ev.kind {
		case evWrite:
			ev.write.fail(errorf(ErrClosed, "partition %s closing", p.g))
		case evClose:
			ev.close.done <- closeResult{err: ErrClosed}
		case evRemove:
			ev.remove.done <- removeResult{refused: "closed already"}
		case evCheckpoint:
			_ = p.srv.fs.RemoveAll(ev.ckpt.dir)
		}
	}
}

// readLog serves a LogRead from the on-disk log.
func (p *partition) readLog(lr pacifica.LogRead) {
	res := &logReadResult{read: lr}
	p.diskMu.RLock()
	recs, err := p.plog.Read(int64(lr.From), int64(lr.To), 0)
	p.diskMu.RUnlock()
	if err == nil {
		res.entries = make([]pacifica.Entry, 0, len(recs))
		for _, rec := range recs {
			e, derr := decodeLogEntry(rec)
			if derr != nil {
				err = derr
				break
			}
			res.entries = append(res.entries, e)
		}
	}
	if err != nil {
		res.entries = nil
		res.err = err
		p.log.Info("log read for a learner failed", "for", lr.For, "from", lr.From, "to", lr.To, "err", err)
	} else {
		p.stats.logEntriesServed.Add(int64(len(res.entries)))
	}
	_ = p.in.push(event{kind: evLogRead, read: res})
}

// flush makes the store durable and drops the log segments it covers. It
// runs beside the partition goroutine.
func (p *partition) flush() (durable int64, segments int, err error) {
	p.diskMu.RLock()
	defer p.diskMu.RUnlock()
	if p.ctx.Err() != nil {
		return 0, 0, ErrClosed
	}
	durable, err = p.store.Load().Flush()
	if err != nil {
		return durable, 0, err
	}
	segments, err = p.plog.GC(durable)
	return durable, segments, err
}

// sweep deletes up to maxKeys expired records. It runs beside the partition
// goroutine.
func (p *partition) sweep(maxKeys int) error {
	p.diskMu.RLock()
	defer p.diskMu.RUnlock()
	if p.ctx.Err() != nil {
		return ErrClosed
	}
	_, err := p.store.Load().DropExpired(maxKeys)
	if errors.Is(err, storage.ErrClosed) {
		return ErrClosed
	}
	return err
}

// sweepRequests deletes the request records past retention (one range
// deletion when a bucket of them expired; see storage's requests.go). It runs
// beside the partition goroutine.
func (p *partition) sweepRequests() error {
	p.diskMu.RLock()
	defer p.diskMu.RUnlock()
	if p.ctx.Err() != nil {
		return ErrClosed
	}
	dropped, err := p.store.Load().DropExpiredRequests()
	if errors.Is(err, storage.ErrClosed) {
		return ErrClosed
	}
	if dropped {
		p.srv.opts.Metrics.RequestRecordCollections.Inc()
	}
	return err
}

// post queues an event that must reach the partition.
func (p *partition) post(ev event) error { return p.in.push(ev) }

// close closes the replica and waits until its files are closed.
func (p *partition) close(flush bool) closeResult {
	req := &closeRequest{flush: flush, done: make(chan closeResult, 1)}
	if err := p.post(event{kind: evClose, close: req}); err != nil {
		<-p.done
		return closeResult{err: ErrClosed}
	}
	res := <-req.done
	<-p.done
	return res
}
