package plan

import (
	"testing"
	"time"
)

// TestEstimate: before a replica server has finished the time left is
// unknown; after the first, it is the mean per server times those to go
// (less the current one's elapsed time), and shrinks as the roll goes;
// at the end every server is done.
func TestEstimate(t *testing.T) {
	c := newFakeCluster([]string{"m1", "m2"}, "m1", []string{"r1", "r2", "r3", "r4"}, 2, 4, "", "1.0", "lively")
	p, err := Build(c.snapshot(""), Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{c: c, m: NewMachine(p)}
	if e := h.m.Estimate(epoch); e.Known || e.Done != 0 || e.Total != 6 {
		t.Fatalf("before the roll: %+v", e)
	}
	doneAt := func(n int) func() bool {
		return func() bool { return h.m.Estimate(epoch.Add(h.now)).Done >= n }
	}
	h.run(600, doneAt(1))
	first := h.m.Estimate(epoch.Add(h.now))
	if !first.Known || first.Done != 1 || first.Left <= 0 {
		t.Fatalf("after the first replica server: %+v", first)
	}
	// The first server's time, as measured from its steps.
	st := h.m.State()
	u := st.units()[0]
	per := u.ended.Sub(u.started)
	// Three replica servers and two meta servers to go, the meta servers
	// at the replica servers' rate until one is measured.
	if want := 5 * per; first.Left > want || first.Left < want-2*time.Second {
		t.Errorf("left %v after one server of %v, want about %v", first.Left, per, want)
	}
	h.run(600, doneAt(3))
	if later := h.m.Estimate(epoch.Add(h.now)); later.Left >= first.Left || later.Done != 3 {
		t.Errorf("after three servers %+v, after one %+v", later, first)
	}
	h.run(3600, func() bool { return false })
	if e := h.m.Estimate(epoch.Add(h.now)); e.Done != e.Total || e.Known {
		t.Errorf("at the end: %+v", e)
	}
}
