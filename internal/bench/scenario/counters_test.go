package scenario

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

var errUnknown = errors.New("unknown outcome")

func isUnknown(err error) bool { return errors.Is(err, errUnknown) }

// TestCounterJudge: the bounds and the duplicate check catch a lost
// increment, a double apply and a value returned twice; unknown outcomes
// widen the upper bound only.
func TestCounterJudge(t *testing.T) {
	tally := func(values ...int64) *counterTally {
		c := &counterTally{res: CounterResult{Key: "c", Kind: CounterIncr}, seen: make(map[int64]bool)}
		for _, v := range values {
			c.record(v, true, nil, isUnknown)
		}
		c.record(0, true, errUnknown, isUnknown)
		c.record(0, true, errors.New("refused"), isUnknown)
		c.record(7, false, nil, isUnknown) // a check that failed
		return c
	}
	cases := []struct {
		name   string
		values []int64
		final  int64
		want   string
	}{
		{"exact", []int64{1, 2, 3}, 3, ""},
		{"the unknown applied", []int64{1, 2, 3}, 4, ""},
		{"lost", []int64{1, 2, 3}, 2, "lost"},
		{"applied twice", []int64{1, 2, 3}, 5, "applied twice"},
		{"value twice", []int64{1, 2, 2}, 3, "returned twice"},
	}
	for _, tc := range cases {
		r := tally(tc.values...).judge(tc.final)
		if r.Acked != int64(len(tc.values)) || r.Unknown != 1 || r.Failed != 1 || r.Ops != int64(len(tc.values))+3 {
			t.Fatalf("%s: tally %+v", tc.name, r)
		}
		if (tc.want == "") != (r.Problem == "") || !strings.Contains(r.Problem, tc.want) {
			t.Errorf("%s: problem %q, want %q", tc.name, r.Problem, tc.want)
		}
	}
}

// TestCounterRestarts runs the scenario on the fake: the faults in order,
// a pass with exactly-once counters, and a counter problem when retries
// apply twice.
func TestCounterRestarts(t *testing.T) {
	c := newFakeCluster()
	rep, err := Run(context.Background(), mustLookup(t, "counter-restarts"), c, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kill replica2", "start replica2", "kill meta2", "start meta2", "kill replica3",
		"checkpoint replica1", "checkpoint replica2", "start replica3"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Fatalf("actions %v, want %v", got, want)
	}
	if len(rep.Counters) != 4 || !rep.Passed() {
		t.Fatalf("counters %+v, problems %v", rep.Counters, rep.Problems)
	}
	for _, r := range rep.Counters {
		if r.Acked == 0 || r.Final != r.Acked {
			t.Errorf("counter %+v", r)
		}
	}

	c = newFakeCluster()
	c.counterClient().doubleIncr = true
	rep, _ = Run(context.Background(), mustLookup(t, "counter-restarts"), c, fakeTarget{c}, fastOptions(t))
	if rep == nil || rep.Passed() || !strings.Contains(strings.Join(rep.Problems, ";"), "applied twice") {
		t.Fatalf("double apply not caught: %v", rep.Problems)
	}
}
