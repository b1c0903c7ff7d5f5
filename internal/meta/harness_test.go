package meta

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// fakeClock is a Clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testFD is the failure detector timing of the unit tests: beacon 1 s,
// lease 3 s, grace 4 s, with the unstable-restart guard off.
func testFD() decide.FDConfig {
	return decide.FDConfig{
		BeaconInterval: time.Second, Lease: 3 * time.Second, Grace: 4 * time.Second,
		Protocol: version.Current(), StableRunning: time.Minute,
	}
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() && os.Getenv("META_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// simNode is a replica server as far as the meta server can tell: the
// configurations it holds, its beacons, its answers to pushes, and the
// proposals of its primaries.
type simNode struct {
	addr  string
	start time.Time
	down  bool
	// proto is the protocol version its beacons carry.
	proto string
	// reps holds the newest configuration of each replica and whether
	// the replica is active (an inactive one reports PS_INACTIVE).
	reps map[decide.Gpid]*simReplica
}

type simReplica struct {
	cfg      decide.PartitionConfig
	inactive bool
	// memberBallot is the highest ballot of a configuration applied that
	// lists the node as a member.
	memberBallot int64
}

func (n *simNode) status(r *simReplica) decide.PartitionStatus {
	if r.inactive {
		return decide.StatusInactive
	}
	switch r.cfg.RoleOf(n.addr) {
	case decide.RolePrimary:
		return decide.StatusPrimary
	case decide.RoleSecondary:
		return decide.StatusSecondary
	case decide.RoleLearner:
		return decide.StatusPotentialSecondary
	}
	return decide.StatusInactive
}

// apply takes a configuration as a replica server would: newer ballots win.
func (n *simNode) apply(c decide.PartitionConfig) {
	r := n.reps[c.Gpid]
	if r == nil {
		r = &simReplica{cfg: c.Clone()}
		n.reps[c.Gpid] = r
	} else if c.Ballot >= r.cfg.Ballot {
		r.cfg, r.inactive = c.Clone(), false
	}
	if role := c.RoleOf(n.addr); (role == decide.RolePrimary || role == decide.RoleSecondary) && c.Ballot > r.memberBallot {
		r.memberBallot = c.Ballot
	}
}

func (n *simNode) reports() []decide.ReplicaReport {
	out := make([]decide.ReplicaReport, 0, len(n.reps))
	for g, r := range n.reps {
		out = append(out, decide.ReplicaReport{Gpid: g, Status: n.status(r), Ballot: r.cfg.Ballot,
			MemberBallot: r.memberBallot, LastCommittedDecree: 10, LastPreparedDecree: 10})
	}
	slices.SortFunc(out, func(a, b decide.ReplicaReport) int { return a.Gpid.Compare(b.Gpid) })
	return out
}

// simAdmin routes pushes to the simulated nodes.
type simAdmin struct {
	mu     sync.Mutex
	nodes  map[string]*simNode
	pushes map[string]int // configurations pushed, per node
	// envs is the envs revision of each table pushed, per node.
	envs map[string]map[int32]int64
}

func (a *simAdmin) UpdateConfig(ctx context.Context, node string, req *pb.ConfigUpdateRequest) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.nodes[node]
	if n == nil || n.down {
		return fmt.Errorf("%s unreachable", node)
	}
	a.pushes[node] += len(req.Configs)
	for _, t := range req.Tables {
		if a.envs == nil {
			a.envs = make(map[string]map[int32]int64)
		}
		if a.envs[node] == nil {
			a.envs[node] = make(map[int32]int64)
		}
		a.envs[node][t.GetAppId()] = t.GetEnvsRevision()
	}
	for _, c := range req.Configs {
		n.apply(configFromPB(c))
	}
	return nil
}

// sim is a controller with a MemStore, a fake clock and simulated nodes.
type sim struct {
	t     *testing.T
	clock *fakeClock
	store *MemStore
	admin *simAdmin
	ctl   *Controller
	knobs decide.Knobs
	metas int
}

func newSim(t *testing.T, nodes ...string) *sim {
	t.Helper()
	s := &sim{
		t:     t,
		clock: &fakeClock{now: t0},
		store: NewMemStore(),
		admin: &simAdmin{nodes: make(map[string]*simNode), pushes: make(map[string]int)},
		knobs: decide.DefaultKnobs(),
	}
	for _, n := range nodes {
		s.addNode(n)
	}
	s.ctl = s.newController()
	s.lead(s.ctl)
	return s
}

func (s *sim) newController() *Controller {
	s.t.Helper()
	s.metas++
	c, err := NewController(ControllerConfig{Self: fmt.Sprintf("meta%d:34601", s.metas), FD: testFD(), Knobs: s.knobs},
		s.clock, s.admin, testLogger(s.t))
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(c.Close)
	return c
}

// lead makes c the leader of a new term of the store.
func (s *sim) lead(c *Controller) context.Context {
	s.t.Helper()
	ctx, err := c.BecomeLeader(context.Background(), s.store.Term())
	if err != nil {
		s.t.Fatal(err)
	}
	return ctx
}

func (s *sim) addNode(addr string) *simNode {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	n := &simNode{addr: addr, start: s.clock.Now().Add(-time.Hour), proto: version.Current().String(), reps: make(map[decide.Gpid]*simReplica)}
	s.admin.nodes[addr] = n
	return n
}

func (s *sim) node(addr string) *simNode {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	return s.admin.nodes[addr]
}

// beacon sends one beacon from node to c and applies the answer as a
// replica server would.
func (s *sim) beacon(c *Controller, addr string) BeaconReply {
	s.admin.mu.Lock()
	n := s.admin.nodes[addr]
	b := Beacon{Node: addr, Protocol: n.proto, StartTime: n.start, Replicas: n.reports()}
	s.admin.mu.Unlock()
	r := c.Beacon(b)
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	for _, cfg := range r.Configs {
		n.apply(cfg)
	}
	for _, g := range r.Remove {
		delete(n.reps, g)
	}
	return r
}

// step advances the clock by one beacon interval, lets every node that is
// up beacon, lets primaries propose upgrades of their learners, runs a
// round and waits for its pushes.
func (s *sim) step() RoundReport {
	s.t.Helper()
	s.clock.Advance(time.Second)
	for _, addr := range s.upNodes() {
		s.beacon(s.ctl, addr)
	}
	s.upgradeLearners()
	rep, err := s.ctl.Round(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	if len(rep.Plan.Errors) > 0 {
		s.t.Fatalf("decision core errors: %v", rep.Plan.Errors)
	}
	s.waitPushes()
	return rep
}

func (s *sim) steps(n int) {
	s.t.Helper()
	for range n {
		s.step()
	}
}

func (s *sim) waitPushes() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.ctl.WaitPushes(ctx); err != nil {
		s.t.Fatal(err)
	}
}

func (s *sim) upNodes() []string {
	s.admin.mu.Lock()
	defer s.admin.mu.Unlock()
	var out []string
	for a, n := range s.admin.nodes {
		if !n.down {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// upgradeLearners plays the primaries: every learner a primary knows of
// has caught up at once and is proposed for secondary.
func (s *sim) upgradeLearners() {
	type prop struct {
		primary string
		p       ReplicaProposal
	}
	var props []prop
	s.admin.mu.Lock()
	for _, n := range s.admin.nodes {
		if n.down {
			continue
		}
		for _, r := range n.reps {
			if r.cfg.Primary != n.addr {
				continue
			}
			for _, l := range r.cfg.Learners {
				props = append(props, prop{n.addr, ReplicaProposal{Gpid: r.cfg.Gpid, Type: decide.UpgradeToSecondary, Node: l, Ballot: r.cfg.Ballot}})
			}
		}
	}
	s.admin.mu.Unlock()
	for _, p := range props {
		if _, err := s.ctl.Propose(context.Background(), p.primary, []ReplicaProposal{p.p}); err != nil {
			s.t.Fatal(err)
		}
	}
	s.waitPushes()
}

// settle runs steps until the failure detector has settled after the
// leader change and one more round ran.
func (s *sim) settle() {
	s.t.Helper()
	s.steps(int(testFD().Grace/time.Second) + 2)
}

// createTable creates a table and fails the test on error.
func (s *sim) createTable(name string, partitions, replicas int32) Table {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tb, err := s.ctl.CreateTable(ctx, CreateTableRequest{Name: name, PartitionCount: partitions, ReplicaCount: replicas})
	if err != nil {
		s.t.Fatal(err)
	}
	s.waitPushes()
	return tb
}

// configs returns the table's configurations, rendered one per line.
func (s *sim) configs(c *Controller, table string) string {
	s.t.Helper()
	_, cfgs, _, err := c.QueryConfig(table, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	var b strings.Builder
	for _, cfg := range cfgs {
		b.WriteString(cfg.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// stored returns what the store holds for g.
func (s *sim) stored(g decide.Gpid) decide.PartitionConfig {
	s.t.Helper()
	snap, err := s.store.Load(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	for _, p := range snap.Partitions {
		if p.Config.Gpid == g {
			return p.Config
		}
	}
	s.t.Fatalf("no partition %s in the store", g)
	return decide.PartitionConfig{}
}

// checkHealthy fails unless every partition of table has a primary and a
// full set of secondaries, no learner, and every node's replicas match.
func (s *sim) checkHealthy(table string) {
	s.t.Helper()
	_, cfgs, _, err := s.ctl.QueryConfig(table, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, c := range cfgs {
		if c.Primary == "" || c.ReplicaCount() != int(c.MaxReplicaCount) || len(c.Learners) > 0 {
			s.t.Fatalf("partition not healthy: %s", c)
		}
		for _, m := range members(c) {
			n := s.node(m)
			s.admin.mu.Lock()
			r := n.reps[c.Gpid]
			s.admin.mu.Unlock()
			if r == nil || r.cfg.Ballot != c.Ballot {
				s.t.Fatalf("%s does not hold %s", m, c)
			}
		}
	}
}
