package bench

import (
	"context"
	"testing"
	"time"
)

func TestMeterIntervals(t *testing.T) {
	m := NewMeter()
	for i := range 100 {
		// Latencies 1..100 ms; every tenth operation fails.
		op := Op{Due: 0, End: time.Duration(i+1) * time.Millisecond}
		if i%10 == 9 {
			op.Result = ResultFailed
		}
		m.record(op)
	}
	iv := m.Interval()
	if iv.Ops != 100 || iv.Failed != 10 || iv.TotalOps != 100 || iv.TotalFailed != 10 || iv.LoadDone {
		t.Errorf("interval %+v: want 100 ops, 10 failed", iv)
	}
	// 90 successes with latencies 1..99 ms minus the multiples of 10: the
	// 99th percentile is the largest, 99 ms (within the histogram's 0.1%).
	if iv.P99 < 98*time.Millisecond || iv.P99 > 100*time.Millisecond {
		t.Errorf("p99 %v, want about 99ms", iv.P99)
	}
	m.record(Op{End: 5 * time.Millisecond, Result: ResultUnknown})
	iv = m.Interval()
	if iv.Ops != 1 || iv.Failed != 1 || iv.P99 != 0 || iv.TotalOps != 101 || iv.TotalFailed != 11 {
		t.Errorf("second interval %+v: want 1 failed op, no p99, totals 101/11", iv)
	}
}

func TestRunFeedsMeterAndStops(t *testing.T) {
	m := NewMeter()
	r := newTestRunner(t, NewMemTarget(), Config{
		Workload: Workload{KeyCount: 20, ReadRatio: 0.5, ValueSize: 16, Seed: 7},
		Workers:  2,
		Rate:     2000,
		Duration: time.Hour,
		Meter:    m,
	})
	if r.Elapsed() != 0 {
		t.Errorf("Elapsed before the run: %v, want 0", r.Elapsed())
	}
	var during time.Duration
	time.AfterFunc(200*time.Millisecond, func() {
		during = r.Elapsed()
		r.Stop()
	})
	rep := run(t, r, context.Background())
	if during <= 0 || during.Seconds() > rep.DurationS {
		t.Errorf("Elapsed during the run: %v, want within (0, %.3f s]", during, rep.DurationS)
	}
	if rep.Interrupted {
		t.Error("a stopped run is reported as interrupted")
	}
	if rep.DurationS > 10 || rep.Ops == 0 {
		t.Errorf("ran %.1f s with %d ops: Stop did not end the load", rep.DurationS, rep.Ops)
	}
	// The meter saw the load and nothing of the read-back, and knows the
	// load is over.
	if iv := m.Interval(); iv.TotalOps != rep.Ops || !iv.LoadDone {
		t.Errorf("meter counted %d ops (load done %v), the report %d", iv.TotalOps, iv.LoadDone, rep.Ops)
	}
	if got := int64(len(r.Ops())); got != rep.Ops {
		t.Errorf("Ops() holds %d ops, the report %d", got, rep.Ops)
	}
	if rep.Linearizability != VerdictOK || rep.LostWriteCheck.Skipped {
		t.Errorf("checks after Stop: linearizability %s, lost-write check %+v", rep.Linearizability, rep.LostWriteCheck)
	}
	r.Stop() // a second Stop is harmless
}

func TestWindow(t *testing.T) {
	ms := time.Millisecond
	ops := []Op{
		{Due: 0, Start: 0, End: 2 * ms},                                     // before the window
		{Due: 10 * ms, Start: 10 * ms, End: 11 * ms},                        // in: 1 ms
		{Due: 20 * ms, Start: 30 * ms, End: 50 * ms},                        // in: 30 ms from due
		{Due: 40 * ms, Start: 40 * ms, End: 540 * ms, Result: ResultFailed}, // in, failed after 500 ms
		{Due: 60 * ms, Start: 60 * ms, End: 70 * ms, Result: ResultUnknown},
		{Due: 100 * ms, Start: 100 * ms, End: 101 * ms}, // at the end: out
	}
	ws := Window(ops, 10*ms, 100*ms)
	if ws.Ops != 4 || ws.Failed != 2 || ws.UnknownOps != 1 {
		t.Errorf("window %+v: want 4 ops, 2 failed, 1 unknown", ws)
	}
	if ws.Latency.Max < 29_900 || ws.Latency.Max > 30_100 || ws.Latency.P50 < 990 || ws.Latency.P50 > 1010 {
		t.Errorf("latency %+v: want p50 1 ms, max 30 ms over the successes", ws.Latency)
	}
	if ws.MaxAnyUS != 500_000 {
		t.Errorf("max over all ops %d us, want 500000", ws.MaxAnyUS)
	}
	if empty := Window(ops, time.Second, 2*time.Second); empty.Ops != 0 || empty.Latency != (LatencySummary{}) {
		t.Errorf("empty window %+v", empty)
	}
}
