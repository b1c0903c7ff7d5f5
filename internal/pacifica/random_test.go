package pacifica

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

var (
	randomSeed  = flag.Int64("seed", 0, "TestRandomized: seed to run (0: one from the clock, plus neighbours)")
	randomSteps = flag.Int("steps", 0, "TestRandomized: steps per run (default 10000, 100000 with PACIFICA_LONG=1)")
)

// TestRandomized runs 3 to 5 replicas, clients retrying their writes, and a
// fake meta server through random schedules: messages delivered out of order,
// dropped and duplicated; replicas crashing (possibly halfway through writing
// a Ready) and restarting from their disks; members removed, promoted,
// swapped and re-added through learning, from the on-disk log or a
// checkpoint. After every step it checks that
//   - every acknowledged write is durable on every member of the current
//     configuration (so no failure the protocol tolerates can lose it),
//   - every replica applies a prefix of one history, each request once,
//   - one node accepts writes per ballot, and an entry id names one mutation,
//   - any replica that may serve a read now (its lease from its members, or
//     a lone primary's lease from the meta server, valid at its current
//     time) has applied every acknowledged write: no stale read, even from a
//     deposed primary cut off from the meta server, and no read by a
//     primary while a configuration excluding it commits,
//   - every replica is internally consistent,
//
// and, once faults stop, that the group heals: all nodes become members,
// every client write is acknowledged and applied everywhere.
//
// A failure prints the seed; rerun it with -seed. PACIFICA_LONG=1 runs more
// and longer schedules; PACIFICA_RUNS=N sets the number of schedules.
func TestRandomized(t *testing.T) {
	seed, runs, steps := *randomSeed, 6, 50000
	if os.Getenv("PACIFICA_LONG") != "" {
		runs, steps = 50, 100000
	}
	if n, err := strconv.Atoi(os.Getenv("PACIFICA_RUNS")); err == nil && n > 0 {
		runs = n
	}
	if seed == 0 {
		seed = time.Now().UnixNano() % 1_000_000_000
	} else {
		runs = 1
	}
	if *randomSteps > 0 {
		steps = *randomSteps
	}
	for i := 0; i < runs; i++ {
		s := seed + int64(i)
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			sim := newSim(s)
			if err := sim.run(steps); err != nil {
				t.Fatalf("seed %d (rerun: go test ./internal/pacifica -run TestRandomized -seed %d): %v\n%s",
					s, s, err, sim.dump())
			}
			t.Logf("seed %d: %d nodes, %s, inflight %d, batch %d, cache %d, %d steps: %s", s, len(sim.c.ids),
				sim.profile, sim.c.cfg.MaxInflight, sim.c.cfg.MaxBatchEntries, sim.c.cfg.CacheEntries, steps, sim.stats)
		})
	}
}

// regressionSeeds are schedules that once broke a property, kept so that
// they run on every change.
var regressionSeeds = []struct {
	seed int64
	why  string
}{
	{423753421, "a secondary answered a retry from its storage before the primary had applied " +
		"the write; a read at the primary then missed an acknowledged write"},
}

func TestRandomizedRegressionSeeds(t *testing.T) {
	for _, rs := range regressionSeeds {
		if err := newSim(rs.seed).run(50000); err != nil {
			t.Errorf("seed %d (%s): %v", rs.seed, rs.why, err)
		}
	}
}

type request struct {
	id      RequestID
	data    string
	lastTry int // step of the last attempt
}

// metaMsg is the meta server's traffic to a node: a configuration push or an
// add-learner command for the primary.
type metaMsg struct {
	to      NodeID
	cfg     *Configuration
	learner NodeID
	ballot  Ballot
}

type simStats struct {
	acked, configs, crashes, checkpoints, logReads int
	// Steps at which a node could serve reads on its members' lease, on
	// the meta server's lease, or was a primary held back by an old
	// primary's possible lease.
	memberLeaseReads, metaLeaseReads, heldBack int
}

func (s simStats) String() string {
	return fmt.Sprintf("%d writes acknowledged, %d configurations, %d crashes, %d log reads, %d checkpoints; "+
		"readable steps: %d on members' lease, %d on the meta server's; %d steps held back by an old primary",
		s.acked, s.configs, s.crashes, s.logReads, s.checkpoints, s.memberLeaseReads, s.metaLeaseReads, s.heldBack)
}

type sim struct {
	c       *cluster
	trace   *traceRing
	profile string
	weights [numActions]int
	rng     *rand.Rand
	step    int
	pending []*request
	nextReq uint64
	metaNet []metaMsg
	stats   simStats
}

func newSim(seed int64) *sim {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	pick := func(vs ...int) int { return vs[rng.IntN(len(vs))] }
	cfg := Config{
		MinReplicaCount:     1,
		MaxInflight:         pick(4, 16, 64),
		MaxBatchEntries:     pick(1, 2, 4, 8),
		CacheEntries:        pick(8, 24, 100),
		GroupCheckTicks:     5,
		PrepareRetryTicks:   2,
		PrepareTimeoutTicks: 10,
		LearnTimeoutTicks:   40,
		ProposalRetryTicks:  4,
		Lease:               2 * time.Second,
		Grace:               2500 * time.Millisecond,
	}
	s := &sim{c: newCluster(cfg), rng: rng, trace: &traceRing{max: 1000}}
	s.c.deferJobs = true
	s.c.writeOrder = rng.IntN(2) == 0
	s.c.out = s.trace
	n := 3 + rng.IntN(3)
	for i := 1; i <= n; i++ {
		// Clocks with unrelated origins: nothing may compare two of them.
		offset := Time(rng.Int64N(int64(time.Hour)))
		if err := s.c.addNodeAt(NodeID(fmt.Sprint(i)), offset); err != nil {
			panic(err)
		}
	}
	s.c.onReply = s.onReply
	names := []string{"calm", "mixed", "stormy"}
	s.profile = names[rng.IntN(len(names))]
	s.weights = profiles[s.profile]
	return s
}

func (s *sim) onReply(_ NodeID, rp Reply) {
	if rp.Err != nil {
		return
	}
	s.stats.acked++
	s.pending = slices.DeleteFunc(s.pending, func(r *request) bool { return r.id == rp.ID })
}

func (s *sim) run(steps int) error {
	// Start with every node a member.
	ids := s.c.ids
	if err := s.setConfig(ids[0], ids[1:]); err != nil {
		return err
	}
	for s.step = 0; s.step < steps; s.step++ {
		s.c.tracef("step %d\n", s.step)
		if err := s.randomStep(); err != nil {
			return fmt.Errorf("step %d: %w", s.step, err)
		}
		if err := s.checkStep(); err != nil {
			return fmt.Errorf("step %d: %w", s.step, err)
		}
	}
	return s.heal()
}

// action is one kind of random step.
type action int

const (
	actDeliver action = iota
	actReady
	actWrite
	actTick
	actDrop
	actDuplicate
	actMetaProposal
	actMetaCure
	actMetaTraffic
	actJob
	actCrash
	actRestart
	actGC
	actHandover
	actDowngrade
	actIsolate
	actPause
	numActions
)

// profiles weigh the actions; each run picks one, so some schedules are
// mostly failure-free traffic and others mostly faults.
var profiles = map[string][numActions]int{
	"calm": {actDeliver: 330, actReady: 250, actWrite: 150, actTick: 60, actDrop: 5,
		actDuplicate: 5, actMetaProposal: 40, actMetaCure: 20, actMetaTraffic: 40, actJob: 30,
		actCrash: 1, actRestart: 10, actGC: 5, actHandover: 3, actDowngrade: 1, actIsolate: 1, actPause: 1},
	"mixed": {actDeliver: 330, actReady: 250, actWrite: 100, actTick: 80, actDrop: 30,
		actDuplicate: 20, actMetaProposal: 40, actMetaCure: 30, actMetaTraffic: 40, actJob: 30,
		actCrash: 5, actRestart: 17, actGC: 10, actHandover: 8, actDowngrade: 7, actIsolate: 4, actPause: 3},
	"stormy": {actDeliver: 330, actReady: 250, actWrite: 100, actTick: 100, actDrop: 80,
		actDuplicate: 40, actMetaProposal: 40, actMetaCure: 30, actMetaTraffic: 40, actJob: 30,
		actCrash: 12, actRestart: 30, actGC: 20, actHandover: 20, actDowngrade: 15, actIsolate: 8, actPause: 6},
}

func (s *sim) pickAction() action {
	total := 0
	for _, w := range s.weights {
		total += w
	}
	x := s.rng.IntN(total)
	for a, w := range s.weights {
		if x < w {
			return action(a)
		}
		x -= w
	}
	panic("unreachable")
}

// randomStep performs one random action.
func (s *sim) randomStep() error {
	c, rng := s.c, s.rng
	switch s.pickAction() {
	case actDeliver: // in any order
		if len(c.net) > 0 {
			return c.deliver(rng.IntN(len(c.net)))
		}
	case actReady: // a driver takes a Ready, or finishes writing one
		// Writing is slow: a Ready often stays outstanding while the node
		// keeps receiving messages.
		if id, ok := s.busyNode(); ok && rng.IntN(3) == 0 {
			return c.finishReady(id, -1, true)
		}
		if id, ok := s.readyNode(); ok {
			if rng.IntN(3) == 0 {
				return c.processReady(id, -1)
			}
			return c.startReady(id)
		}
	case actWrite:
		return s.clientWrite()
	case actTick:
		c.tracef("tick\n")
		c.tickAll(c.ids)
	case actPause: // every driver stalls while time runs on
		d := time.Duration(1+rng.IntN(20)) * tickLen
		if rng.IntN(4) == 0 {
			d = time.Duration(rng.Int64N(int64(2 * c.cfg.Grace)))
		}
		c.tracef("pause %v\n", d)
		c.advance(d)
	case actIsolate: // cut a node off from the meta server, its peers or both; or reconnect it
		if id, ok := s.randomNode(true); ok {
			n := c.nodes[id]
			if n.isolated || n.cut {
				c.isolate(n, false)
				n.cut = false
			} else {
				mode := rng.IntN(3)
				c.isolate(n, mode != 1)
				n.cut = mode != 0
				n.isolatedSince = c.clock
			}
			c.tracef("%s isolated=%v cut=%v\n", id, n.isolated, n.cut)
		}
	case actDrop:
		if len(c.net) > 0 {
			i := rng.IntN(len(c.net))
			c.tracef("lose %s\n", c.net[i])
			c.net = slices.Delete(c.net, i, i+1)
		}
	case actDuplicate:
		if len(c.net) > 0 {
			c.net = append(c.net, c.net[rng.IntN(len(c.net))])
		}
	case actMetaProposal: // the meta server handles (or loses) a proposal
		if len(c.proposals) > 0 {
			i := rng.IntN(len(c.proposals))
			pf := c.proposals[i]
			c.proposals = slices.Delete(c.proposals, i, i+1)
			if rng.IntN(10) > 0 && !c.nodes[pf.from].isolated {
				prev := c.meta
				applied, err := c.applyProposal(pf)
				if err != nil {
					return err
				}
				if applied {
					s.configChanged(prev)
				}
			}
		}
	case actMetaCure:
		return s.metaCure()
	case actMetaTraffic: // meta traffic arrives, or a periodic config sync
		if len(s.metaNet) > 0 && rng.IntN(4) > 0 {
			i := rng.IntN(len(s.metaNet))
			mm := s.metaNet[i]
			s.metaNet = slices.Delete(s.metaNet, i, i+1)
			if rng.IntN(10) > 0 {
				return s.deliverMeta(mm)
			}
		} else {
			cfg := c.meta
			s.metaNet = append(s.metaNet, metaMsg{to: c.ids[rng.IntN(len(c.ids))], cfg: &cfg})
		}
	case actJob: // a log read or checkpoint copy completes
		if len(c.jobs) > 0 {
			if c.jobs[0].read != nil {
				s.stats.logReads++
			} else {
				s.stats.checkpoints++
			}
			return c.runJob(0)
		}
	case actCrash: // possibly halfway through writing a Ready
		if id, ok := s.randomNode(true); ok && s.liveCount() > 1 {
			s.stats.crashes++
			if c.nodes[id].ready != nil && rng.IntN(2) == 0 {
				return c.finishReady(id, rng.IntN(3), true)
			}
			c.crash(id)
		}
	case actRestart:
		if id, ok := s.randomNode(false); ok {
			return c.restart(id)
		}
	case actGC: // the log is garbage-collected below what storage holds
		if id, ok := s.randomNode(true); ok {
			d := c.nodes[id].disk
			to := d.appliedDecree() - Decree(rng.IntN(6))
			d.gc(to)
			c.tracef("gc %s log to %d\n", id, d.logFirst-1)
		}
	case actHandover: // graceful handover of the primary role
		return s.handover()
	case actDowngrade: // the meta server removes a secondary
		if len(c.meta.Secondaries) >= 2 {
			secs := slices.Clone(c.meta.Secondaries)
			i := rng.IntN(len(secs))
			return s.setConfig(c.meta.Primary, slices.Delete(secs, i, i+1))
		}
	}
	return nil
}

// clientWrite sends a new write or retries a pending one, usually at the
// meta server's primary, sometimes at a random node (a stale route).
func (s *sim) clientWrite() error {
	var req *request
	if len(s.pending) < 12 && s.rng.IntN(3) > 0 {
		s.nextReq++
		req = &request{id: RequestID{ClientID: uint64(1 + s.rng.IntN(3)), Seq: s.nextReq},
			data: fmt.Sprintf("v%d", s.nextReq)}
		s.pending = append(s.pending, req)
	} else if len(s.pending) > 0 {
		req = s.pending[s.rng.IntN(len(s.pending))]
		if s.step-req.lastTry < 20 {
			return nil // wait for the answer a little
		}
	} else {
		return nil
	}
	req.lastTry = s.step
	to := s.c.meta.Primary
	if s.rng.IntN(8) == 0 || to == "" {
		to = s.c.ids[s.rng.IntN(len(s.c.ids))]
	}
	if !s.c.alive(to) {
		return nil
	}
	_, err := s.c.propose(to, req.id, req.data)
	var np *NotPrimaryError
	if err != nil && !errors.As(err, &np) && !errors.Is(err, ErrCapacityExceeded) &&
		!errors.Is(err, ErrNotEnoughMembers) {
		return err
	}
	return nil
}

// setConfig installs the meta server's next configuration and pushes it.
func (s *sim) setConfig(primary NodeID, secondaries []NodeID) error {
	prev := s.c.meta
	if _, err := s.c.setConfig(primary, secondaries); err != nil {
		return err
	}
	s.configChanged(prev)
	return nil
}

func (s *sim) configChanged(prev Configuration) {
	s.stats.configs++
	cfg := s.c.meta
	targets := append(s.c.members(), prev.Primary)
	targets = append(targets, prev.Secondaries...)
	for _, id := range targets {
		if id != "" {
			s.metaNet = append(s.metaNet, metaMsg{to: id, cfg: &cfg})
		}
	}
}

func (s *sim) deliverMeta(mm metaMsg) error {
	n := s.c.nodes[mm.to]
	if n.r == nil || n.isolated {
		return nil
	}
	if mm.cfg != nil {
		err := n.r.UpdateConfig(*mm.cfg)
		s.c.tracef("config b%d -> %s: %v => %s\n", mm.cfg.Ballot, mm.to, err, n.r.Debug())
		if err != nil && !errors.Is(err, ErrStaleBallot) {
			return fmt.Errorf("node %s config %+v: %w", mm.to, *mm.cfg, err)
		}
		return nil
	}
	// Refusals (not primary, stale ballot, already a member) are the meta
	// server's cue to try again later.
	err := n.r.AddLearner(mm.learner, mm.ballot)
	s.c.tracef("add-learner %s at %s b%d: %v\n", mm.learner, mm.to, mm.ballot, err)
	return nil
}

// metaSees reports whether the meta server's failure detector holds node id
// alive: it is up and has not been cut off from the meta server for longer
// than the grace period (a node cut off for less still holds the lease of
// its last beacon).
func (s *sim) metaSees(id NodeID) bool {
	n := s.c.nodes[id]
	return n.r != nil && (!n.isolated || s.c.clock.Sub(n.isolatedSince) <= s.c.cfg.Grace)
}

// metaCure is the meta server's guardian with a failure detector that is
// right about crashes and takes a node cut off from it for longer than the
// grace period for dead (it may well be running and talking to its peers):
// promote a secondary when the primary is down, drop dead secondaries, and
// add learners until every node is a member.
func (s *sim) metaCure() error {
	c := s.c
	cur := c.meta
	if cur.Primary == "" || !s.metaSees(cur.Primary) {
		var candidates []NodeID
		for _, sec := range cur.Secondaries {
			if s.metaSees(sec) {
				candidates = append(candidates, sec)
			}
		}
		if len(candidates) == 0 {
			return nil // wait for a member to come back
		}
		p := candidates[s.rng.IntN(len(candidates))]
		secs := slices.DeleteFunc(slices.Clone(cur.Secondaries), func(n NodeID) bool { return n == p })
		return s.setConfig(p, secs)
	}
	for _, sec := range cur.Secondaries {
		if !s.metaSees(sec) && s.rng.IntN(2) == 0 {
			secs := slices.DeleteFunc(slices.Clone(cur.Secondaries), func(n NodeID) bool { return n == sec })
			return s.setConfig(cur.Primary, secs)
		}
	}
	for _, id := range c.ids {
		if !cur.HasMember(id) && s.metaSees(id) {
			s.metaNet = append(s.metaNet, metaMsg{to: cur.Primary, learner: id, ballot: cur.Ballot})
			break
		}
	}
	return nil
}

// handover moves the primary role to a secondary in one ballot (Pegasus
// move_primary), when every member is up.
func (s *sim) handover() error {
	cur := s.c.meta
	if len(cur.Secondaries) == 0 {
		return nil
	}
	for _, m := range s.c.members() {
		if !s.metaSees(m) {
			return nil
		}
	}
	i := s.rng.IntN(len(cur.Secondaries))
	secs := slices.Clone(cur.Secondaries)
	next := secs[i]
	secs[i] = cur.Primary
	return s.setConfig(next, secs)
}

// busyNode picks a node with an outstanding Ready.
func (s *sim) busyNode() (NodeID, bool) {
	var busy []NodeID
	for _, id := range s.c.ids {
		if s.c.alive(id) && s.c.nodes[id].ready != nil {
			busy = append(busy, id)
		}
	}
	if len(busy) == 0 {
		return "", false
	}
	return busy[s.rng.IntN(len(busy))], true
}

// readyNode picks a node with work to hand out.
func (s *sim) readyNode() (NodeID, bool) {
	var ready []NodeID
	for _, id := range s.c.ids {
		if s.c.alive(id) && s.c.nodes[id].ready == nil && s.c.nodes[id].r.HasReady() {
			ready = append(ready, id)
		}
	}
	if len(ready) == 0 {
		return "", false
	}
	return ready[s.rng.IntN(len(ready))], true
}

func (s *sim) randomNode(alive bool) (NodeID, bool) {
	var ids []NodeID
	for _, id := range s.c.ids {
		if s.c.alive(id) == alive {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", false
	}
	return ids[s.rng.IntN(len(ids))], true
}

func (s *sim) liveCount() int {
	n := 0
	for _, id := range s.c.ids {
		if s.c.alive(id) {
			n++
		}
	}
	return n
}

// checkStep verifies the per-step properties not already checked as the
// cluster runs.
func (s *sim) checkStep() error {
	maxAcked := s.c.check.maxAcked
	for _, id := range s.c.ids {
		n := s.c.nodes[id]
		if n.r == nil {
			continue
		}
		if err := n.r.checkInvariants(); err != nil {
			return err
		}
		if n.r.Status() == StatusError {
			return fmt.Errorf("node %s failed: %v", id, n.r.Err())
		}
		// Reads: any replica that may serve a read now must see every
		// acknowledged write, whatever the meta server thinks of it.
		rs := n.r.ReadState()
		readable := rs.Check(s.c.timeOf(n), s.c.metaLease(n)) == nil
		switch {
		case readable && rs.NeedMetaLease:
			s.stats.metaLeaseReads++
		case readable:
			s.stats.memberLeaseReads++
		case errors.Is(rs.Err, ErrOldPrimaryLease):
			s.stats.heldBack++
		}
		if readable && n.r.AppliedDecree() < maxAcked {
			return fmt.Errorf("%s serves reads at b%d applied=%d (meta server at b%d, primary %s), writes acknowledged up to %d (read state %+v at %v, meta lease %v)",
				id, n.r.Ballot(), n.r.AppliedDecree(), s.c.meta.Ballot, s.c.meta.Primary, maxAcked,
				n.r.ReadState(), s.c.timeOf(n), s.c.metaLease(n))
		}
	}
	return nil
}

// heal stops the faults and requires the group to converge: every node a
// member, every client write acknowledged and applied by every member.
func (s *sim) heal() error {
	c := s.c
	for _, id := range c.ids {
		c.isolate(c.nodes[id], false)
		c.nodes[id].cut = false
		if !c.alive(id) {
			if err := c.restart(id); err != nil {
				return err
			}
		}
	}
	for round := 0; round < 3000; round++ {
		for len(c.net) > 0 {
			if err := c.deliver(0); err != nil {
				return err
			}
		}
		for len(s.metaNet) > 0 {
			mm := s.metaNet[0]
			s.metaNet = s.metaNet[1:]
			if err := s.deliverMeta(mm); err != nil {
				return err
			}
		}
		for _, id := range c.ids {
			if c.nodes[id].ready != nil {
				if err := c.finishReady(id, -1, true); err != nil {
					return err
				}
			}
			for c.nodes[id].r.HasReady() {
				if err := c.processReady(id, -1); err != nil {
					return err
				}
			}
		}
		for len(c.jobs) > 0 {
			if err := c.runJob(0); err != nil {
				return err
			}
		}
		for _, pf := range c.proposals {
			prev := c.meta
			applied, err := c.applyProposal(pf)
			if err != nil {
				return err
			}
			if applied {
				s.configChanged(prev)
			}
		}
		c.proposals = nil
		if round%5 == 0 {
			if err := s.metaCure(); err != nil {
				return err
			}
			cfg := c.meta
			for _, id := range c.ids {
				s.metaNet = append(s.metaNet, metaMsg{to: id, cfg: &cfg})
			}
			for _, r := range s.pending {
				r.lastTry = -100 // retry now
			}
			if len(s.pending) > 0 {
				if err := s.clientWrite(); err != nil {
					return err
				}
			}
		}
		c.tickAll(c.ids)
		if err := s.checkStep(); err != nil {
			return fmt.Errorf("healing round %d: %w", round, err)
		}
		if len(s.pending) == 0 && len(c.members()) == len(c.ids) && c.finalCheck(true) == nil {
			return nil
		}
	}
	if err := c.finalCheck(true); err != nil {
		return fmt.Errorf("did not heal: %w", err)
	}
	return fmt.Errorf("did not heal: %d writes pending, members %v", len(s.pending), c.members())
}

// dump describes the cluster for a failure report.
func (s *sim) dump() string {
	var b []byte
	b = fmt.Appendf(b, "meta: %+v\n", s.c.meta)
	for _, id := range s.c.ids {
		n := s.c.nodes[id]
		if n.r == nil {
			b = fmt.Appendf(b, "%s down (disk: ballot %d, log %d..%d, applied %d)\n",
				id, n.disk.ballot, n.disk.logFirst, n.disk.logLast(), n.disk.appliedDecree())
			continue
		}
		b = fmt.Appendf(b, "%s\n", n.r.Debug())
	}
	b = fmt.Appendf(b, "%d messages in flight, %d pending writes\n", len(s.c.net), len(s.pending))
	b = fmt.Appendf(b, "last trace lines:\n%s", s.trace)
	return string(b)
}

// traceRing keeps the last max trace writes (each a line) for failure reports.
type traceRing struct {
	max   int
	lines []string
	next  int
}

func (r *traceRing) Write(p []byte) (int, error) {
	if len(r.lines) < r.max {
		r.lines = append(r.lines, string(p))
	} else {
		r.lines[r.next] = string(p)
		r.next = (r.next + 1) % r.max
	}
	return len(p), nil
}

func (r *traceRing) String() string {
	var b []byte
	for i := range r.lines {
		b = append(b, r.lines[(r.next+i)%len(r.lines)]...)
	}
	return string(b)
}
