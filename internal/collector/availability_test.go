package collector

import (
	"errors"
	"testing"
	"time"
)

func TestRingForgetsWhatFellOutOfItsSpan(t *testing.T) {
	r := newBucketRing(1, 10)
	base := t0.Unix()
	r.add(base, 100, true)
	r.add(base, 200, false)
	if b := r.get(base); b == nil || b.probes != 2 || b.failures != 1 {
		t.Fatalf("bucket %+v", b)
	}
	// Ten seconds later the same slot holds a new second.
	r.add(base+10, 300, true)
	if r.get(base) != nil {
		t.Fatal("a second older than the span is still there")
	}
	if b := r.get(base + 10); b == nil || b.probes != 1 || b.latency.maxUS != 300 {
		t.Fatalf("recycled bucket %+v", b)
	}
	// A probe that arrives after its slot was recycled is dropped rather
	// than counted against the newer second.
	r.add(base, 100, false)
	if b := r.get(base + 10); b.probes != 1 || b.failures != 0 {
		t.Fatalf("late probe leaked into a newer bucket: %+v", b)
	}
	if r.get(base+5) != nil {
		t.Fatal("a second without probes has a bucket")
	}
}

func TestReportWindowsAndMinutes(t *testing.T) {
	a := newAvailabilityLog()
	start := time.Unix(1_767_225_540, 0) // a whole minute
	// 120 seconds, 10 probes each; second 30 loses 5, second 90 loses 10.
	for s := range 120 {
		at := start.Add(time.Duration(s) * time.Second)
		for p := range 10 {
			ok := !(s == 30 && p < 5) && s != 90
			a.record(at.Add(time.Duration(p)*time.Millisecond), time.Duration(100+p)*time.Microsecond, ok)
		}
	}
	end := start.Add(119 * time.Second)

	r := a.report(end, 10*time.Second)
	if r.Probes != 100 || r.Failures != 0 || *r.Availability != 1 || len(r.PerSecond) != 10 {
		t.Fatalf("last 10 s: %+v", r)
	}
	r = a.report(end, 120*time.Second)
	if r.Probes != 1200 || r.Failures != 15 || len(r.PerSecond) != 120 || len(r.PerMinute) != 2 {
		t.Fatalf("last 120 s: probes %d, failures %d, %d seconds, %d minutes", r.Probes, r.Failures, len(r.PerSecond), len(r.PerMinute))
	}
	if m := r.PerMinute; m[0].Failures != 5 || m[1].Failures != 10 || m[0].Probes != 600 || m[0].TS != start.Unix() {
		t.Fatalf("minutes %+v", m)
	}
	if s := r.PerSecond[90]; s.Availability == nil || *s.Availability != 0 || s.TS != start.Unix()+90 {
		t.Fatalf("second 90: %+v", s)
	}
	// The exact median is 104; a slot overstates by at most 1/8, and no
	// quantile exceeds the maximum.
	if r.P50US < 104 || r.P50US > 109 || r.MaxUS != 109 || r.ClientErrors != 15 {
		t.Fatalf("latency p50 %d max %d, client errors %d", r.P50US, r.MaxUS, r.ClientErrors)
	}

	// Beyond an hour, the ratio comes from the minute buckets and the
	// seconds listed stop at an hour.
	later := end.Add(30 * time.Minute)
	r = a.report(later, 2*time.Hour)
	if r.Probes != 1200 || r.Failures != 15 || len(r.PerSecond) != secondsKept {
		t.Fatalf("2 h window: probes %d, failures %d, %d seconds", r.Probes, r.Failures, len(r.PerSecond))
	}
	// A window with no probe has no availability, not 100%.
	r = a.report(later, time.Minute)
	if r.Availability != nil || r.Probes != 0 || r.PerSecond[0].Availability != nil {
		t.Fatalf("empty window: %+v", r.Availability)
	}
	if got, ok := a.ratioSince(end, time.Minute); !ok || got != 590.0/600 {
		t.Fatalf("ratio of the last minute %v %v", got, ok)
	}
	if got, ok := a.ratioSince(start.Add(30*time.Second), time.Second); !ok || got != 0.5 {
		t.Fatalf("ratio of second 30: %v %v", got, ok)
	}
}

func TestParseWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"": DefaultWindow, "10s": 10 * time.Second, "10": 10 * time.Second, " 5m ": 5 * time.Minute,
		"1ms": time.Second, "2.5s": 3 * time.Second, "24h": 24 * time.Hour,
	} {
		if got, err := ParseWindow(in); err != nil || got != want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"0", "-1s", "24h1s", "86401", "ten", "10x"} {
		if _, err := ParseWindow(in); !errors.Is(err, ErrBadWindow) {
			t.Errorf("ParseWindow(%q): %v, want ErrBadWindow", in, err)
		}
	}
}
