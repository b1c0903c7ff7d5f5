package meta

import (
	"fmt"
	"slices"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

func TestPlaceTableEven(t *testing.T) {
	type shape struct{ nodes, partitions, replicas int }
	var shapes []shape
	for n := 1; n <= 12; n++ {
		for p := 1; p <= 512; p *= 2 {
			for r := 1; r <= min(n, 5); r++ {
				shapes = append(shapes, shape{n, p, r})
			}
		}
	}
	shapes = append(shapes, shape{100, 4096, 3}, shape{1000, 1024, 3})
	for _, tc := range shapes {
		t.Run(fmt.Sprintf("%dn_%dp_%dr", tc.nodes, tc.partitions, tc.replicas), func(t *testing.T) {
			nodes := make([]string, tc.nodes)
			for i := range nodes {
				nodes[i] = fmt.Sprintf("10.0.0.%d:34801", i)
			}
			cfgs := placeTable(3, int32(tc.partitions), int32(tc.replicas), nodes, func(string) decide.NodeLoad { return decide.NodeLoad{} })
			prim, repl := map[string]int{}, map[string]int{}
			for i, c := range cfgs {
				if c.Gpid != (decide.Gpid{AppID: 3, Index: int32(i)}) || c.Ballot != 1 || int(c.MaxReplicaCount) != tc.replicas {
					t.Fatalf("partition %d: %s", i, c)
				}
				if err := c.Check(); err != nil || c.ReplicaCount() != tc.replicas {
					t.Fatalf("partition %s: %v", c, err)
				}
				prim[c.Primary]++
				for _, m := range members(c) {
					repl[m]++
				}
			}
			within1 := func(m map[string]int, total int) {
				t.Helper()
				lo, hi := total, 0
				for _, n := range nodes {
					lo, hi = min(lo, m[n]), max(hi, m[n])
				}
				if hi-lo > 1 {
					t.Fatalf("counts %v spread %d..%d", m, lo, hi)
				}
			}
			within1(prim, tc.partitions)
			within1(repl, tc.partitions*tc.replicas)
		})
	}
}

// Ties lean towards the nodes the rest of the cluster loads least, and the
// result does not depend on the order nodes are given in.
func TestPlaceTableConsidersClusterLoad(t *testing.T) {
	nodes := []string{"a:1", "b:1", "c:1", "d:1"}
	load := map[string]decide.NodeLoad{"a:1": {Primary: 5, Secondary: 10}, "b:1": {Primary: 5, Secondary: 10}}
	cfgs := placeTable(1, 1, 2, nodes, func(n string) decide.NodeLoad { return load[n] })
	for _, c := range cfgs {
		for _, m := range members(c) {
			if m == "a:1" || m == "b:1" {
				t.Fatalf("loaded node %s chosen while empty ones were free: %s", m, c)
			}
		}
	}
	rev := slices.Clone(nodes)
	slices.Reverse(rev)
	again := placeTable(1, 1, 2, rev, func(n string) decide.NodeLoad { return load[n] })
	for i := range cfgs {
		if cfgs[i].String() != again[i].String() {
			t.Fatalf("placement depends on node order: %s vs %s", cfgs[i], again[i])
		}
	}
}
