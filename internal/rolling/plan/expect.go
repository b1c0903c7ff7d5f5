package plan

import "slices"

// expectedMoves predicts, for a dry run, where migrate_node will hand
// each restarted replica server's primaries, batch by batch over the
// snapshot's layout: to an alive secondary outside the batch, the one
// leading fewest partitions at that moment (the meta server prefers the
// most caught-up secondary first, which a snapshot cannot know; in a
// quiet cluster they are all caught up). A drained server comes back as a
// secondary of everything it held, so later batches see it lead nothing;
// the final restore-primaries steps hand everything back. Partitions
// with no secondary outside the batch are left out: migrate_node refuses
// them.
func expectedMoves(parts []PartitionView, batches [][]string) map[string][]PrimaryMove {
	primary := make(map[string]string, len(parts)) // gpid -> current primary
	leads := make(map[string]int)                  // node -> primaries now
	for _, p := range parts {
		if p.Primary != "" {
			primary[p.Gpid] = p.Primary
			leads[p.Primary]++
		}
	}
	out := make(map[string][]PrimaryMove)
	for _, batch := range batches {
		for _, node := range batch {
			for _, p := range parts {
				if primary[p.Gpid] != node {
					continue
				}
				// Candidates: the partition's other members (the
				// snapshot's primary may be a secondary by now).
				var cand []string
				for _, n := range append([]string{p.Primary}, p.Secondaries...) {
					if n != "" && n != node && !slices.Contains(batch, n) && !slices.Contains(cand, n) {
						cand = append(cand, n)
					}
				}
				if len(cand) == 0 {
					continue
				}
				to := cand[0]
				for _, c := range cand[1:] {
					if leads[c] < leads[to] {
						to = c
					}
				}
				out[node] = append(out[node], PrimaryMove{Gpid: p.Gpid, From: node, To: to})
				primary[p.Gpid] = to
				leads[node]--
				leads[to]++
			}
		}
	}
	return out
}
