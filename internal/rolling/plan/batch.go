package plan

import "slices"

// batches groups the replica servers to restart into the batches the roll
// takes down together, in order. A batch holds at most parallel servers,
// all of one zone, no two of which hold a replica (primary or secondary)
// of the same partition: restarting a batch then takes at most one replica
// of any partition down, as restarting one server does, and a zone outage
// during the roll costs no more than it would have anyway.
//
// The grouping is greedy and deterministic: zones in the order their
// first server appears, each batch opened by the next server not yet
// placed and filled with the following servers of its zone that share no
// partition with any server already in it. Servers without a zone, or a
// cluster whose partitions are unknown, go one at a time: nothing proves
// them independent. With canary the first batch is one server alone.
func batches(replicas []ReplicaServer, parts []PartitionView, parallel int, canary bool) [][]string {
	holds := make(map[string]map[string]bool) // node -> partitions it holds
	for _, p := range parts {
		for _, n := range append([]string{p.Primary}, p.Secondaries...) {
			if n == "" {
				continue
			}
			if holds[n] == nil {
				holds[n] = make(map[string]bool)
			}
			holds[n][p.Gpid] = true
		}
	}
	share := func(a, b string) bool {
		for g := range holds[a] {
			if holds[b][g] {
				return true
			}
		}
		return false
	}
	placed := make(map[string]bool)
	var out [][]string
	for i, r := range replicas {
		if placed[r.Node] {
			continue
		}
		placed[r.Node] = true
		batch := []string{r.Node}
		if parallel > 1 && r.Zone != "" && parts != nil && !(canary && len(out) == 0) {
			for _, o := range replicas[i+1:] {
				if len(batch) == parallel {
					break
				}
				if placed[o.Node] || o.Zone != r.Zone ||
					slices.ContainsFunc(batch, func(n string) bool { return share(n, o.Node) }) {
					continue
				}
				placed[o.Node] = true
				batch = append(batch, o.Node)
			}
		}
		out = append(out, batch)
	}
	return out
}

// sharedPartition returns a partition two of nodes both hold, and the two,
// or "".
func sharedPartition(parts []PartitionView, nodes []string) (gpid, a, b string) {
	for _, p := range parts {
		var in []string
		for _, n := range nodes {
			if p.Holds(n) {
				in = append(in, n)
			}
		}
		if len(in) > 1 {
			return p.Gpid, in[0], in[1]
		}
	}
	return "", "", ""
}
