package plan

import (
	"strings"
	"testing"
	"time"
)

// TestDowngradeWaitsForRepairElsewhere: while r1 is being drained, r2
// crashes on its own and stays down 50 s. Partitions r1 shares with r2
// are left with r1 and a primary, and the meta server refuses to take r1
// out of them (too few members would remain) until r2 is back and
// re-learnt. The drain waits for that repair, naming the partition it
// waits for, instead of failing the roll after its own 31 s timeout; then
// the roll goes on and ends with the cluster whole.
func TestDowngradeWaitsForRepairElsewhere(t *testing.T) {
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r0", "r1", "r2"}, 2, 4, "", "1.0", "lively")
	p, err := Build(c.snapshot(""), Options{Mode: ModeHA, Nodes: []string{"r0", "r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{c: c, m: NewMachine(p)}
	h.run(600, func() bool {
		_, step, st, ok := h.m.Current()
		return ok && step.Kind == KindDowngrade && step.Node == "r1" && st.Status == StepRunning
	})
	_, step, _, _ := h.m.Current()
	if step.Kind != KindDowngrade || step.Node != "r1" {
		t.Fatalf("never reached r1's downgrade: %s", h.m.Reason())
	}
	c.crash("r2")
	var observed string
	for range 50 {
		h.next(time.Second)
		if _, _, st, ok := h.m.Current(); ok && st.Observed != "" {
			observed = st.Observed
		}
	}
	if h.m.Status().Terminal() {
		t.Fatalf("roll ended while r2 was down: %s: %s", h.m.Status(), h.m.Reason())
	}
	if !strings.Contains(observed, "1.") || !strings.Contains(observed, "repair") {
		t.Errorf("the blocked drain does not name the partition it waits for: %q", observed)
	}
	c.server("r2").running = true
	h.run(600, func() bool { return false })
	if h.m.Status() != StatusSucceeded {
		t.Fatalf("roll %s: %s\n%s", h.m.Status(), h.m.Reason(), c.describe())
	}
	requireWhole(t, h)
}

// TestDrainBlockedPastRepairTimeFails: a partition short of a member
// elsewhere that is never repaired fails the drain once the repair
// allowance (wait-healthy's timeout) has passed, with the partition named.
func TestDrainBlockedPastRepairTimeFails(t *testing.T) {
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r0", "r1", "r2"}, 2, 4, "", "1.0", "lively")
	p, err := Build(c.snapshot(""), Options{Mode: ModeHA, Nodes: []string{"r0", "r1", "r2"}})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{c: c, m: NewMachine(p)}
	h.run(600, func() bool {
		_, step, st, ok := h.m.Current()
		return ok && step.Kind == KindDowngrade && step.Node == "r1" && st.Status == StepRunning
	})
	c.crash("r2")
	h.run(3600, func() bool { return h.m.Status() != StatusRunning })
	if st := h.m.Status(); st == StatusSucceeded || st == StatusRunning {
		t.Fatalf("roll %s with r2 down for good", st)
	}
	if r := h.m.Reason(); !strings.Contains(r, "downgrade_node") || !strings.Contains(r, "repair") {
		t.Errorf("reason %q does not say the drain waited for a repair", r)
	}
	t.Logf("reason: %s", h.m.Reason())
	if secs := h.now.Seconds(); secs < 120 {
		t.Errorf("gave up after %.0f s, before the repair allowance", secs)
	}
}
