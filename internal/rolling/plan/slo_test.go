package plan

import (
	"errors"
	"strings"
	"testing"
)

// sloHarness is the standard cluster upgrading to 1.1, with a collector,
// the SLO gate and a canary bake.
func sloHarness(t *testing.T, o Options) *harness {
	t.Helper()
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r1", "r2", "r3", "r4", "r5"}, 4, 8, "c1", "1.0", "lively")
	o.Upgrade = true
	p, err := Build(c.snapshot("1.1"), o)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{c: c, m: NewMachine(p)}
}

func versions(h *harness) map[string]string {
	out := map[string]string{}
	for _, s := range h.c.servers {
		out[s.node] = s.version
	}
	return out
}

// TestSLOGateHaltsABadCanaryAndRollsBack: the new version makes every
// request slow once it runs anywhere (a bad build). The baseline is taken
// before anything is touched; the canary r1 is upgraded; during its bake
// the clients' p99 is far above the baseline, and after the breach lasted
// the sustain time the roll halts. With AutoRollback it takes r1 back to
// 1.0 by itself and ends rolled back with every server on 1.0, primaries
// and knobs as before; without, it holds until the operator rolls back.
func TestSLOGateHaltsABadCanaryAndRollsBack(t *testing.T) {
	for _, auto := range []bool{true, false} {
		name := "operator"
		if auto {
			name = "auto"
		}
		t.Run(name, func(t *testing.T) {
			h := sloHarness(t, Options{AutoRollback: auto})
			h.c.faults["slow-version 1.1"] = "slow"
			before := versions(h)
			primaries := map[string]string{}
			for _, p := range h.c.parts {
				primaries[p.gpid] = p.primary
			}
			h.run(3600, func() bool { return h.m.Status() == StatusPaused })
			st := h.m.State()
			if st.Baseline == nil || st.Baseline.Tables["temp"].P99 != fastP99 {
				t.Fatalf("baseline %+v", st.Baseline)
			}
			if !auto {
				if h.m.Status() != StatusPaused || !strings.Contains(h.m.Reason(), "halted: SLO breached: probe p99 80ms > 2.0 x baseline 2ms") {
					t.Fatalf("status %s: %s", h.m.Status(), h.m.Reason())
				}
				// The canary stays up and whole while held; nothing else
				// was touched.
				if v := versions(h); v["r1"] != "1.1" || v["r2"] != "1.0" {
					t.Fatalf("versions while halted %v", v)
				}
				requireWhole(t, h)
				if err := h.m.Rollback(epoch.Add(h.now), "canary too slow"); err != nil {
					t.Fatal(err)
				}
				h.run(3600, func() bool { return false })
			}
			if h.m.Status() != StatusRolledBack {
				t.Fatalf("status %s: %s", h.m.Status(), h.m.Reason())
			}
			if v := versions(h); fmtMap(v) != fmtMap(before) {
				t.Fatalf("versions after the rollback %v, before %v", v, before)
			}
			for _, p := range h.c.parts {
				if p.primary != primaries[p.gpid] {
					t.Errorf("%s led by %s, before by %s", p.gpid, p.primary, primaries[p.gpid])
				}
			}
			requireWhole(t, h)
			if len(h.c.knobs) != 0 || h.c.level != "lively" {
				t.Fatalf("knobs %v level %s", h.c.knobs, h.c.level)
			}
			// Only the canary went through install, once forward and once
			// back.
			installs := 0
			for i, s := range append(append([]Step{}, h.m.State().Plan.Steps...), h.m.State().Cleanup...) {
				if s.Kind == KindInstall && h.m.State().Steps[i].Status == StepDone {
					installs++
					if s.Node != "r1" {
						t.Errorf("install on %s", s.Node)
					}
				}
			}
			if installs != 2 {
				t.Errorf("%d installs, want r1's two", installs)
			}
		})
	}
}

func fmtMap(m map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"m1", "m2", "r1", "r2", "r3", "r4", "r5", "c1"} {
		b.WriteString(k + "=" + m[k] + " ")
	}
	return b.String()
}

// TestSLOGatePassesAGoodUpgrade: the same roll with a good build bakes
// the canary and goes through.
func TestSLOGatePassesAGoodUpgrade(t *testing.T) {
	h := sloHarness(t, Options{AutoRollback: true})
	h.run(3600, func() bool { return false })
	if h.m.Status() != StatusSucceeded {
		t.Fatalf("status %s: %s", h.m.Status(), h.m.Reason())
	}
	for n, v := range versions(h) {
		if v != "1.1" {
			t.Errorf("%s on %s", n, v)
		}
	}
}

// TestRollbackPlanAfterTheEnd: a finished upgrade is rolled back by a new
// roll, newest node first.
func TestRollbackPlanAfterTheEnd(t *testing.T) {
	h := sloHarness(t, Options{SLO: SLO{Off: true}})
	h.run(3600, func() bool { return false })
	if h.m.Status() != StatusSucceeded {
		t.Fatalf("status %s", h.m.Status())
	}
	p, err := RollbackPlan(h.m.State(), h.c.snapshot(""), "roll-back")
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, s := range p.Steps {
		if s.Kind == KindInstall {
			if !s.Rollback || s.Version != "1.0" {
				t.Fatalf("install step %+v", s)
			}
			order = append(order, s.Node)
		}
	}
	if got := strings.Join(order, " "); got != "c1 m1 m2 r5 r4 r3 r2 r1" {
		t.Fatalf("rollback order %s", got)
	}
	h.m, h.now, h.pending = NewMachine(p), 0, nil
	h.run(3600, func() bool { return false })
	if h.m.Status() != StatusSucceeded {
		t.Fatalf("rollback roll %s: %s", h.m.Status(), h.m.Reason())
	}
	for n, v := range versions(h) {
		if v != "1.0" {
			t.Errorf("%s on %s after the rollback", n, v)
		}
	}
	// Refused: a restart, and a previous binary that cannot read the new
	// formats.
	// A rollback is not rolled back: run the upgrade again.
	if _, err := RollbackPlan(h.m.State(), h.c.snapshot(""), "x"); !errors.Is(err, ErrNoRollback) {
		t.Fatalf("a rollback of the rollback: %v", err)
	}
	restart := sloHarness(t, Options{SLO: SLO{Off: true}})
	restart.m.s.Plan.Options.Upgrade = false
	if _, err := RollbackPlan(restart.m.State(), restart.c.snapshot(""), "x"); !errors.Is(err, ErrNoRollback) {
		t.Fatalf("restart: %v", err)
	}
	up := sloHarness(t, Options{SLO: SLO{Off: true}})
	up.run(3600, func() bool { return false })
	snap := up.c.snapshot("")
	snap.RollbackBlocked = "store format 2"
	if _, err := RollbackPlan(up.m.State(), snap, "x"); !errors.Is(err, ErrRollbackBlocked) {
		t.Fatalf("blocked: %v", err)
	}
}

// TestAutoRollbackOfACanaryThatNeverHeals: a build so bad its replica
// server never catches up (and is slow): the canary never becomes
// healthy, so the roll never reaches a node boundary. The halt rolls the
// canary back from where it is, and the cluster heals on the old build.
// A build that does not even start is rolled back the same way.
func TestAutoRollbackOfACanaryThatNeverHeals(t *testing.T) {
	for _, fault := range []string{"no-learn-version 1.1", "start-error r1"} {
		t.Run(fault, func(t *testing.T) {
			h := sloHarness(t, Options{AutoRollback: true})
			h.c.faults["slow-version 1.1"] = "slow"
			h.c.faults[fault] = "broken"
			if strings.HasPrefix(fault, "start-error") {
				// It fails to start once; the old binary starts.
				h.run(3600, func() bool {
					_, step, _, _ := h.m.Current()
					return step.Phase == PhaseRollback
				})
				delete(h.c.faults, fault)
			}
			before := map[string]string{}
			for _, s := range h.c.servers {
				before[s.node] = "1.0"
			}
			h.run(3600, func() bool { return false })
			if h.m.Status() != StatusRolledBack {
				t.Fatalf("status %s: %s", h.m.Status(), h.m.Reason())
			}
			if v := versions(h); fmtMap(v) != fmtMap(before) {
				t.Fatalf("versions after the rollback %v", v)
			}
			requireWhole(t, h)
		})
	}
}
