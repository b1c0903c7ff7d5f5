package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// nodeState is what the fake knows of one process.
type nodeState int

const (
	running nodeState = iota
	dead
	frozen
)

// fakeCluster is an in-memory cluster with one primary node serving every
// key: while that node is dead or frozen, operations fail (definitively,
// like a client refused before anything was replicated). It records every
// action a scenario takes.
type fakeCluster struct {
	mu      sync.Mutex
	roles   map[Role][]string
	state   map[string]nodeState
	primary string
	leader  string
	actions []string
	// healthyAfter makes WaitHealthy wait this long after the last
	// restart; unhealthy makes it never succeed after the first event
	// action.
	healthyAfter time.Duration
	unhealthy    bool
	touched      bool
	lastStart    time.Time
	// loseOnKill makes killing the primary undo the latest acknowledged
	// write, as a store that acknowledged before making a write durable.
	loseOnKill bool
	data       *bench.MemTarget
	// members is partition 0's configuration in order (primary first);
	// Members reports the running ones, the primary if it runs, else the
	// first running one.
	members   []string
	counters  *fakeCounters
	lastWrite struct {
		key   []byte
		prev  []byte
		found bool
	}
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{
		roles: map[Role][]string{
			RoleMeta:    {"meta1", "meta2"},
			RoleReplica: {"replica1", "replica2", "replica3"},
			RoleEtcd:    {"etcd"},
		},
		state:   map[string]nodeState{"etcd": running, "meta1": running, "meta2": running, "replica1": running, "replica2": running, "replica3": running},
		members: []string{"replica2", "replica1"},
		primary: "replica2",
		leader:  "meta2",
		data:    bench.NewMemTarget(),
	}
}

func (c *fakeCluster) record(format string, args ...any) {
	c.actions = append(c.actions, fmt.Sprintf(format, args...))
}

func (c *fakeCluster) Actions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.actions)
}

func (c *fakeCluster) Describe() string { return "fake cluster" }

func (c *fakeCluster) Nodes(role Role) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.roles[role])
}

func (c *fakeCluster) Kill(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("kill %s", node)
	c.touched = true
	c.state[node] = dead
	if c.loseOnKill && node == c.primary && c.lastWrite.key != nil {
		// Undo the latest write behind the client's back.
		if c.lastWrite.found {
			c.data.Set(context.Background(), c.lastWrite.key, c.lastWrite.prev)
		} else {
			c.data.Del(context.Background(), c.lastWrite.key)
		}
		c.lastWrite.key = nil
	}
	return nil
}

func (c *fakeCluster) Stop(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("stop %s", node)
	c.touched = true
	c.state[node] = dead
	return nil
}

func (c *fakeCluster) Start(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("start %s", node)
	c.state[node] = running
	c.lastStart = time.Now()
	return nil
}

func (c *fakeCluster) Freeze(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("freeze %s", node)
	c.touched = true
	c.state[node] = frozen
	return nil
}

func (c *fakeCluster) Thaw(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("thaw %s", node)
	c.state[node] = running
	return nil
}

func (c *fakeCluster) Leader(_ context.Context, role Role) (string, error) {
	if role != RoleMeta {
		return "", errors.New("fake: no leader of that role")
	}
	return c.leader, nil
}

func (c *fakeCluster) Primary(context.Context) (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.primary, 8, nil
}

// Members implements MemberFinder (see members).
func (c *fakeCluster) Members(context.Context) (Members, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var m Members
	for _, n := range c.members {
		if c.state[n] != running {
			continue
		}
		if m.Primary == "" {
			m.Primary = n
		} else {
			m.Secondaries = append(m.Secondaries, n)
		}
	}
	return m, nil
}

// StepClock implements ClockStepper by recording the step.
func (c *fakeCluster) StepClock(_ context.Context, node string, offset time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("clock %s %v", node, offset)
	return nil
}

// WaitHealthy polls: every node runs, and healthyAfter has passed since the
// last start.
func (c *fakeCluster) WaitHealthy(ctx context.Context) error {
	for {
		c.mu.Lock()
		ok := !(c.unhealthy && c.touched) && time.Since(c.lastStart) >= c.healthyAfter
		for _, s := range c.state {
			ok = ok && s == running
		}
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// serving reports whether the primary serves.
func (c *fakeCluster) serving() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state[c.primary] == running
}

var errPrimaryDown = errors.New("fake: primary unreachable")

// fakeTarget sends the load to the fake cluster.
type fakeTarget struct{ c *fakeCluster }

func (t fakeTarget) Get(ctx context.Context, key []byte) ([]byte, bool, error) {
	if !t.c.serving() {
		return nil, false, errPrimaryDown
	}
	return t.c.data.Get(ctx, key)
}

func (t fakeTarget) Set(ctx context.Context, key, value []byte) error {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state[c.primary] != running {
		return fmt.Errorf("%w: %w", bench.ErrRejected, errPrimaryDown)
	}
	prev, found, _ := c.data.Get(ctx, key)
	c.lastWrite.key, c.lastWrite.prev, c.lastWrite.found = append([]byte(nil), key...), prev, found
	return c.data.Set(ctx, key, value)
}

func (t fakeTarget) Del(ctx context.Context, key []byte) error {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state[c.primary] != running {
		return fmt.Errorf("%w: %w", bench.ErrRejected, errPrimaryDown)
	}
	prev, found, _ := c.data.Get(ctx, key)
	c.lastWrite.key, c.lastWrite.prev, c.lastWrite.found = append([]byte(nil), key...), prev, found
	return c.data.Del(ctx, key)
}

// fakeRoller adds a rolling update to the fake: every replica server is
// stopped and started in turn. In HA mode the primary moves off a node
// before it stops, so clients never find it down; in simple mode they do.
type fakeRoller struct {
	*fakeCluster
	pause time.Duration // each node's downtime
}

func (r fakeRoller) RollingUpdate(ctx context.Context, mode plan.Mode) error {
	for _, node := range r.Nodes(RoleReplica) {
		if mode == plan.ModeHA {
			r.mu.Lock()
			if r.primary == node {
				r.record("migrate primary off %s", node)
				i := slices.Index(r.roles[RoleReplica], node)
				r.primary = r.roles[RoleReplica][(i+1)%len(r.roles[RoleReplica])]
			}
			r.mu.Unlock()
		}
		r.Stop(ctx, node)
		if err := sleep(ctx, r.pause); err != nil {
			return err
		}
		r.Start(ctx, node)
	}
	return nil
}

// bareCluster offers Cluster and nothing more.
type bareCluster struct{ Cluster }

// fakeCutter adds a network cut to the fake: a cut node is unreachable
// like a frozen one. With cannot set, CutMethod refuses, as a cluster
// without per-node networks does.
type fakeCutter struct {
	*fakeCluster
	cannot bool
}

func (c fakeCutter) CutMethod() (string, error) {
	if c.cannot {
		return "", fmt.Errorf("%w: fake: one shared network", ErrUnsupported)
	}
	return "fake link down", nil
}

func (c fakeCutter) Cut(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("cut %s", node)
	c.touched = true
	c.state[node] = frozen
	return nil
}

func (c fakeCutter) Heal(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("heal %s", node)
	c.state[node] = running
	return nil
}

// Counters implements CounterCluster with in-memory counters; with
// doubleIncr set, every tenth incr is applied twice (a retry that ran
// again) to show the check catches it.
func (c *fakeCluster) Counters() CounterClient { return c.counterClient() }

func (c *fakeCluster) counterClient() *fakeCounters {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counters == nil {
		c.counters = &fakeCounters{values: make(map[string]int64)}
	}
	return c.counters
}

func (c *fakeCluster) TriggerCheckpoint(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("checkpoint %s", node)
	return nil
}

func (c *fakeCluster) CheckpointsInstalled(context.Context, string) (int64, error) { return 1, nil }

type fakeCounters struct {
	mu         sync.Mutex
	values     map[string]int64
	n          int
	doubleIncr bool
}

func (f *fakeCounters) Incr(_ context.Context, key string, delta int64) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.values[key] += delta
	if f.doubleIncr && f.n%10 == 0 {
		f.values[key] += delta
	}
	return f.values[key], nil
}

func (f *fakeCounters) Read(_ context.Context, key string) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.values[key], nil
}

func (f *fakeCounters) CompareAndSet(_ context.Context, key string, prev, next int64) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.values[key] != prev {
		return false, nil
	}
	f.values[key] = next
	return true, nil
}

func (f *fakeCounters) IsUnknown(error) bool { return false }

// fakeIsolator adds a side reader and migrate_node to the cutting fake;
// both only record what they were asked. With refuses set, the side reads
// fail once any node is cut, as a cut-off primary's do once its lease is
// over.
type fakeIsolator struct {
	fakeCutter
	refuses bool
}

func (c fakeIsolator) ReadFrom(_ context.Context, node string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("reads inside %s", node)
	return nil
}

func (c fakeIsolator) ReadFromOutside() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("reads outside")
}

func (c fakeIsolator) SideReads() (int64, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.refuses && slices.Contains(c.actions, "cut replica2") {
		return 0, 1
	}
	return 0, 0
}

func (c fakeIsolator) MigrateNode(_ context.Context, node string) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.record("migrate_node %s", node)
	return []string{"fake proposal"}, nil
}
