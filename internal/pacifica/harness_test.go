package pacifica

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// This file is the test driver shared by the interaction tests, the
// randomized test and the benchmark: simulated disks, an in-memory network, a
// fake meta server, and a checker of the safety properties.

// disk is what survives a replica's crash: the persisted ballot, the
// mutation log, and storage (every applied entry, in decree order).
//
// The log resolves conflicting records the way internal/mutlog does: each
// record is filed under the writer's ballot (the persisted ballot when it is
// written), and a record (d, b) hides earlier records at decrees >= d filed
// under a lower ballot; an earlier record at d under a higher ballot would
// win. With writeOrder set it uses the other rule of doc.go instead: a record
// at d discards every earlier record at decrees >= d. The core must work with
// both.
type disk struct {
	// hard is the persisted HardState; ballot is its Ballot, under which
	// log records are filed.
	hard       HardState
	ballot     Ballot
	writeOrder bool
	// incarnation identifies the replica's copy, drawn when the disk was
	// created (the driver's replica directory).
	incarnation uint64
	// log is the effective log from logFirst on; filed[i] is the ballot
	// log[i] was filed under.
	log      []Entry
	filed    []Ballot
	logFirst Decree
	applied  []Entry // applied[i] is decree i+1
}

func newDisk(incarnation uint64) *disk { return &disk{logFirst: 1, incarnation: incarnation} }

func (d *disk) logLast() Decree        { return d.logFirst + Decree(len(d.log)) - 1 }
func (d *disk) appliedDecree() Decree  { return Decree(len(d.applied)) }
func (d *disk) logEntry(x Decree) bool { return x >= d.logFirst && x <= d.logLast() }

// write appends e to the log, filed under the persisted ballot. It returns
// the decree it discarded entries from, or 0.
func (d *disk) write(e Entry) (Decree, error) {
	if e.Decree < d.logFirst || e.Decree > d.logLast()+1 {
		return 0, fmt.Errorf("log write %v outside %d..%d", e, d.logFirst, d.logLast()+1)
	}
	i := int(e.Decree - d.logFirst)
	if !d.writeOrder && i < len(d.log) && d.filed[i] > d.ballot {
		// The log would ignore the record (an older writer never overrides
		// a newer one), and replay would disagree with the replica.
		return 0, fmt.Errorf("log write %v under b%d ignored: decree filed under b%d", e, d.ballot, d.filed[i])
	}
	var truncated Decree
	if i < len(d.log) {
		truncated = e.Decree
		if !d.writeOrder {
			// Records under the same or a higher ballot after d survive.
			for j := i + 1; j < len(d.log); j++ {
				if d.filed[j] >= d.ballot {
					return 0, fmt.Errorf("log write %v under b%d keeps %v filed under b%d: the effective log has a hole",
						e, d.ballot, d.log[j], d.filed[j])
				}
			}
		}
		d.log, d.filed = d.log[:i], d.filed[:i]
	}
	d.log = append(d.log, e)
	d.filed = append(d.filed, d.ballot)
	return truncated, nil
}

func (d *disk) apply(e Entry) error {
	if e.Decree != d.appliedDecree()+1 {
		return fmt.Errorf("apply %v after %d", e, d.appliedDecree())
	}
	if !d.logEntry(e.Decree) || d.log[e.Decree-d.logFirst].Ballot != e.Ballot {
		return fmt.Errorf("apply %v which is not in the durable log", e)
	}
	d.applied = append(d.applied, e)
	return nil
}

// appliedRequest returns the decree storage applied request id at: storage
// keeps the request ids of what it applied, as the replica server's store
// keeps request records.
func (d *disk) appliedRequest(id RequestID) (Decree, bool) {
	if id.IsZero() {
		return 0, false
	}
	for i := len(d.applied) - 1; i >= 0; i-- {
		if d.applied[i].RequestID == id {
			return d.applied[i].Decree, true
		}
	}
	return 0, false
}

// read returns the effective log entries from..to.
func (d *disk) read(from, to Decree) ([]Entry, error) {
	if from < d.logFirst || to > d.logLast() || from > to {
		return nil, fmt.Errorf("log holds %d..%d, not %d..%d", d.logFirst, d.logLast(), from, to)
	}
	return slices.Clone(d.log[from-d.logFirst : to-d.logFirst+1]), nil
}

// gc discards log entries up to to, which storage must hold.
func (d *disk) gc(to Decree) {
	to = min(to, d.appliedDecree(), d.logLast())
	if to < d.logFirst {
		return
	}
	d.log = slices.Clone(d.log[to-d.logFirst+1:])
	d.filed = slices.Clone(d.filed[to-d.logFirst+1:])
	d.logFirst = to + 1
}

// installCheckpoint replaces storage with src's and empties the log.
func (d *disk) installCheckpoint(src *disk) Decree {
	d.applied = slices.Clone(src.applied)
	d.log, d.filed = nil, nil
	d.logFirst = d.appliedDecree() + 1
	return d.appliedDecree()
}

func (d *disk) durableState() DurableState {
	return DurableState{HardState: d.hard, AppliedDecree: d.appliedDecree(), Entries: slices.Clone(d.log)}
}

// at returns the durable copy of decree x (storage first, then the log).
func (d *disk) at(x Decree) (Entry, bool) {
	if x >= 1 && x <= d.appliedDecree() {
		return d.applied[x-1], true
	}
	if d.logEntry(x) {
		return d.log[x-d.logFirst], true
	}
	return Entry{}, false
}

type node struct {
	id          NodeID
	r           *Replica // nil while crashed
	disk        *disk
	incarnation int
	// offset is where this node's clock stands against the simulation's:
	// clocks of different nodes are never compared, so tests give them
	// different origins.
	offset Time
	// isolated: cut off from the meta server since metaLeaseEnd (on its
	// own clock), when its lease from the meta server stopped renewing.
	isolated     bool
	metaLeaseEnd Time
	// isolatedSince is the simulation's time of the isolation (for the
	// fake meta server's failure detector).
	isolatedSince Time
	// cut: the network loses every message to or from the node.
	cut   bool
	ready *Ready // outstanding Ready, between startReady and finishReady
}

// job is driver work that completes after the Ready that asked for it.
type job struct {
	node NodeID
	read *LogRead
	ckpt *CheckpointRequest
}

// cluster is N replicas of one partition, the network between them and a
// fake meta server.
type cluster struct {
	cfg   Config // template; ID is set per node
	nodes map[NodeID]*node
	ids   []NodeID
	net   []Message
	meta  Configuration
	// proposals are ConfigProposals on their way to the meta server.
	proposals []proposalFrom
	jobs      []job
	// deferJobs leaves jobs queued instead of running them at once.
	deferJobs bool
	// writeOrder selects the disks' replay rule (see disk).
	writeOrder bool
	check      *checker
	out        io.Writer // trace, nil to keep quiet
	nextSeq    uint64
	// now counts ticks; clock is the simulation's time, which ticks advance
	// by tickLen and which may also jump (a driver paused).
	now   int64
	clock Time
	// onReply, if set, sees every reply a node hands out.
	onReply func(from NodeID, rp Reply)
	// incarnations counts the incarnations drawn.
	incarnations uint64
}

type proposalFrom struct {
	from NodeID
	p    ConfigProposal
}

// tickLen is the time a tick stands for in the simulation.
const tickLen = 100 * time.Millisecond

// clockStart is the simulation's time at the start: far from zero, so that
// a time of zero (no lease) is never mistaken for a real one.
const clockStart = Time(1000 * time.Second)

func newCluster(cfg Config) *cluster {
	return &cluster{cfg: cfg, nodes: make(map[NodeID]*node), check: newChecker(), clock: clockStart}
}

// timeOf is node n's clock.
func (c *cluster) timeOf(n *node) Time { return c.clock + n.offset }

// advance moves the simulation's time by d without ticking anyone: every
// driver was paused meanwhile.
func (c *cluster) advance(d time.Duration) { c.clock = c.clock.Add(d) }

// metaLease is the end of node n's lease from the meta server: renewed
// continuously while it is connected (the fake meta server's failure
// detector is perfect), frozen once it is cut off.
func (c *cluster) metaLease(n *node) Time {
	if n.isolated {
		return n.metaLeaseEnd
	}
	return c.timeOf(n).Add(c.cfg.Lease)
}

// isolate cuts node n off from the meta server now, or reconnects it.
func (c *cluster) isolate(n *node, cut bool) {
	if cut && !n.isolated {
		n.metaLeaseEnd = c.metaLease(n)
	}
	n.isolated = cut
}

// tickAll advances time by one tick and ticks the live nodes in ids.
func (c *cluster) tickAll(ids []NodeID) {
	c.now++
	c.advance(tickLen)
	for _, id := range ids {
		if n := c.nodes[id]; n != nil && n.r != nil {
			n.r.Tick(c.timeOf(n))
		}
	}
}

func (c *cluster) tracef(format string, args ...any) {
	if c.out != nil {
		fmt.Fprintf(c.out, format, args...)
	}
}

func (c *cluster) addNode(id NodeID) error { return c.addNodeAt(id, 0) }

// addNodeAt adds node id whose clock is offset from the simulation's.
func (c *cluster) addNodeAt(id NodeID, offset Time) error {
	if _, ok := c.nodes[id]; ok {
		return fmt.Errorf("node %s exists", id)
	}
	dk := newDisk(c.nextIncarnation())
	dk.writeOrder = c.writeOrder
	n := &node{id: id, disk: dk, incarnation: 1, offset: offset}
	c.nodes[id] = n
	cfg := c.cfg
	cfg.ID, cfg.Incarnation = id, dk.incarnation
	r, err := New(cfg, DurableState{}, c.timeOf(n))
	if err != nil {
		return err
	}
	n.r = r
	c.ids = append(c.ids, id)
	slices.Sort(c.ids)
	return nil
}

func (c *cluster) alive(id NodeID) bool {
	n, ok := c.nodes[id]
	return ok && n.r != nil
}

// crash loses everything but the disk; jobs in progress die with the node.
func (c *cluster) crash(id NodeID) {
	c.tracef("crash %s\n", id)
	c.nodes[id].r = nil
	c.nodes[id].ready = nil
	c.jobs = slices.DeleteFunc(c.jobs, func(j job) bool { return j.node == id })
}

// nextIncarnation draws a fresh replica incarnation (deterministically).
func (c *cluster) nextIncarnation() uint64 {
	c.incarnations++
	return 0xa000 + c.incarnations
}

// wipe crashes node id and gives it a new, empty disk: its replica was
// deleted and created again (a new incarnation), as a removal racing a
// configuration push can do.
func (c *cluster) wipe(id NodeID) error {
	n := c.nodes[id]
	if n.r != nil {
		c.crash(id)
	}
	dk := newDisk(c.nextIncarnation())
	dk.writeOrder = c.writeOrder
	n.disk = dk
	return c.restart(id)
}

func (c *cluster) restart(id NodeID) error {
	n := c.nodes[id]
	cfg := c.cfg
	cfg.ID, cfg.Incarnation = id, n.disk.incarnation
	r, err := New(cfg, n.disk.durableState(), c.timeOf(n))
	if err != nil {
		return err
	}
	n.r = r
	n.incarnation++
	c.tracef("restart %s\n", r.Debug())
	return nil
}

// hardStateText formats a HardState on one line.
func hardStateText(h HardState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ballot=%d primary=%s member=%d", h.Ballot, h.Primary, h.MemberBallot)
	if len(h.Holds) > 0 {
		b.WriteString(" holds=[")
		for i, hr := range h.Holds {
			if i > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%s@b%d", hr.Primary, hr.Ballot)
		}
		b.WriteByte(']')
	}
	return b.String()
}

// entryText formats an entry with its payload.
func entryText(e Entry) string {
	if len(e.Data) == 0 {
		return e.String()
	}
	return fmt.Sprintf("%s(%s)", e, e.Data)
}

// processReady runs node id's Ready through the simulated driver. With
// crashAfter >= 0 the node crashes once its ballot is persisted, its messages
// sent and crashAfter of its entries written, before the rest of the Ready
// is carried out.
func (c *cluster) processReady(id NodeID, crashAfter int) error {
	if err := c.startReady(id); err != nil {
		return err
	}
	return c.finishReady(id, crashAfter, false)
}

// startReady takes node id's Ready, persists its ballot and sends its
// messages: what a driver does first. The rest (finishReady) may happen
// later, with other inputs reaching the replica in between. It is called
// only when HasReady says there is work, and checks that there is.
func (c *cluster) startReady(id NodeID) error {
	n := c.nodes[id]
	rd := n.r.Ready()
	n.ready = &rd
	if rd.HardState.IsZero() && len(rd.Entries)+len(rd.Messages)+len(rd.Committed)+len(rd.Replies)+
		len(rd.ConfigProposals)+len(rd.LogReads)+len(rd.CheckpointRequests) == 0 {
		return fmt.Errorf("node %s: HasReady with an empty Ready: %s", id, n.r.Debug())
	}
	c.tracef("> %s ready\n", id)
	if !rd.HardState.IsZero() {
		n.disk.hard = rd.HardState
		n.disk.ballot = rd.HardState.Ballot
		c.tracef("  persist %s\n", hardStateText(rd.HardState))
	}
	for _, m := range rd.Messages {
		c.tracef("  send %s\n", m)
		c.net = append(c.net, m)
	}
	return nil
}

// finishReady writes the entries of node id's outstanding Ready, applies,
// replies, hands out its requests and calls Advance.
func (c *cluster) finishReady(id NodeID, crashAfter int, header bool) error {
	n := c.nodes[id]
	rd := *n.ready
	n.ready = nil
	if header {
		c.tracef("> %s ready (rest)\n", id)
	}
	if len(rd.Entries) > 0 {
		var b strings.Builder
		for i, e := range rd.Entries {
			if crashAfter >= 0 && i == crashAfter {
				break
			}
			b.WriteString(" " + entryText(e))
			truncated, err := n.disk.write(e)
			if err != nil {
				return fmt.Errorf("node %s: %w", id, err)
			}
			if err := c.check.persisted(id, e); err != nil {
				return err
			}
			if truncated != 0 && c.meta.HasMember(id) {
				if err := c.check.ackedDurableOn(n, truncated); err != nil {
					return err
				}
			}
		}
		c.tracef("  log%s\n", b.String())
	}
	if crashAfter >= 0 {
		c.tracef("  crash\n")
		c.crash(id)
		return nil
	}
	if len(rd.Committed) > 0 {
		var b strings.Builder
		for _, e := range rd.Committed {
			b.WriteString(" " + entryText(e))
			if err := n.disk.apply(e); err != nil {
				return fmt.Errorf("node %s: %w", id, err)
			}
			if err := c.check.applied(id, e); err != nil {
				return err
			}
		}
		c.tracef("  apply%s\n", b.String())
	}
	for _, rp := range rd.Replies {
		if err := c.reply(id, rp); err != nil {
			return err
		}
	}
	for _, p := range rd.ConfigProposals {
		c.tracef("  propose %s\n", p)
		c.proposals = append(c.proposals, proposalFrom{from: id, p: p})
	}
	for _, lr := range rd.LogReads {
		c.tracef("  log-read for %s %d..%d\n", lr.For, lr.From, lr.To)
		c.jobs = append(c.jobs, job{node: id, read: &lr})
	}
	for _, cr := range rd.CheckpointRequests {
		c.tracef("  checkpoint-request from %s\n", cr.From)
		c.jobs = append(c.jobs, job{node: id, ckpt: &cr})
	}
	n.r.Advance(rd)
	if err := diskMatchesReplica(n); err != nil {
		return err
	}
	if !c.deferJobs {
		for len(c.jobs) > 0 {
			if err := c.runJob(0); err != nil {
				return err
			}
		}
	}
	return nil
}

// diskMatchesReplica checks that what the replica counts as durable is what
// its disk would replay.
func diskMatchesReplica(n *node) error {
	l := &n.r.log
	for d := l.first; d <= l.stable; d++ {
		e, _ := l.at(d)
		got, ok := n.disk.at(d)
		if !ok || got.Ballot != e.Ballot {
			return fmt.Errorf("node %s: durable %v replays as %v (%v)", n.id, *e, got, ok)
		}
	}
	return nil
}

// reply hands out a reply of node id to its client and checks it.
func (c *cluster) reply(id NodeID, rp Reply) error {
	c.tracef("  reply %s\n", rp)
	if c.onReply != nil {
		c.onReply(id, rp)
	}
	if rp.Err != nil {
		return nil
	}
	if err := c.check.acked(rp); err != nil {
		return err
	}
	for _, m := range c.members() {
		if err := c.check.ackedDurableAt(c.nodes[m], rp.Decree); err != nil {
			return err
		}
	}
	return nil
}

// runJob completes the i-th queued job.
func (c *cluster) runJob(i int) error {
	j := c.jobs[i]
	c.jobs = slices.Delete(c.jobs, i, i+1)
	n := c.nodes[j.node]
	if n.r == nil {
		return nil
	}
	switch {
	case j.read != nil:
		entries, err := n.disk.read(j.read.From, j.read.To)
		if err != nil {
			c.tracef("  log-read for %s %d..%d failed: %v\n", j.read.For, j.read.From, j.read.To, err)
		}
		n.r.LogReadResult(*j.read, entries, err)
	case j.ckpt != nil:
		src := c.nodes[j.ckpt.From]
		if src == nil || src.r == nil {
			c.tracef("  %s: checkpoint source %s is down\n", j.node, j.ckpt.From)
			return nil
		}
		decree := src.disk.appliedDecree()
		if err := n.r.InstallCheckpoint(*j.ckpt, decree); err != nil {
			if errors.Is(err, ErrReadyOutstanding) {
				c.jobs = append(c.jobs, j) // try again later
				return nil
			}
			if errors.Is(err, ErrCheckpointNotWanted) {
				c.tracef("  %s: discard checkpoint of %s: %v\n", j.node, src.id, err)
				return nil
			}
			return err
		}
		n.disk.installCheckpoint(src.disk)
		c.tracef("  %s: installed checkpoint of %s at %d\n", j.node, src.id, decree)
		return c.check.checkpoint(j.node, n.disk)
	}
	return nil
}

// deliver hands the i-th message in flight to its recipient.
func (c *cluster) deliver(i int) error {
	m := c.net[i]
	c.net = slices.Delete(c.net, i, i+1)
	n, ok := c.nodes[m.To]
	if !ok || n.r == nil {
		c.tracef("  drop %s (down)\n", m)
		return nil
	}
	if n.cut || (c.nodes[m.From] != nil && c.nodes[m.From].cut) {
		c.tracef("  drop %s (cut off)\n", m)
		return nil
	}
	err := n.r.Step(c.timeOf(n), m)
	if err != nil && !errors.Is(err, ErrStaleBallot) {
		return fmt.Errorf("node %s stepping %s: %w", m.To, m, err)
	}
	c.tracef("  deliver %s\n", m)
	return nil
}

// propose submits a write at node id. Like the replica server, the driver
// answers a request its storage already applied from there, and hands the
// others to the core (doc.go, exactly-once).
func (c *cluster) propose(id NodeID, rid RequestID, data string) (Decree, error) {
	n := c.nodes[id]
	if n.r == nil {
		return 0, fmt.Errorf("node %s is down", id)
	}
	if d, ok := n.disk.appliedRequest(rid); ok && n.r.Writable() == nil {
		c.tracef("%s: %s applied at decree %d\n", id, rid, d)
		return d, c.reply(id, Reply{ID: rid, Decree: d, Duplicate: true})
	}
	d, err := n.r.Propose(rid, []byte(data), c.now)
	if err != nil {
		c.tracef("%s: %s refused: %v\n", id, rid, err)
	} else {
		c.tracef("%s: %s -> decree %d\n", id, rid, d)
	}
	if err == nil {
		if cerr := c.check.accepted(n); cerr != nil {
			return 0, cerr
		}
	}
	return d, err
}

// members lists the meta server's current members.
func (c *cluster) members() []NodeID {
	var ms []NodeID
	if c.meta.Primary != "" {
		ms = append(ms, c.meta.Primary)
	}
	return append(ms, c.meta.Secondaries...)
}

// setConfig makes cfg (ballot ignored) the meta server's next configuration
// and returns it.
func (c *cluster) setConfig(primary NodeID, secondaries []NodeID) (Configuration, error) {
	prev := c.meta
	next := Configuration{Ballot: prev.Ballot + 1, Primary: primary, Secondaries: slices.Clone(secondaries)}
	if err := next.validate(); err != nil {
		return prev, err
	}
	c.meta = next
	c.tracef("meta: b%d primary=%s secondaries=%v\n", next.Ballot, next.Primary, next.Secondaries)
	// Every member of the new configuration must hold every acknowledged
	// write; this is the property the protocol exists for.
	for _, m := range c.members() {
		if err := c.check.ackedDurableOn(c.nodes[m], 1); err != nil {
			return prev, err
		}
	}
	return next, nil
}

// pushConfig delivers the meta configuration to the nodes concerned (its
// members and those of prev) directly.
func (c *cluster) pushConfig(prev Configuration) error {
	targets := append(c.members(), prev.Primary)
	targets = append(targets, prev.Secondaries...)
	slices.Sort(targets)
	targets = slices.Compact(targets)
	for _, id := range targets {
		if id == "" || !c.alive(id) {
			continue
		}
		if err := c.pushTo(id, c.meta); err != nil {
			return err
		}
	}
	return nil
}

// pushTo delivers cfg to node id, if it is up.
func (c *cluster) pushTo(id NodeID, cfg Configuration) error {
	if !c.alive(id) {
		return nil
	}
	err := c.nodes[id].r.UpdateConfig(cfg)
	if err != nil && !errors.Is(err, ErrStaleBallot) {
		return fmt.Errorf("node %s config b%d: %w", id, cfg.Ballot, err)
	}
	c.tracef("  push b%d to %s: %s\n", cfg.Ballot, id, c.nodes[id].r.Status())
	return nil
}

// applyProposal is the fake meta server's handling of a primary's proposal.
// It validates like Pegasus' partition_guardian: current ballot, sent by the
// primary, node in the right role.
func (c *cluster) applyProposal(pf proposalFrom) (applied bool, err error) {
	p, cur := pf.p, c.meta
	if p.Ballot != cur.Ballot || pf.from != cur.Primary {
		return false, nil
	}
	secondaries := slices.Clone(cur.Secondaries)
	switch p.Type {
	case ConfigDowngradeToInactive:
		if !slices.Contains(secondaries, p.Node) {
			return false, nil
		}
		secondaries = slices.DeleteFunc(secondaries, func(n NodeID) bool { return n == p.Node })
	case ConfigUpgradeToSecondary:
		if cur.HasMember(p.Node) {
			return false, nil
		}
		// The meta server checks that the copy the primary saw catch up is
		// the one the node reports now.
		if n := c.nodes[p.Node]; p.Incarnation != 0 && n != nil && n.disk.incarnation != p.Incarnation {
			return false, nil
		}
		secondaries = append(secondaries, p.Node)
	case ConfigForceUpdateBallot:
		if p.Node != cur.Primary {
			return false, nil
		}
	default:
		return false, nil
	}
	if _, err := c.setConfig(cur.Primary, secondaries); err != nil {
		return false, err
	}
	return true, nil
}

// checker verifies the safety properties as the cluster runs.
type checker struct {
	// history is the committed entry at each decree, as first applied.
	history map[Decree]Entry
	// idDecree is the decree each request id was applied at.
	idDecree map[RequestID]Decree
	// ackedIDs are the writes a client was told committed.
	ackedIDs map[RequestID]Decree
	ackedAt  map[Decree]RequestID
	maxAcked Decree
	// identity is the content of each (ballot, decree) ever persisted.
	identity map[[2]int64]string
	// writer is the node (and incarnation) that accepted writes in a ballot.
	writer map[Ballot]string
}

func newChecker() *checker {
	return &checker{
		history:  make(map[Decree]Entry),
		idDecree: make(map[RequestID]Decree),
		ackedIDs: make(map[RequestID]Decree),
		ackedAt:  make(map[Decree]RequestID),
		identity: make(map[[2]int64]string),
		writer:   make(map[Ballot]string),
	}
}

func content(e Entry) string { return fmt.Sprintf("%s/%d/%q", e.RequestID, e.Timestamp, e.Data) }

// persisted: an entry id denotes one mutation, wherever it is written.
func (k *checker) persisted(id NodeID, e Entry) error {
	key := [2]int64{int64(e.Ballot), int64(e.Decree)}
	if prev, ok := k.identity[key]; ok && prev != content(e) {
		return fmt.Errorf("node %s persisted %s as %s, elsewhere it is %s", id, e, content(e), prev)
	}
	k.identity[key] = content(e)
	return nil
}

// applied: every replica applies a prefix of one history, and a request id
// is applied at most once in it.
func (k *checker) applied(id NodeID, e Entry) error {
	if h, ok := k.history[e.Decree]; ok {
		if content(h) != content(e) {
			return fmt.Errorf("node %s applied %s=%s, history has %s=%s", id, e, content(e), h, content(h))
		}
		return nil
	}
	k.history[e.Decree] = e
	if !e.RequestID.IsZero() {
		if d, ok := k.idDecree[e.RequestID]; ok && d != e.Decree {
			return fmt.Errorf("request %s applied twice, at %d and %d", e.RequestID, d, e.Decree)
		} else if !ok {
			k.idDecree[e.RequestID] = e.Decree
		}
	}
	if rid, ok := k.ackedAt[e.Decree]; ok && rid != e.RequestID {
		return fmt.Errorf("decree %d acknowledged for %s, applied as %s", e.Decree, rid, e.RequestID)
	}
	return nil
}

// acked: a write is acknowledged once, at the decree history gives it.
func (k *checker) acked(rp Reply) error {
	if d, ok := k.ackedIDs[rp.ID]; ok && d != rp.Decree && !rp.ID.IsZero() {
		return fmt.Errorf("request %s acknowledged at %d and %d", rp.ID, d, rp.Decree)
	}
	if h, ok := k.history[rp.Decree]; ok && h.RequestID != rp.ID {
		return fmt.Errorf("request %s acknowledged at %d, which holds %s", rp.ID, rp.Decree, h.RequestID)
	}
	k.ackedIDs[rp.ID] = rp.Decree
	k.ackedAt[rp.Decree] = rp.ID
	k.maxAcked = max(k.maxAcked, rp.Decree)
	return nil
}

// ackedDurableOn: node n's disk holds every acknowledged write at decrees
// >= from, as history has it.
func (k *checker) ackedDurableOn(n *node, from Decree) error {
	for d := max(from, 1); d <= k.maxAcked; d++ {
		if err := k.ackedDurableAt(n, d); err != nil {
			return err
		}
	}
	return nil
}

// ackedDurableAt: node n's disk holds the acknowledged write at decree d.
func (k *checker) ackedDurableAt(n *node, d Decree) error {
	if rid, ok := k.ackedAt[d]; ok {
		e, ok := n.disk.at(d)
		if !ok || e.RequestID != rid {
			return fmt.Errorf("member %s lost acknowledged write %s at decree %d", n.id, rid, d)
		}
		if h, ok := k.history[d]; ok && content(h) != content(e) {
			return fmt.Errorf("member %s holds %s at decree %d, history has %s", n.id, content(e), d, content(h))
		}
	}
	return nil
}

// checkpoint: an installed checkpoint is a prefix of history.
func (k *checker) checkpoint(id NodeID, d *disk) error {
	for _, e := range d.applied {
		if h, ok := k.history[e.Decree]; ok && content(h) != content(e) {
			return fmt.Errorf("node %s installed a checkpoint with %s, history has %s", id, e, h)
		}
	}
	return nil
}

// accepted: one node (in one incarnation) accepts writes in a ballot.
func (k *checker) accepted(n *node) error {
	b := n.r.Ballot()
	who := fmt.Sprintf("%s#%d", n.id, n.incarnation)
	if prev, ok := k.writer[b]; ok && prev != who {
		return fmt.Errorf("ballot %d: both %s and %s accepted writes", b, prev, who)
	}
	k.writer[b] = who
	return nil
}

// finalCheck verifies that every member of the configuration durably holds
// every acknowledged write at its decree, and applied a prefix of history.
// With requireApplied, members must also have applied every acknowledged
// write.
func (c *cluster) finalCheck(requireApplied bool) error {
	maxAcked := c.check.maxAcked
	for _, id := range c.members() {
		n := c.nodes[id]
		if requireApplied && n.disk.appliedDecree() < maxAcked {
			return fmt.Errorf("member %s applied %d, writes are acknowledged up to %d",
				id, n.disk.appliedDecree(), maxAcked)
		}
		for _, e := range n.disk.applied {
			if h := c.check.history[e.Decree]; content(h) != content(e) {
				return fmt.Errorf("member %s applied %s=%s, history has %s", id, e, content(e), content(h))
			}
		}
		if err := c.check.ackedDurableOn(n, 1); err != nil {
			return err
		}
	}
	return nil
}
