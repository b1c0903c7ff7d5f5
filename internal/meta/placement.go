package meta

import (
	"container/heap"
	"math"
	"slices"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// placeTable chooses the members of every partition of a new table: one
// primary and replicas-1 secondaries on distinct nodes, ballot 1.
//
// Each partition's group is the replicas nodes with the fewest replicas of
// this table, then the fewest roles cluster-wide, then the lowest address:
// taking the least loaded each time keeps every node's replica count for
// the table within one of every other's. The primary is the group member
// with the fewest primaries of the table (then cluster-wide); a last pass
// hands primary roles along chains of groups until the primary counts are
// even too (evenPrimaries). Ties lean towards the nodes the rest of the
// cluster loads least, which leaves the balancer little to do.
//
// Writing complete groups at once, instead of Pegasus' empty
// configurations followed by ASSIGN_PRIMARY and one ADD_SECONDARY per
// replica, is safe because every replica starts empty: there is nothing to
// learn. It saves two learner rounds (and two ballots) per partition, and
// keeps a large table's creation out of add-secondary flow control.
//
// nodes must hold at least replicas distinct alive nodes; load gives each
// node's current roles.
func placeTable(app, count, replicas int32, nodes []string, load func(string) decide.NodeLoad) []decide.PartitionConfig {
	repl := &placeHeap{}
	byName := make(map[string]*placeStat, len(nodes))
	for _, n := range nodes {
		l := load(n)
		s := &placeStat{name: n, clusterPrim: l.Primary, clusterRepl: l.Roles()}
		repl.items = append(repl.items, s)
		byName[n] = s
	}
	heap.Init(repl)
	primLess := func(a, b *placeStat) bool {
		if a.tablePrim != b.tablePrim {
			return a.tablePrim < b.tablePrim
		}
		if a.clusterPrim != b.clusterPrim {
			return a.clusterPrim < b.clusterPrim
		}
		return a.name < b.name
	}
	out := make([]decide.PartitionConfig, count)
	group := make([]*placeStat, 0, replicas)
	for i := range out {
		group = group[:0]
		for len(group) < int(replicas) && repl.Len() > 0 {
			group = append(group, heap.Pop(repl).(*placeStat))
		}
		p := group[0]
		for _, s := range group[1:] {
			if primLess(s, p) {
				p = s
			}
		}
		p.tablePrim++
		p.clusterPrim++
		cfg := decide.PartitionConfig{
			Gpid:            decide.Gpid{AppID: app, Index: int32(i)},
			Ballot:          1,
			MaxReplicaCount: replicas,
			Primary:         p.name,
		}
		for _, s := range group {
			if s != p {
				cfg.Secondaries = append(cfg.Secondaries, s.name)
			}
			s.tableRepl++
			s.clusterRepl++
			heap.Push(repl, s)
		}
		out[i] = cfg
	}
	evenPrimaries(out, byName)
	return out
}

// evenPrimaries moves primary roles along chains of groups until no node
// has two primaries of the table more than a node it can reach: a chain
// u -> v -> w hands u's primary in a group shared with v to v, and one of
// v's to w in a group they share, so only the two ends change count. Every
// chain moves one primary from a node to one with at least two fewer,
// which lowers the sum of squared counts, so the loop ends.
func evenPrimaries(cfgs []decide.PartitionConfig, stats map[string]*placeStat) {
	for {
		path := primaryChain(cfgs, stats)
		if path == nil {
			return
		}
		for _, i := range path {
			c := &cfgs[i.partition]
			c.Primary, c.Secondaries[i.secondary] = c.Secondaries[i.secondary], c.Primary
		}
		stats[cfgs[path[0].partition].Secondaries[path[0].secondary]].tablePrim--
		stats[cfgs[path[len(path)-1].partition].Primary].tablePrim++
	}
}

// chainHop hands the primary of cfgs[partition] to its secondary at index
// secondary.
type chainHop struct {
	partition, secondary int
}

// primaryChain finds a shortest chain from a node with the most primaries
// (trying lower counts in turn) to a node with at least two fewer.
func primaryChain(cfgs []decide.PartitionConfig, stats map[string]*placeStat) []chainHop {
	primaryOf := make(map[string][]int)
	for i, c := range cfgs {
		primaryOf[c.Primary] = append(primaryOf[c.Primary], i)
	}
	lo, hi := math.MaxInt, 0
	for _, s := range stats {
		lo, hi = min(lo, s.tablePrim), max(hi, s.tablePrim)
	}
	for h := hi; h-lo >= 2; h-- {
		type visit struct {
			from string
			hop  chainHop
		}
		seen := make(map[string]visit)
		var layer []string
		for n, s := range stats {
			if s.tablePrim == h {
				seen[n] = visit{}
				layer = append(layer, n)
			}
		}
		slices.Sort(layer)
		for len(layer) > 0 {
			var next []string
			for _, u := range layer {
				for _, i := range primaryOf[u] {
					for j, v := range cfgs[i].Secondaries {
						if _, ok := seen[v]; ok {
							continue
						}
						seen[v] = visit{from: u, hop: chainHop{partition: i, secondary: j}}
						if stats[v].tablePrim <= h-2 {
							var path []chainHop
							for n := v; seen[n].from != ""; n = seen[n].from {
								path = append(path, seen[n].hop)
							}
							slices.Reverse(path)
							return path
						}
						next = append(next, v)
					}
				}
			}
			layer = next
		}
	}
	return nil
}

type placeStat struct {
	name                   string
	tablePrim, clusterPrim int
	tableRepl, clusterRepl int
}

// placeHeap is a min-heap of nodes by replica load: this table's, then
// the cluster's, then the address.
type placeHeap struct {
	items []*placeStat
}

func (h *placeHeap) Len() int { return len(h.items) }
func (h *placeHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if a.tableRepl != b.tableRepl {
		return a.tableRepl < b.tableRepl
	}
	if a.clusterRepl != b.clusterRepl {
		return a.clusterRepl < b.clusterRepl
	}
	return a.name < b.name
}
func (h *placeHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *placeHeap) Push(x any)    { h.items = append(h.items, x.(*placeStat)) }
func (h *placeHeap) Pop() any {
	s := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return s
}
