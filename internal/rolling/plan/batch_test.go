package plan

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestBatchesProperty: over random layouts (nodes, zones, some unlabelled,
// partitions with up to three replicas on distinct nodes) and random
// --parallel, every replica server is in exactly one batch, in the
// servers' order of first appearance; a batch has at most parallel
// servers, all of one zone; no two servers of a batch hold a replica of
// the same partition; and the canary batch is one server.
func TestBatchesProperty(t *testing.T) {
	seeds := 2000
	if testing.Short() {
		seeds = 200
	}
	for seed := range seeds {
		rnd := rand.New(rand.NewPCG(uint64(seed), 11))
		n := 2 + rnd.IntN(11)
		zones := []string{"", "a", "b", "c"}[:1+rnd.IntN(4)]
		var replicas []ReplicaServer
		for i := range n {
			replicas = append(replicas, ReplicaServer{Node: fmt.Sprintf("r%d", i), Zone: zones[rnd.IntN(len(zones))]})
		}
		var parts []PartitionView
		for p := range rnd.IntN(40) {
			members := rnd.Perm(n)[:min(3, n)]
			pv := PartitionView{Gpid: fmt.Sprintf("1.%d", p), Primary: replicas[members[0]].Node}
			for _, m := range members[1:] {
				pv.Secondaries = append(pv.Secondaries, replicas[m].Node)
			}
			parts = append(parts, pv)
		}
		parallel := 1 + rnd.IntN(4)
		canary := rnd.IntN(2) == 0
		got := batches(replicas, parts, parallel, canary)

		where := fmt.Sprintf("seed %d (parallel %d, canary %v): %v", seed, parallel, canary, got)
		var order []string
		for bi, b := range got {
			if len(b) == 0 || len(b) > parallel {
				t.Fatalf("%s: batch %d has %d servers", where, bi, len(b))
			}
			if canary && bi == 0 && len(b) != 1 {
				t.Fatalf("%s: the canary batch is not one server", where)
			}
			zone := ""
			for i, node := range b {
				var r ReplicaServer
				for _, x := range replicas {
					if x.Node == node {
						r = x
					}
				}
				if i == 0 {
					zone = r.Zone
				}
				if len(b) > 1 && (r.Zone == "" || r.Zone != zone) {
					t.Fatalf("%s: batch %d mixes zones", where, bi)
				}
			}
			if g, a, c := sharedPartition(parts, b); g != "" {
				t.Fatalf("%s: batch %d restarts %s and %s, both holding %s", where, bi, a, c, g)
			}
			order = append(order, b...)
		}
		var all []string
		for _, r := range replicas {
			all = append(all, r.Node)
		}
		sorted := slices.Clone(order)
		slices.Sort(sorted)
		want := slices.Clone(all)
		slices.Sort(want)
		if !slices.Equal(sorted, want) {
			t.Fatalf("%s: servers %v, want each of %v once", where, order, all)
		}
		// Each batch opens with the first server not yet placed.
		seen := map[string]bool{}
		for _, b := range got {
			for _, r := range all {
				if !seen[r] {
					if b[0] != r {
						t.Fatalf("%s: batch %v opens out of order (next is %s)", where, b, r)
					}
					break
				}
			}
			for _, x := range b {
				seen[x] = true
			}
		}
	}
}

// TestParallelRollNeverTakesTwoReplicasOfAPartition: a roll of six replica
// servers in two zones with --parallel 2 restarts pairs of one zone that
// share no partition, and at no point during the roll has any partition
// more than one replica taken out.
func TestParallelRollNeverTakesTwoReplicasOfAPartition(t *testing.T) {
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r0", "r1", "r2", "r3", "r4", "r5"}, 2, 4, "", "1.0", "lively")
	// Partition i lives on r(i), r(i+1), r(i+2): r0 and r3 share none.
	for i, z := range []string{"a", "b", "b", "a", "b", "a"} {
		c.server(fmt.Sprintf("r%d", i)).zone = z
	}
	p, err := Build(c.snapshot(""), Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(p.Batches); got != "[[r0 r3] [r1 r4] [r2] [r5]]" {
		t.Fatalf("batches %s", got)
	}
	h := &harness{c: c, m: NewMachine(p)}
	worst := 0
	together := 0
	for i := 0; i < 3600 && !h.m.Status().Terminal(); i++ {
		h.next(time.Second)
		down := 0
		for _, r := range c.replicas() {
			if !r.running {
				down++
			}
		}
		together = max(together, down)
		for _, part := range c.parts {
			worst = max(worst, len(part.dropped))
		}
	}
	if h.m.Status() != StatusSucceeded {
		t.Fatalf("roll %s: %s", h.m.Status(), h.m.Reason())
	}
	if worst > 1 {
		t.Fatalf("a partition had %d replicas out at once", worst)
	}
	if together != 2 {
		t.Fatalf("at most %d servers were down at once, want 2", together)
	}
	requireWhole(t, h)
}

// TestExpectedMovesMatchTheRoll: the dry run's predicted handovers per
// replica server (ha mode, one at a time and in batches) are as many as
// the roll's drains then actually made on the fake cluster, whose meta
// server hands a primary to the alive secondary leading fewest, and each
// goes to a member of the partition outside the batch.
func TestExpectedMovesMatchTheRoll(t *testing.T) {
	for _, parallel := range []int{1, 2} {
		c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r0", "r1", "r2", "r3", "r4", "r5"}, 2, 4, "", "1.0", "lively")
		for i, z := range []string{"a", "b", "b", "a", "b", "a"} {
			c.server(fmt.Sprintf("r%d", i)).zone = z
		}
		p, err := Build(c.snapshot(""), Options{Parallel: parallel})
		if err != nil {
			t.Fatal(err)
		}
		for _, batch := range p.Batches {
			for _, node := range batch {
				for _, m := range p.Moves[node] {
					var pv PartitionView
					for _, x := range c.partitionViews() {
						if x.Gpid == m.Gpid {
							pv = x
						}
					}
					if !pv.Holds(m.To) || slices.Contains(batch, m.To) || m.From != node {
						t.Errorf("parallel %d: predicted %v, partition %+v, batch %v", parallel, m, pv, batch)
					}
				}
			}
		}
		h := &harness{c: c, m: NewMachine(p)}
		h.run(3600, func() bool { return false })
		if h.m.Status() != StatusSucceeded {
			t.Fatalf("roll %s: %s", h.m.Status(), h.m.Reason())
		}
		st := h.m.State()
		for i, step := range st.Plan.Steps {
			if step.Kind != KindMigrate {
				continue
			}
			moved := st.Steps[i].Before - st.Steps[i].Left
			if want := len(p.Moves[step.Node]); moved != want {
				t.Errorf("parallel %d: %s handed over %d primaries, the dry run expected %d (%v)",
					parallel, step.Node, moved, want, p.Moves[step.Node])
			}
		}
	}
}
