package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func newTestRunner(t *testing.T, target Target, cfg Config) *Runner {
	t.Helper()
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = 20 * time.Second
	}
	r, err := NewRunner(target, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, r *Runner, ctx context.Context) *Report {
	t.Helper()
	rep, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRunHealthyTarget(t *testing.T) {
	mem := NewMemTarget()
	r := newTestRunner(t, mem, Config{
		Workload: Workload{KeyCount: 50, ReadRatio: 0.5, DeleteRatio: 0.05, ValueSize: 64, Seed: 1},
		Workers:  4,
		MaxOps:   3000,
	})
	rep := run(t, r, context.Background())

	if rep.Ops != 3000 || rep.FailedOps != 0 || rep.Interrupted {
		t.Errorf("ops %d, failed %d, interrupted %v; want 3000, 0, false", rep.Ops, rep.FailedOps, rep.Interrupted)
	}
	if rep.Linearizability != VerdictOK || rep.LostWrites != 0 || rep.CorruptReads != 0 {
		t.Errorf("linearizability %s, lost writes %d, corrupt reads %d; want ok, 0, 0",
			rep.Linearizability, rep.LostWrites, rep.CorruptReads)
	}
	lw := rep.LostWriteCheck
	if lw.Keys == 0 || lw.Verified != lw.Keys || lw.Keys > 50 {
		t.Errorf("read back %d of %d written keys", lw.Verified, lw.Keys)
	}
	// The checker saw the load and the read-back.
	if got := rep.LinearizabilityCheck.Ops; got != 3000+lw.Keys {
		t.Errorf("checked %d ops, want %d", got, 3000+lw.Keys)
	}
	var perKind, perSecond int64
	for _, s := range rep.ByOp {
		perKind += s.Ops
	}
	for _, s := range rep.Timeline {
		perSecond += s.Ops
	}
	if perKind != 3000 || perSecond != 3000 {
		t.Errorf("per-kind ops sum to %d, per-second to %d; want 3000", perKind, perSecond)
	}
	if rep.ByOp["get"] == nil || rep.ByOp["set"] == nil || rep.ByOp["del"] == nil {
		t.Errorf("by_op lacks a kind: %v", rep.ByOp)
	}
}

func TestRunStaleReadsViolate(t *testing.T) {
	r := newTestRunner(t, newStaleTarget(), Config{
		Workload: Workload{KeyCount: 10, ReadRatio: 0.5, ValueSize: 16, Seed: 2},
		Workers:  1,
		MaxOps:   1000,
	})
	rep := run(t, r, context.Background())
	lin := rep.LinearizabilityCheck
	if rep.Linearizability != VerdictViolation || lin.Violation == nil {
		t.Fatalf("linearizability %s, want violation", rep.Linearizability)
	}
	// One client issues everything in sequence, so a stale read is
	// explained by at most: the write it saw, the write it missed, itself.
	viol := lin.Violation
	if !viol.Minimal || len(viol.Ops) < 2 || len(viol.Ops) > 3 || viol.Ops[len(viol.Ops)-1].Call != "get()" {
		t.Errorf("violation %+v: want a minimal history of 2-3 ops ending in the stale get", viol)
	}
	assertOneMinimal(t, viol.history)
}

func TestRunLostWriteDetected(t *testing.T) {
	w := Workload{KeyCount: 20, KeyPrefix: "k", ReadRatio: 0.3, ValueSize: 16, Seed: 3}
	lostKey := w.KeyName(0) // the hottest zipfian key
	r := newTestRunner(t, &losingTarget{MemTarget: NewMemTarget(), key: lostKey}, Config{
		Workload: w,
		Workers:  2,
		MaxOps:   1000,
	})
	rep := run(t, r, context.Background())
	if rep.LostWrites != 1 || len(rep.LostWriteCheck.Samples) != 1 || rep.LostWriteCheck.Samples[0].Key != lostKey {
		t.Errorf("lost writes %d, samples %+v; want exactly %s", rep.LostWrites, rep.LostWriteCheck.Samples, lostKey)
	}
	if rep.Linearizability != VerdictViolation || rep.LinearizabilityCheck.Violation.Key != lostKey {
		t.Errorf("linearizability %s (%+v), want a violation on %s",
			rep.Linearizability, rep.LinearizabilityCheck.Violation, lostKey)
	}
}

func TestRunAmbiguousFailuresStayLinearizable(t *testing.T) {
	r := newTestRunner(t, &flakyTarget{MemTarget: NewMemTarget()}, Config{
		Workload: Workload{KeyCount: 30, ReadRatio: 0.5, DeleteRatio: 0.1, ValueSize: 16, Seed: 4},
		Workers:  3,
		MaxOps:   1500,
	})
	rep := run(t, r, context.Background())
	if rep.Linearizability != VerdictOK || rep.LostWrites != 0 {
		t.Errorf("linearizability %s, lost writes %d: a correct store with ambiguous failures must pass",
			rep.Linearizability, rep.LostWrites)
	}
	if rep.UnknownOps == 0 || rep.FailedOps <= rep.UnknownOps || rep.ErrorSeconds == 0 {
		t.Errorf("failed %d, unknown %d, error seconds %d: the faults were not recorded",
			rep.FailedOps, rep.UnknownOps, rep.ErrorSeconds)
	}
	if rep.Errors[errRPCTimeout.Error()] == 0 || rep.Errors["bench: operation rejected: not primary"] == 0 {
		t.Errorf("error counts %v lack the injected errors", rep.Errors)
	}
}

func TestRunOpenLoopPacesAndChargesStalls(t *testing.T) {
	// 200 ops/s for one second through one worker; every call takes 1 ms
	// except the 20th, which stalls for 300 ms.
	target := &slowTarget{inner: NewMemTarget(), delay: func(n int64) time.Duration {
		if n == 20 {
			return 300 * time.Millisecond
		}
		return time.Millisecond
	}}
	r := newTestRunner(t, target, Config{
		Workload:     Workload{KeyCount: 100, ReadRatio: 0.5, ValueSize: 16, Seed: 5},
		Workers:      1,
		Rate:         200,
		Duration:     time.Second,
		SkipReadBack: true,
	})
	rep := run(t, r, context.Background())

	// The schedule is exact: ops k = 0..199 are due at k*5ms.
	if rep.Ops != 200 || rep.Mode != "open" {
		t.Fatalf("ops %d in mode %s, want 200 in open mode", rep.Ops, rep.Mode)
	}
	var charged, served int
	for k, op := range r.loadOps {
		if want := time.Duration(k) * 5 * time.Millisecond; op.Due != want {
			t.Fatalf("op %d due at %v, want %v", k, op.Due, want)
		}
		// Never sent early: the rate is kept, not exceeded in bursts.
		if op.Start < op.Due {
			t.Fatalf("op %d started at %v, before it was due at %v", k, op.Start, op.Due)
		}
		if op.Latency() >= 100*time.Millisecond {
			charged++
		}
		if op.End-op.Start >= 100*time.Millisecond {
			served++
		}
	}
	// Measured from when they were sent, only the stalled call is slow;
	// measured from when they were due, so are the ~60 requests the stall
	// held back.
	if charged < served+20 {
		t.Errorf("%d ops slower than 100ms from their due time, %d from their send time: stall not charged",
			charged, served)
	}
	if rep.Latency.P99 < 100_000 || rep.Latency.Max < 300_000 {
		t.Errorf("p99 %d us, max %d us: want p99 >= 100 ms and max >= 300 ms", rep.Latency.P99, rep.Latency.Max)
	}
	if rep.DurationS < 0.995 {
		t.Errorf("load ran %.3f s; the last op was due at 0.995 s", rep.DurationS)
	}
}

func TestRunCancelledStillReports(t *testing.T) {
	// Operations take 50 ms, and the run is cancelled in the middle of
	// them: they must complete (not be cut short into failures), and the
	// read-back and checks must still run.
	target := &slowTarget{inner: NewMemTarget(), delay: func(int64) time.Duration { return 50 * time.Millisecond }}
	r := newTestRunner(t, target, Config{
		Workload: Workload{KeyCount: 20, ReadRatio: 0.5, ValueSize: 16, Seed: 6},
		Workers:  4,
		Duration: time.Hour,
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(120*time.Millisecond, cancel)
	start := time.Now()
	rep := run(t, r, ctx)
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("cancelled run took %v", took)
	}
	if !rep.Interrupted || rep.Ops == 0 || rep.FailedOps != 0 {
		t.Errorf("interrupted %v, ops %d, failed %d; want interrupted, some ops, none failed",
			rep.Interrupted, rep.Ops, rep.FailedOps)
	}
	lw := rep.LostWriteCheck
	if rep.Linearizability != VerdictOK || lw.Skipped || lw.Verified != lw.Keys || lw.Keys == 0 {
		t.Errorf("linearizability %s, read-back %+v: checks did not complete", rep.Linearizability, lw)
	}
}

func TestRunAnnotationsAndReuse(t *testing.T) {
	r := newTestRunner(t, NewMemTarget(), Config{
		Workload: Workload{KeyCount: 10, ValueSize: 16},
		Workers:  1,
		MaxOps:   10,
	})
	done := r.Annotate("before start")
	done()
	open := r.Annotate("never closed")
	rep := run(t, r, context.Background())
	open() // closing after the run changes nothing reported
	if len(rep.Events) != 2 {
		t.Fatalf("events %+v, want 2", rep.Events)
	}
	if e := rep.Events[0]; e.Label != "before start" || e.Start != 0 || e.End != 0 {
		t.Errorf("event %+v: want [0, 0]", e)
	}
	if e := rep.Events[1]; math.Abs(e.End.Seconds()-rep.DurationS) > 1e-9 {
		t.Errorf("open event %+v: want it closed at the end of the load (%.6f s)", e, rep.DurationS)
	}
	if _, err := r.Run(context.Background()); !errors.Is(err, ErrRunnerReused) {
		t.Errorf("second Run: err %v, want ErrRunnerReused", err)
	}
}

func TestNewRunnerRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"unbounded":        {},
		"negative rate":    {MaxOps: 1, Rate: -1},
		"negative count":   {MaxOps: -1, Duration: time.Second},
		"too many workers": {MaxOps: 1, Workers: maxWriters + 1},
		"bad workload":     {MaxOps: 1, Workload: Workload{ReadRatio: 2}},
	} {
		_, err := NewRunner(NewMemTarget(), cfg)
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", name, err)
		} else if !strings.HasPrefix(err.Error(), "bench: invalid config: ") {
			t.Errorf("%s: message %q lacks the package prefix", name, err)
		}
	}
}

// BenchmarkRunClosedLoop measures the load generator's own cost per
// operation (key choice, value encoding, per-op context, recording) against
// the in-memory target, checks excluded.
func BenchmarkRunClosedLoop(b *testing.B) {
	for _, workers := range []int{1, 8} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			r, err := NewRunner(NewMemTarget(), Config{
				Workload:            Workload{KeyCount: 100_000, ReadRatio: 0.5, ValueSize: 1000},
				Workers:             workers,
				MaxOps:              int64(b.N),
				SkipReadBack:        true,
				SkipLinearizability: true,
			})
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			rep, err := r.Run(context.Background())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(rep.QPS, "ops/s")
		})
	}
}

// BenchmarkCheckLinearizability measures the checker on a run's history:
// 20k operations over 1000 zipfian keys from 8 clients.
func BenchmarkCheckLinearizability(b *testing.B) {
	r, err := NewRunner(NewMemTarget(), Config{
		Workload:            Workload{KeyCount: 1000, ReadRatio: 0.5, ValueSize: 16},
		Workers:             8,
		MaxOps:              20_000,
		SkipReadBack:        true,
		SkipLinearizability: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := r.Run(context.Background()); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := CheckLinearizability(r.loadOps, CheckOptions{})
		if err != nil || res.Verdict != VerdictOK {
			b.Fatalf("verdict %s, err %v", res.Verdict, err)
		}
	}
}
