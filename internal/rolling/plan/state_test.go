package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// haHarness builds the datadriven scripts' standard cluster and an upgrade
// plan for it.
func haHarness(t *testing.T) *harness {
	t.Helper()
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r1", "r2", "r3", "r4", "r5"}, 4, 8, "c1", "1.0", "lively")
	p, err := Build(c.snapshot("1.1"), Options{Upgrade: true, MinAvailability: 0.999})
	if err != nil {
		t.Fatal(err)
	}
	return &harness{c: c, m: NewMachine(p)}
}

// completions runs h to the end and returns the labels of the steps in the
// order they completed.
func completions(t *testing.T, h *harness) []string {
	t.Helper()
	var done []string
	for i := 0; i < 3600 && !h.m.Status().Terminal(); i++ {
		before := h.m.State()
		h.next(time.Second)
		after := h.m.State()
		for j, st := range after.Steps {
			if st.Status == StepDone && before.Steps[j].Status != StepDone {
				done = append(done, fmt.Sprintf("%d %s", j+1, stepLabel(after.step(j))))
			}
		}
	}
	return done
}

// A new orchestrator resumes at every possible point, whether or not the
// dead one's driver ran its last actions, and the roll completes exactly as
// an uninterrupted one: the same steps in the same order, the same final
// cluster.
func TestResumeAtEveryStep(t *testing.T) {
	base := haHarness(t)
	want := completions(t, base)
	if base.m.Status() != StatusSucceeded {
		t.Fatalf("uninterrupted roll: %s %s", base.m.Status(), base.m.Reason())
	}
	wantCluster := base.c.describe()
	steps := len(base.m.State().Steps)

	for crashAt := 1; crashAt <= steps; crashAt++ {
		for _, executed := range []bool{false, true} {
			t.Run(fmt.Sprintf("step%d/executed=%v", crashAt, executed), func(t *testing.T) {
				h := haHarness(t)
				var done []string
				for i := 0; i < 3600; i++ {
					if n, _, st, ok := h.m.Current(); ok && n == crashAt && st.Emitted {
						break
					}
					before := h.m.State()
					h.next(time.Second)
					after := h.m.State()
					for j, st := range after.Steps {
						if st.Status == StepDone && before.Steps[j].Status != StepDone {
							done = append(done, fmt.Sprintf("%d %s", j+1, stepLabel(after.step(j))))
						}
					}
				}
				if n, _, _, _ := h.m.Current(); n != crashAt {
					t.Fatalf("never reached step %d (at %d)", crashAt, n)
				}
				if _, err := h.crash(executed); err != nil {
					t.Fatal(err)
				}
				if n, _, _, _ := h.m.Current(); n != crashAt {
					t.Fatalf("restored at step %d, want %d", n, crashAt)
				}
				done = append(done, completions(t, h)...)
				if h.m.Status() != StatusSucceeded {
					t.Fatalf("status %s: %s", h.m.Status(), h.m.Reason())
				}
				if !slices.Equal(done, want) {
					t.Fatalf("completions differ\n got %q\nwant %q", done, want)
				}
				if got := h.c.describe(); got != wantCluster {
					t.Fatalf("final cluster\n%s\nwant\n%s", got, wantCluster)
				}
			})
		}
	}
}

// State survives JSON unchanged: marshal, unmarshal, marshal gives the same
// bytes, mid-roll (with holds, touched knobs and a stopped node) and at the
// end.
func TestStateJSONRoundTrip(t *testing.T) {
	h := haHarness(t)
	h.run(3600, func() bool {
		_, step, st, _ := h.m.Current()
		return step.Kind == KindInstall && step.Node == "r2" && st.Emitted // r2 stopped, knobs touched
	})
	if err := h.m.Pause(epoch, "look"); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		first, err := json.Marshal(h.m.State())
		if err != nil {
			t.Fatal(err)
		}
		var st State
		if err := json.Unmarshal(first, &st); err != nil {
			t.Fatal(err)
		}
		second, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, second) {
			t.Fatalf("round trip changed the state\n%s\n%s", first, second)
		}
	}
	st := h.m.State()
	if len(st.Stopped) != 1 || len(st.Touched) != 3 || st.OperatorHold == nil {
		t.Fatalf("mid-roll state lacks what the test means to cover: %+v", st)
	}
	check()
	if err := h.m.Resume(epoch); err != nil {
		t.Fatal(err)
	}
	h.run(3600, func() bool { return false })
	check()
}

// State hands out a copy: changing it does not change the machine.
func TestStateIsACopy(t *testing.T) {
	h := haHarness(t)
	h.run(3, func() bool { return false })
	st := h.m.State()
	st.Steps[0].Status = StepFailed
	st.Plan.Steps[0].Node = "x"
	st.Touched = append(st.Touched[:0], KnobChange{Knob: "x"})
	again := h.m.State()
	if again.Steps[0].Status == StepFailed || again.Plan.Steps[0].Node == "x" ||
		(len(again.Touched) > 0 && again.Touched[0].Knob == "x") {
		t.Fatal("State shares memory with the machine")
	}
}

func TestRestoreRejects(t *testing.T) {
	h := haHarness(t)
	h.run(5, func() bool { return false })
	good := h.m.State()
	for _, tc := range []struct {
		name   string
		mutate func(*State)
	}{
		{"format", func(s *State) { s.Format = 99 }},
		{"missing step states", func(s *State) { s.Steps = s.Steps[:3] }},
		{"current out of range", func(s *State) { s.Current = len(s.Steps) + 1 }},
		{"negative current", func(s *State) { s.Current = -1 }},
		{"status", func(s *State) { s.Status = "dancing" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := good.clone()
			tc.mutate(&st)
			if _, err := Restore(st); !errors.Is(err, ErrInvalidState) {
				t.Fatalf("got %v, want ErrInvalidState", err)
			}
		})
	}
	if _, err := Restore(good); err != nil {
		t.Fatalf("good state refused: %v", err)
	}
}
