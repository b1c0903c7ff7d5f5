package plan

import (
	"fmt"
	"testing"
)

// TestPrimariesEndWhereTheyWere: migrate_node moves each drained node's
// primaries to its secondaries, and nothing moves them back, so without
// more an HA roll ends with the primaries on the nodes restarted last
// (seen as 8/8/0 on three nodes). After the last replica server the roll
// hands every partition's primary back to the node that led it before:
// every partition has the same primary as before the roll, and so every
// node the same primary count.
func TestPrimariesEndWhereTheyWere(t *testing.T) {
	for _, mode := range []Mode{ModeHA, ModeSimple} {
		t.Run(string(mode), func(t *testing.T) {
			h := haHarness(t)
			if mode == ModeSimple {
				c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r1", "r2", "r3", "r4", "r5"}, 4, 8, "c1", "1.0", "lively")
				p, err := Build(c.snapshot(""), Options{Mode: ModeSimple})
				if err != nil {
					t.Fatal(err)
				}
				h = &harness{c: c, m: NewMachine(p)}
			}
			before := map[string]string{}
			for _, p := range h.c.parts {
				before[p.gpid] = p.primary
			}
			counts := func() string {
				var out string
				for _, r := range h.c.replicas() {
					p, _, _ := h.c.counts(r.node)
					out += fmt.Sprintf("%s=%d ", r.node, p)
				}
				return out
			}
			wantCounts := counts()
			h.run(3600, func() bool { return false })
			if h.m.Status() != StatusSucceeded {
				t.Fatalf("roll %s: %s", h.m.Status(), h.m.Reason())
			}
			if got := counts(); got != wantCounts {
				t.Errorf("primaries per node after the roll %s, before %s", got, wantCounts)
			}
			for _, p := range h.c.parts {
				if p.primary != before[p.gpid] {
					t.Errorf("%s led by %s, before the roll by %s", p.gpid, p.primary, before[p.gpid])
				}
			}
			r := h.m.Report()
			restored := 0
			for _, n := range r.Nodes {
				restored += n.PrimariesRestored
			}
			if restored == 0 {
				t.Errorf("report counts no primary put back: %+v", r.Nodes)
			}
		})
	}
}
