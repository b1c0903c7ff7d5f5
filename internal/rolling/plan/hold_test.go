package plan

import (
	"fmt"
	"testing"
	"time"
)

// A pause, whether an operator's or an availability dip's, arriving at any
// step of a replica server's turn, never holds the cluster degraded: ten
// minutes later the roll is paused, every replica server runs and serves
// every replica it had, every partition is fully healthy and
// add_secondary_max_count_for_one_node is not 0.
func TestPauseNeverHoldsANodeOut(t *testing.T) {
	probe := haHarness(t)
	var replicaSteps []int
	for i, s := range probe.m.State().Plan.Steps {
		if s.Phase == PhaseReplica && s.Node == "r2" {
			replicaSteps = append(replicaSteps, i+1)
		}
	}
	for _, cause := range []string{"operator", "availability"} {
		for _, at := range replicaSteps {
			t.Run(fmt.Sprintf("%s/step%d", cause, at), func(t *testing.T) {
				h := haHarness(t)
				h.run(3600, func() bool {
					n, _, st, _ := h.m.Current()
					return n == at && st.Emitted
				})
				if n, _, _, _ := h.m.Current(); n != at {
					t.Fatalf("never reached step %d", at)
				}
				switch cause {
				case "operator":
					if err := h.m.Pause(epoch.Add(h.now), "look"); err != nil {
						t.Fatal(err)
					}
				default:
					h.c.availability = 0.5
				}
				for range 600 {
					h.next(time.Second)
				}
				if st := h.m.Status(); st != StatusPaused {
					t.Fatalf("status %s after 10 minutes: %s", st, h.m.Reason())
				}
				requireWhole(t, h)
			})
		}
	}
}

// requireWhole fails unless every replica server runs, holds every
// replica it had, the cluster is fully healthy and re-replication is not
// held at 0.
func requireWhole(t *testing.T, h *harness) {
	t.Helper()
	for _, r := range h.c.replicas() {
		if _, _, missing := h.c.counts(r.node); !r.running || missing != 0 {
			t.Errorf("%s running=%v, %d replicas not re-learned", r.node, r.running, missing)
		}
	}
	if v := h.c.view().Tables[0]; v.FullyHealthy != v.PartitionCount {
		t.Errorf("fully healthy %d of %d", v.FullyHealthy, v.PartitionCount)
	}
	if h.c.knobs[KnobAddSecondaryMax] == "0" {
		t.Errorf("%s left at 0", KnobAddSecondaryMax)
	}
	if t.Failed() {
		t.Logf("%s\n%s", h.describeMachine(), h.c.describe())
	}
}

// A roll that fails half-way through a replica server's drain, or is
// aborted there, ends only once that server is whole again: cleanup
// restores the knobs and then waits until every partition is fully
// healthy, so a halt never leaves a node drained.
func TestHaltNeverLeavesANodeDrained(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault string
		abort StepKind // abort when r2's step of this kind is emitted
	}{
		{name: "migrate stuck", fault: "migrate-stuck"},
		{name: "close stuck", fault: "close-stuck"},
		{name: "abort at close", abort: KindCloseReplicas},
		{name: "abort at stop", abort: KindStop},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := haHarness(t)
			at := 0
			for i, s := range h.m.State().Plan.Steps {
				if s.Node == "r2" && s.Kind == tc.abort {
					at = i + 1
				}
			}
			h.c.learnTicks = 5
			if tc.fault != "" {
				h.c.faults[tc.fault+" r2"] = "stuck"
			}
			if tc.abort != "" {
				h.run(3600, func() bool {
					n, _, st, _ := h.m.Current()
					return n == at && st.Emitted
				})
				if err := h.m.Abort(epoch.Add(h.now), "test"); err != nil {
					t.Fatal(err)
				}
			}
			h.run(3600, func() bool { return false })
			if st := h.m.Status(); st != StatusFailed && st != StatusAborted {
				t.Fatalf("status %s: %s", st, h.m.Reason())
			}
			requireWhole(t, h)
		})
	}
}
