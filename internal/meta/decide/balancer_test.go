package decide

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// skewedLayout places partitions of several tables on nodes with strongly
// unequal weights; some nodes get nothing at all (just added).
func skewedLayout(t testing.TB, rng *rand.Rand, nodes []string, tables, maxParts int) *Layout {
	weights := make([]float64, len(nodes))
	for i := range weights {
		if rng.IntN(4) == 0 {
			continue // an empty, new node
		}
		weights[i] = float64(1 + rng.IntN(20))
	}
	// At least three nodes with weight, so 3 replicas fit.
	for i := 0; i < 3; i++ {
		if weights[i] == 0 {
			weights[i] = 1
		}
	}
	pick := func(exclude []string) string {
		total := 0.0
		for i, w := range weights {
			if !slices.Contains(exclude, nodes[i]) {
				total += w
			}
		}
		x := rng.Float64() * total
		for i, w := range weights {
			if slices.Contains(exclude, nodes[i]) || w == 0 {
				continue
			}
			if x -= w; x < 0 {
				return nodes[i]
			}
		}
		for i := len(nodes) - 1; i >= 0; i-- {
			if weights[i] > 0 && !slices.Contains(exclude, nodes[i]) {
				return nodes[i]
			}
		}
		t.Fatal("no node to pick")
		return ""
	}
	var cfgs []PartitionConfig
	for app := 1; app <= tables; app++ {
		parts := 4 + rng.IntN(maxParts-3)
		for i := 0; i < parts; i++ {
			var members []string
			for len(members) < 3 {
				members = append(members, pick(members))
			}
			cfgs = append(cfgs, PartitionConfig{
				Gpid: Gpid{AppID: int32(app), Index: int32(i)}, Ballot: 1, MaxReplicaCount: 3,
				Primary: members[0], Secondaries: members[1:],
			})
		}
	}
	l, err := NewLayout(cfgs)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// spreads returns, per table and for the whole cluster, max-min of primary
// and of replica counts over nodes.
func spreads(l *Layout, nodes []string) (tablePrim, tableRepl, clusterPrim, clusterRepl int) {
	type counts struct{ prim, repl map[string]int }
	per := map[int32]*counts{}
	all := counts{map[string]int{}, map[string]int{}}
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		tc := per[c.Gpid.AppID]
		if tc == nil {
			tc = &counts{map[string]int{}, map[string]int{}}
			per[c.Gpid.AppID] = tc
		}
		for _, x := range []counts{*tc, all} {
			x.prim[c.Primary]++
			x.repl[c.Primary]++
			for _, s := range c.Secondaries {
				x.repl[s]++
			}
		}
	}
	spread := func(m map[string]int) int {
		lo, hi := m[nodes[0]], m[nodes[0]]
		for _, n := range nodes {
			lo, hi = min(lo, m[n]), max(hi, m[n])
		}
		return hi - lo
	}
	for _, tc := range per {
		tablePrim = max(tablePrim, spread(tc.prim))
		tableRepl = max(tableRepl, spread(tc.repl))
	}
	return tablePrim, tableRepl, spread(all.prim), spread(all.repl)
}

// finishLearning plays the primaries' part: every learner catches up and is
// upgraded to secondary.
func finishLearning(t testing.TB, l *Layout) {
	for i := 0; i < l.Len(); i++ {
		c := l.At(i)
		for _, n := range c.Learners {
			applyAll(t, l, []Proposal{{Gpid: c.Gpid, Ballot: c.Ballot,
				Actions: []Action{{Type: UpgradeToSecondary, Target: c.Primary, Node: n}}}})
			c, _ = l.Config(c.Gpid)
		}
	}
}

// TestBalancerConvergence runs the balancer on 200 random skewed layouts until
// it stops, applying its proposals and completing learners between rounds,
// and checks that every table ends within one of even per node, for
// primaries and for replicas, and that no partition was ever short of
// members or primary.
func TestBalancerConvergence(t *testing.T) {
	for seed := uint64(1); seed <= 200; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			n := 3 + rng.IntN(8)
			nodes := make([]string, n)
			for i := range nodes {
				nodes[i] = fmt.Sprintf("n%02d", i)
			}
			tables := 1 + rng.IntN(3)
			l := skewedLayout(t, rng, nodes, tables, 40)
			view := nodesAlive(nodes...)
			var b Balancer
			rounds := 0
			for ; rounds < 500; rounds++ {
				res := b.Balance(BalanceInput{Layout: l, Nodes: view})
				if res.Blocked != "" {
					t.Fatalf("round %d blocked: %s", rounds, res.Blocked)
				}
				checkOneMovePerNode(t, &b)
				applyAll(t, l, res.Proposals)
				for i := 0; i < l.Len(); i++ {
					if c := l.At(i); c.Primary == "" || c.ReplicaCount() < 3 {
						t.Fatalf("round %d: %v short", rounds, c)
					}
				}
				finishLearning(t, l)
				if res.Balanced() {
					break
				}
			}
			tp, tr, cp, cr := spreads(l, nodes)
			t.Logf("%d nodes, %d partitions: %d rounds; spreads table prim %d repl %d, cluster prim %d repl %d",
				n, l.Len(), rounds, tp, tr, cp, cr)
			if rounds == 500 || tp > 1 || tr > 1 {
				t.Fatalf("not balanced after %d rounds: table spreads primaries %d replicas %d", rounds, tp, tr)
			}
			// Per-table evenness bounds the cluster totals by the number of
			// tables; the cluster-wide pass usually gets them within one.
			if cp > tables || cr > tables {
				t.Fatalf("cluster spreads primaries %d replicas %d with %d tables", cp, cr, tables)
			}
		})
	}
}

// checkOneMovePerNode: a node takes part in one move at a time, except the
// inner nodes of a chain of primary moves (each of which gains and loses
// one primary).
func checkOneMovePerNode(t testing.TB, b *Balancer) {
	t.Helper()
	copies := map[string]Gpid{}
	for g, m := range b.moves {
		if m.kind != copySecondary {
			continue
		}
		for _, n := range []string{m.from, m.to} {
			if other, ok := copies[n]; ok {
				t.Fatalf("node %s in two copies: %s and %s", n, other, g)
			}
			copies[n] = g
		}
	}
	for g, m := range b.moves {
		if m.kind != movePrimary {
			continue
		}
		for _, n := range []string{m.from, m.to} {
			if other, ok := copies[n]; ok {
				t.Fatalf("node %s in a copy (%s) and a primary move (%s)", n, other, g)
			}
		}
	}
}

func TestBalancerPrimaryChain(t *testing.T) {
	// a has 3 primaries, c has 1 and b 2; a's partitions have secondaries
	// only on b, so only the chain a->b->c helps.
	l := layoutOf(t,
		"1.0 p=a s=b,x", "1.1 p=a s=b,x", "1.2 p=a s=b,x",
		"1.3 p=b s=c,x", "1.4 p=b s=c,x",
		"1.5 p=c s=a,x",
		"1.6 p=x s=a,b", "1.7 p=x s=c,a",
	)
	var b Balancer
	res := b.Balance(BalanceInput{Layout: l, Nodes: nodesAlive("a", "b", "c", "x")})
	want := "1.0@1 DOWNGRADE_TO_SECONDARY(a,a) UPGRADE_TO_PRIMARY(b,b)\n" +
		"1.3@1 DOWNGRADE_TO_SECONDARY(b,b) UPGRADE_TO_PRIMARY(c,c)\n"
	if got := proposalsText(res.Proposals); got != want {
		t.Fatalf("proposals\n%s\nwant\n%s", got, want)
	}
	applyAll(t, l, res.Proposals)
	if a, b, c := l.Load("a").Primary, l.Load("b").Primary, l.Load("c").Primary; a != 2 || b != 2 || c != 2 {
		t.Fatalf("primaries a=%d b=%d c=%d", a, b, c)
	}
}

// TestBalancerCopySteps follows one copy: add, wait for learning, remove.
func TestBalancerCopySteps(t *testing.T) {
	l := layoutOf(t, "1.0 b=4 p=a s=b,c", "1.1 p=b s=c,a", "1.2 p=c s=a,b")
	view := nodesAlive("a", "b", "c", "d")
	var b Balancer
	step := func(want string) {
		t.Helper()
		res := b.Balance(BalanceInput{Layout: l, Nodes: view})
		if got := proposalsText(res.Proposals); got != want {
			t.Fatalf("proposals\n%s\nwant\n%s", got, want)
		}
		applyAll(t, l, res.Proposals)
	}
	// d is empty; 3 replicas each on a, b, c. a copy of a secondary on the
	// most loaded node (cluster-wide ties: address order) goes to d.
	res := b.Balance(BalanceInput{Layout: l, Nodes: view})
	if len(res.Proposals) != 1 || res.Proposals[0].Actions[0].Type != AddSecondary || res.Proposals[0].Actions[0].Node != "d" {
		t.Fatalf("first round %v", res.Proposals)
	}
	p := res.Proposals[0]
	g := p.Gpid
	// Not applied yet (say the etcd write failed): the same proposal again.
	step(proposalsText([]Proposal{p}))
	// Learning: nothing to do for this partition.
	step("")
	if b.Pending() != 1 {
		t.Fatalf("pending %d", b.Pending())
	}
	// Learner upgraded: the source goes.
	finishLearning(t, l)
	c, _ := l.Config(g)
	from := b.moves[g].from
	step(fmt.Sprintf("%s@%d REMOVE(%s,%s)\n", g, c.Ballot, c.Primary, from))
	if got := l.Load("d").Replicas(); got != 1 {
		t.Fatalf("d holds %d", got)
	}
	// Completed: the move is forgotten (a new one may start elsewhere).
	b.Balance(BalanceInput{Layout: l, Nodes: view})
	if m := b.moves[g]; m != nil && m.from == from && m.to == "d" {
		t.Fatalf("finished move kept")
	}
}

// TestBalancerWaitsForHealth: no new move while a partition is short or a
// member dead; Clear drops pending moves.
func TestBalancerWaitsForHealth(t *testing.T) {
	l := layoutOf(t, "1.0 p=a s=b,c", "1.1 p=a s=b,c", "1.2 p=a s=b")
	var b Balancer
	res := b.Balance(BalanceInput{Layout: l, Nodes: nodesAlive("a", "b", "c")})
	if len(res.Proposals) != 0 || res.Blocked == "" {
		t.Fatalf("short partition: %v %q", res.Proposals, res.Blocked)
	}
	l = layoutOf(t, "1.0 p=a s=b,c", "1.1 p=a s=b,c", "1.2 p=a s=b,c")
	res = b.Balance(BalanceInput{Layout: l, Nodes: nodesAlive("a", "b", "d")})
	if len(res.Proposals) != 0 || res.Blocked == "" {
		t.Fatalf("dead member: %v %q", res.Proposals, res.Blocked)
	}
	res = b.Balance(BalanceInput{Layout: l, Nodes: nodesAlive("a", "b", "c")})
	if len(res.Proposals) == 0 || b.Pending() == 0 {
		t.Fatal("healthy skewed layout: no move")
	}
	b.Clear()
	if b.Pending() != 0 || b.Owns(res.Proposals[0].Gpid) {
		t.Fatal("Clear kept moves")
	}
}
