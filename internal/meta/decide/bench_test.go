package decide

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// Simulation size for the benchmarks: a large cluster.
const (
	benchNodes      = 1000
	benchPartitions = 100000
	benchTables     = 10
)

type benchCluster struct {
	nodes   []string
	configs []PartitionConfig
	// reports[i] is node i's beacon payload: one report per replica.
	reports [][]ReplicaReport
}

// newBenchCluster places 3 replicas of every partition on distinct random
// nodes, primaries spread evenly.
func newBenchCluster() *benchCluster {
	rng := rand.New(rand.NewPCG(1, 2))
	c := &benchCluster{nodes: make([]string, benchNodes), reports: make([][]ReplicaReport, benchNodes)}
	idx := make(map[string]int, benchNodes)
	for i := range c.nodes {
		c.nodes[i] = fmt.Sprintf("10.0.%d.%d:34801", i/250, i%250)
		idx[c.nodes[i]] = i
	}
	perTable := benchPartitions / benchTables
	for p := 0; p < benchPartitions; p++ {
		a := p % benchNodes
		b := (a + 1 + rng.IntN(benchNodes-1)) % benchNodes
		d := b
		for d == a || d == b {
			d = rng.IntN(benchNodes)
		}
		g := Gpid{AppID: int32(1 + p/perTable), Index: int32(p % perTable)}
		cfg := PartitionConfig{Gpid: g, Ballot: 5, MaxReplicaCount: 3,
			Primary: c.nodes[a], Secondaries: []string{c.nodes[b], c.nodes[d]}, LastCommittedDecree: 1000}
		c.configs = append(c.configs, cfg)
		for _, n := range []int{a, b, d} {
			c.reports[n] = append(c.reports[n], ReplicaReport{Gpid: g, Status: StatusSecondary, Ballot: 5,
				LastCommittedDecree: 1000, LastPreparedDecree: 1000 + int64(rng.IntN(3))})
		}
	}
	return c
}

func (c *benchCluster) layout(b *testing.B) *Layout {
	cfgs := make([]PartitionConfig, len(c.configs))
	for i := range cfgs {
		cfgs[i] = c.configs[i].Clone()
	}
	l, err := NewLayout(cfgs)
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// fd returns a settled leader's failure detector that has heard every node.
func (c *benchCluster) fd(b *testing.B, now time.Time) *FailureDetector {
	fd, err := NewFailureDetector(DefaultFDConfig())
	if err != nil {
		b.Fatal(err)
	}
	fd.SetLeader(now.Add(-time.Hour), true, "meta1", nil)
	for i, n := range c.nodes {
		fd.Beacon(now, Beacon{Node: n, Protocol: DefaultFDConfig().Protocol, StartTime: t0, Replicas: c.reports[i]})
	}
	fd.Check(now)
	return fd
}

var benchState *benchCluster

func benchSetup() *benchCluster {
	if benchState == nil {
		benchState = newBenchCluster()
	}
	return benchState
}

// BenchmarkBeacons: one beacon round, 1,000 beacons carrying 300 replica
// reports each, then one Check.
func BenchmarkBeacons(b *testing.B) {
	c := benchSetup()
	now := t0
	fd := c.fd(b, now)
	proto := DefaultFDConfig().Protocol
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		now = now.Add(3 * time.Second)
		for i, n := range c.nodes {
			if ack := fd.Beacon(now, Beacon{Node: n, Protocol: proto, StartTime: t0, Replicas: c.reports[i]}); !ack.Allowed {
				b.Fatal(ack.Reason)
			}
		}
		if ev := fd.Check(now); len(ev) != 0 {
			b.Fatalf("events %v", ev)
		}
	}
}

// BenchmarkPlanRound: one planner round over 100,000 healthy partitions at
// level steady (the guardian's scan; nothing to do).
func BenchmarkPlanRound(b *testing.B) {
	c := benchSetup()
	l := c.layout(b)
	fd := c.fd(b, t0)
	p := NewPlanner(DefaultKnobs())
	now := t0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if plan := p.Plan(now, l, fd); len(plan.Proposals) != 0 {
			b.Fatalf("proposals on a healthy cluster: %d", len(plan.Proposals))
		}
	}
}

// BenchmarkDrainProposals: migrate_node and downgrade_node proposals for
// every one of the 1,000 nodes in turn, on the unchanged layout.
func BenchmarkDrainProposals(b *testing.B) {
	c := benchSetup()
	l := c.layout(b)
	fd := c.fd(b, t0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		total := 0
		for _, n := range c.nodes {
			m, err := MigrateNode(l, fd, n)
			if err != nil {
				b.Fatal(err)
			}
			d, err := DowngradeNode(l, fd, n)
			if err != nil && len(d) == 0 {
				b.Fatal(err)
			}
			total += len(m) + len(d)
		}
		if total < benchPartitions {
			b.Fatalf("only %d proposals", total)
		}
	}
}

// BenchmarkRollingPlan simulates a whole rolling restart of the layout: for
// every node in turn, migrate its primaries and downgrade its secondaries
// (applying each proposal), then bring it back: AddSecondary and
// UpgradeToSecondary for every partition it left.
func BenchmarkRollingPlan(b *testing.B) {
	c := benchSetup()
	fd := c.fd(b, t0)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		l := c.layout(b)
		b.StartTimer()
		for _, n := range c.nodes {
			m, err := MigrateNode(l, fd, n)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range m {
				if _, err := l.Apply(p); err != nil {
					b.Fatal(err)
				}
			}
			d, err := DowngradeNode(l, fd, n)
			if err != nil {
				b.Fatal(err)
			}
			for _, p := range d {
				if _, err := l.Apply(p); err != nil {
					b.Fatal(err)
				}
			}
			if got := l.Load(n).Roles(); got != 0 {
				b.Fatalf("%s still holds %d roles", n, got)
			}
			for _, p := range d {
				cur, _ := l.Config(p.Gpid)
				add := Proposal{Gpid: p.Gpid, Ballot: cur.Ballot, Actions: []Action{{Type: AddSecondary, Target: cur.Primary, Node: n}}}
				if cur, err = l.Apply(add); err != nil {
					b.Fatal(err)
				}
				up := Proposal{Gpid: p.Gpid, Ballot: cur.Ballot, Actions: []Action{{Type: UpgradeToSecondary, Target: cur.Primary, Node: n}}}
				if _, err := l.Apply(up); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
}
