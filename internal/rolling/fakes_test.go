package rolling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// fakeCluster is an in-memory cluster that implements Cluster, NodeControl
// and Collector, and reacts to the orchestrator the way a cluster would,
// coarsely. Time is the number of View calls (one per poll while a step
// watches the cluster): a started replica server becomes ALIVE one view
// later, re-learns its dropped replicas learnViews views after re-adding
// is allowed, and a restarted meta server hears every alive replica server
// one Metas call after it started.
//
// Stopping a replica server that still holds primaries costs
// clientErrorsPerPrimary collector-counted errors for each: the failover a
// drained stop avoids.
type fakeCluster struct {
	mu sync.Mutex

	metas      []*fakeMeta
	replicas   []*fakeReplica
	collector  *fakeProcess
	leader     string
	level      string
	knobs      map[string]string // overrides; absent means the configured value
	owners     map[string]string // who set each override, "" for an operator
	leases     map[string]time.Duration
	configured map[string]string // the meta servers' configuration file
	levelSet   bool              // the level is an override (its owner in owners[MetaLevelKnob])
	knobLog    []string          // every level and knob command, in order
	ops        []string          // every command that changed something, in order
	partitions int
	learnViews int

	clientErrors uint64
	availability float64
	posted       []Progress // progress posted to the collector

	// Fault injection.
	startFails map[string]string // node -> error text of every Start
	neverAlive map[string]bool   // started, but the meta never sees it ALIVE
	onCommand  func(op string)   // called (without the lock) after each command
}

const clientErrorsPerPrimary = 7

type fakeProcess struct {
	node     string
	running  bool
	version  string
	pending  string // installed, used from the next start
	restarts int
}

type fakeMeta struct {
	fakeProcess
	heard int // Metas calls since start; beacons flow after one
}

type fakeReplica struct {
	fakeProcess
	alive                  bool // as the meta server sees it
	primaries, secondaries int
	open                   int // replicas open on the server itself
	missing                int // replicas dropped from it, not re-learned yet
	learning               int // views of learning left
}

func newFakeCluster(metas, replicas, partitionsPerNode int) *fakeCluster {
	c := &fakeCluster{level: "lively", levelSet: true, knobs: map[string]string{}, owners: map[string]string{},
		leases: map[string]time.Duration{}, learnViews: 2,
		configured:   map[string]string{plan.KnobAssignDelay: "300000", plan.KnobAddSecondaryMax: "10"},
		availability: 1, startFails: map[string]string{}, neverAlive: map[string]bool{}}
	for i := 1; i <= metas; i++ {
		c.metas = append(c.metas, &fakeMeta{fakeProcess: fakeProcess{node: fmt.Sprintf("m%d:34601", i), running: true, version: "1.0"}, heard: 1})
	}
	c.leader = c.metas[0].node
	for i := 1; i <= replicas; i++ {
		r := &fakeReplica{fakeProcess: fakeProcess{node: fmt.Sprintf("r%d:34801", i), running: true, version: "1.0"},
			alive: true, primaries: partitionsPerNode, secondaries: 2 * partitionsPerNode}
		r.open = r.primaries + r.secondaries
		c.replicas = append(c.replicas, r)
	}
	c.partitions = partitionsPerNode * replicas
	c.collector = &fakeProcess{node: "c1:34101", running: true, version: "1.0"}
	return c
}

func (c *fakeCluster) replica(node string) *fakeReplica {
	for _, r := range c.replicas {
		if r.node == node {
			return r
		}
	}
	return nil
}

func (c *fakeCluster) process(t Target) (*fakeProcess, error) {
	switch t.Role {
	case plan.RoleReplica:
		if r := c.replica(t.Node); r != nil {
			return &r.fakeProcess, nil
		}
	case plan.RoleMeta:
		for _, m := range c.metas {
			if m.node == t.Node {
				return &m.fakeProcess, nil
			}
		}
	case plan.RoleCollector:
		if c.collector.node == t.Node {
			return c.collector, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownNode, t)
}

// done records a command and calls the hook outside the lock.
func (c *fakeCluster) done(op string) {
	c.ops = append(c.ops, op)
	hook := c.onCommand
	c.mu.Unlock()
	if hook != nil {
		hook(op)
	}
	c.mu.Lock()
}

// Cluster

func (c *fakeCluster) Info(ctx context.Context) (ClusterInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info := ClusterInfo{Name: "fake", Leader: c.leader, MetaLevel: c.level, Overrides: map[string]KnobOverride{}}
	for k, v := range c.knobs {
		info.Overrides[k] = KnobOverride{Value: v, Owner: c.owners[k]}
	}
	if c.levelSet {
		info.Overrides[MetaLevelKnob] = KnobOverride{Value: c.level, Owner: c.owners[MetaLevelKnob]}
	}
	for _, m := range c.metas {
		info.Metas = append(info.Metas, MetaInfo{Node: m.node, Leader: m.node == c.leader, Protocol: m.version})
	}
	for _, r := range c.replicas {
		info.Replicas = append(info.Replicas, ReplicaInfo{Node: r.node, Protocol: r.version})
	}
	return info, nil
}

func (c *fakeCluster) View(ctx context.Context) (*plan.ClusterView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tick()
	v := &plan.ClusterView{}
	missing := 0
	for _, r := range c.replicas {
		v.Nodes = append(v.Nodes, plan.NodeStatus{Node: r.node, Alive: r.alive, Primaries: r.primaries, Secondaries: r.secondaries})
		missing += r.missing
	}
	healthy := max(c.partitions-missing, 0)
	v.Tables = []plan.TableHealth{{AppID: 1, Name: "temp", PartitionCount: c.partitions,
		FullyHealthy: healthy, Unhealthy: c.partitions - healthy}}
	return v, nil
}

// tick advances the cluster by one view.
func (c *fakeCluster) tick() {
	for _, r := range c.replicas {
		if r.running && !r.alive && !c.neverAlive[r.node] {
			r.alive = true
			continue
		}
		if !r.alive || r.missing == 0 || c.knobs[plan.KnobAddSecondaryMax] == "0" {
			continue
		}
		if r.learning == 0 {
			r.learning = c.learnViews
		}
		r.learning--
		if r.learning == 0 {
			r.secondaries += r.missing
			r.open += r.missing
			r.missing = 0
		}
	}
}

func (c *fakeCluster) Metas(ctx context.Context) ([]plan.MetaStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	alive := 0
	for _, r := range c.replicas {
		if r.alive {
			alive++
		}
	}
	var out []plan.MetaStatus
	for _, m := range c.metas {
		st := plan.MetaStatus{Node: m.node, Alive: m.running, Leader: m.running && m.node == c.leader,
			Cluster: "fake", Registered: m.running}
		if m.running {
			if m.heard > 0 {
				st.BeaconsFrom = alive
			}
			m.heard++
		}
		out = append(out, st)
	}
	return out, nil
}

func (c *fakeCluster) ReplicaStatus(ctx context.Context, node string) (plan.ReplicaStatus, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.replica(node)
	if r == nil || !r.running {
		return plan.ReplicaStatus{}, errors.New("connection refused")
	}
	return plan.ReplicaStatus{Node: node, Total: r.open, Primaries: r.primaries}, nil
}

func (c *fakeCluster) SetMetaLevel(ctx context.Context, level string, lease KnobLease) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if level == plan.KnobDefault {
		c.level, c.levelSet = "steady", false
		delete(c.owners, MetaLevelKnob)
	} else {
		c.level, c.levelSet = level, true
		c.owners[MetaLevelKnob] = lease.Owner
	}
	c.knobLog = append(c.knobLog, "level "+level)
	c.done("set_meta_level " + level)
	return nil
}

func (c *fakeCluster) Knob(ctx context.Context, knob string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.knobs[knob]; ok {
		return v, nil
	}
	return c.configured[knob], nil
}

func (c *fakeCluster) SetKnob(ctx context.Context, knob, value string, lease KnobLease) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if value == plan.KnobDefault {
		delete(c.knobs, knob)
		delete(c.owners, knob)
		delete(c.leases, knob)
	} else {
		c.knobs[knob] = value
		c.owners[knob] = lease.Owner
		c.leases[knob] = lease.TTL
	}
	c.knobLog = append(c.knobLog, knob+" "+value)
	c.done("remote_command " + knob + " " + value)
	return nil
}

// Partitions reports no partition layout: the fake counts replicas per
// node only, so a plan built on it has no primaries to put back (the
// planner's own fake and the end-to-end tests cover that).
func (c *fakeCluster) Partitions(ctx context.Context) ([]plan.PartitionView, error) { return nil, nil }

func (c *fakeCluster) MovePrimary(ctx context.Context, m plan.PrimaryMove) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done(m.String())
	return nil
}

func (c *fakeCluster) MigrateNode(ctx context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.replica(node)
	if r == nil || !r.alive {
		return fmt.Errorf("%w: %s not alive", ErrServer, node)
	}
	// Each primary swaps roles with a secondary on another alive node.
	for r.primaries > 0 {
		moved := false
		for _, o := range c.replicas {
			if o != r && o.alive && o.secondaries > 0 && r.primaries > 0 {
				o.secondaries--
				o.primaries++
				r.primaries--
				r.secondaries++
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	c.done("migrate_node " + node)
	return nil
}

func (c *fakeCluster) DowngradeNode(ctx context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.replica(node)
	if r == nil || !r.alive {
		return fmt.Errorf("%w: %s not alive", ErrServer, node)
	}
	r.missing += r.secondaries
	r.secondaries = 0
	c.done("downgrade_node " + node)
	return nil
}

func (c *fakeCluster) KillPartitions(ctx context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.replica(node)
	if r == nil || !r.running {
		return fmt.Errorf("%w: %s unreachable", ErrServer, node)
	}
	r.open = r.primaries + r.secondaries // only what it still serves stays open
	c.done("kill_partition " + node)
	return nil
}

// NodeControl

func (c *fakeCluster) Status(ctx context.Context, t Target) (ProcessState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.process(t)
	if err != nil {
		return "", err
	}
	if p.running {
		return ProcessRunning, nil
	}
	return ProcessStopped, nil
}

func (c *fakeCluster) Stop(ctx context.Context, t Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.process(t)
	if err != nil {
		return err
	}
	if !p.running {
		return nil
	}
	p.running = false
	if r := c.replica(t.Node); r != nil && t.Role == plan.RoleReplica {
		// Whatever it still served is lost to its partitions until failover.
		c.clientErrors += uint64(r.primaries * clientErrorsPerPrimary)
		for r.primaries > 0 {
			moved := false
			for _, o := range c.replicas {
				if o != r && o.running && o.secondaries > 0 && r.primaries > 0 {
					o.secondaries--
					o.primaries++
					r.primaries--
					r.missing++ // the partition is one replica short now
					moved = true
				}
			}
			if !moved {
				break
			}
		}
		r.missing += r.secondaries
		r.secondaries, r.open, r.alive = 0, 0, false
	}
	c.done("stop " + t.Node)
	return nil
}

func (c *fakeCluster) Start(ctx context.Context, t Target) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.process(t)
	if err != nil {
		return err
	}
	if msg, ok := c.startFails[t.Node]; ok {
		return errors.New(msg)
	}
	if p.running {
		return nil
	}
	p.running = true
	p.restarts++
	if p.pending != "" {
		p.version, p.pending = p.pending, ""
	}
	for _, m := range c.metas {
		if m.node == t.Node {
			m.heard = 0
		}
	}
	c.done("start " + t.Node)
	return nil
}

func (c *fakeCluster) Install(ctx context.Context, t Target, a Artifacts) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.process(t)
	if err != nil {
		return err
	}
	p.pending = "1.1"
	c.done("install " + t.Node + " " + a.Binary)
	return nil
}

// Collector

type fakeCollector struct{ c *fakeCluster }

func (f fakeCollector) Node() string { return f.c.collector.node }

func (f fakeCollector) Status(ctx context.Context) (plan.CollectorStatus, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	if !f.c.collector.running {
		return plan.CollectorStatus{}, errors.New("connection refused")
	}
	return plan.CollectorStatus{Alive: true, Availability: f.c.availability, ClientErrors: f.c.clientErrors}, nil
}

func (f fakeCollector) Version(ctx context.Context) (string, error) {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	return f.c.collector.version, nil
}

func (f fakeCollector) PostProgress(ctx context.Context, p Progress) error {
	f.c.mu.Lock()
	defer f.c.mu.Unlock()
	f.c.posted = append(f.c.posted, p)
	return nil
}

// fakeClock advances only when the orchestrator waits.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

// memStore is an in-memory Store. Every saved record is kept, so tests can
// check what was stored when.
type memStore struct {
	mu     sync.Mutex
	saved  []Record
	holder *memSession
}

func (s *memStore) Load(ctx context.Context) (Record, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.saved) == 0 {
		return Record{}, ErrNoRoll
	}
	// Through JSON, as through etcd.
	data, err := json.Marshal(s.saved[len(s.saved)-1])
	if err != nil {
		return Record{}, err
	}
	return decodeRecord(data)
}

func (s *memStore) last() Record {
	r, err := s.Load(context.Background())
	if err != nil {
		panic(err)
	}
	return r
}

func (s *memStore) Holder(ctx context.Context) (Holder, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == nil {
		return Holder{}, false, nil
	}
	return s.holder.h, true, nil
}

func (s *memStore) Acquire(ctx context.Context, h Holder) (Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != nil {
		return nil, &LockedError{Holder: s.holder.h}
	}
	s.holder = &memSession{s: s, h: h, requests: make(chan Request, 16), lost: make(chan struct{})}
	return s.holder, nil
}

func (s *memStore) Request(ctx context.Context, req Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder == nil {
		return ErrNotRunning
	}
	s.holder.requests <- req
	return nil
}

// kill drops the holder as a dead orchestrator's lease would expire.
func (s *memStore) kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.holder != nil {
		close(s.holder.lost)
		s.holder = nil
	}
}

type memSession struct {
	s        *memStore
	h        Holder
	requests chan Request
	lost     chan struct{}
}

func (m *memSession) Save(ctx context.Context, r Record) error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.holder != m {
		return ErrLockLost
	}
	r.State = cloneState(r.State)
	m.s.saved = append(m.s.saved, r)
	return nil
}

func cloneState(s plan.State) plan.State {
	data, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	var out plan.State
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	return out
}

func (m *memSession) Requests() <-chan Request { return m.requests }
func (m *memSession) Lost() <-chan struct{}    { return m.lost }

func (m *memSession) Release(ctx context.Context) error {
	m.s.mu.Lock()
	defer m.s.mu.Unlock()
	if m.s.holder == m {
		m.s.holder = nil
	}
	return nil
}
