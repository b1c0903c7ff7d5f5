package collector

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// How much history the collector keeps: every second of the last hour and
// every minute of the last day.
const (
	secondsKept = 3600
	minutesKept = 24 * 60
	// MaxWindow is the longest availability window that can be asked for.
	MaxWindow = minutesKept * time.Minute
	// DefaultWindow is the window of /api/availability without ?window.
	DefaultWindow = time.Minute
)

// BucketStats is one second or one minute of probes.
type BucketStats struct {
	// TS is the Unix second the bucket starts at.
	TS       int64  `json:"ts"`
	Probes   uint32 `json:"probes"`
	Failures uint32 `json:"failures"`
	// Availability is (Probes-Failures)/Probes; null when no probe was
	// issued in the bucket (the collector was down or not yet probing).
	Availability *float64 `json:"availability"`
	P50US        uint32   `json:"p50_us"`
	P99US        uint32   `json:"p99_us"`
	MaxUS        uint32   `json:"max_us"`
}

// AvailabilityReport answers /api/availability.
type AvailabilityReport struct {
	// Now is the Unix second the report was made at; the window is the
	// WindowSeconds seconds ending with it (the current, partly probed,
	// second included).
	Now           int64 `json:"now"`
	WindowSeconds int64 `json:"window_seconds"`
	// Availability is the success ratio of the probes issued in the window,
	// in [0,1]; null when none was issued, which a gate must treat as "no
	// evidence", not as healthy.
	Availability *float64 `json:"availability"`
	Probes       uint64   `json:"probes"`
	Failures     uint64   `json:"failures"`
	P50US        uint32   `json:"p50_us"`
	P99US        uint32   `json:"p99_us"`
	MaxUS        uint32   `json:"max_us"`
	// ClientErrors counts the failed probes since the collector started: the
	// collector is a client of the cluster, and this is how many of its
	// requests the cluster failed. It restarts from zero with the collector.
	ClientErrors uint64 `json:"client_errors"`
	// PerSecond lists every second of the window (at most the last hour),
	// oldest first; PerMinute every minute the window touches, oldest first.
	PerSecond []BucketStats `json:"per_second"`
	PerMinute []BucketStats `json:"per_minute"`
}

// ParseWindow reads the ?window= parameter: a Go duration ("10s", "5m",
// "1h30m") or a bare number of seconds ("10"). Fractions of a second round
// up. Empty means DefaultWindow.
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return DefaultWindow, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n <= 0 || n > int64(MaxWindow/time.Second) {
			return 0, fmt.Errorf("%w: %q must be between 1 and %d seconds", ErrBadWindow, s, int64(MaxWindow/time.Second))
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("%w: %q is neither seconds nor a duration like 10s or 5m", ErrBadWindow, s)
		}
	}
	if d <= 0 || d > MaxWindow {
		return 0, fmt.Errorf("%w: %q must be positive and at most %v", ErrBadWindow, s, MaxWindow)
	}
	return (d + time.Second - 1).Truncate(time.Second), nil
}

// availabilityLog records every probe into a per-second ring (the last
// hour) and a per-minute ring (the last day). Probes are filed under the
// second they were issued in, not the one they completed in: a probe that
// hangs until its timeout says the cluster was unavailable when it was
// asked. A report therefore sees the newest second fill in for up to one
// probe timeout after it passed.
type availabilityLog struct {
	mu      sync.Mutex
	seconds *bucketRing
	minutes *bucketRing
	// probes and failures since the collector started.
	probes, failures uint64
}

func newAvailabilityLog() *availabilityLog {
	return &availabilityLog{
		seconds: newBucketRing(1, secondsKept),
		minutes: newBucketRing(60, minutesKept),
	}
}

// record counts one probe issued at issued that took latency and succeeded
// or not.
func (a *availabilityLog) record(issued time.Time, latency time.Duration, ok bool) {
	us := micros(latency)
	sec := issued.Unix()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seconds.add(sec, us, ok)
	a.minutes.add(sec, us, ok)
	a.probes++
	if !ok {
		a.failures++
	}
}

// report summarises the window ending at now.
func (a *availabilityLog) report(now time.Time, window time.Duration) AvailabilityReport {
	nowSec := now.Unix()
	n := int64(window / time.Second)
	first := nowSec - n + 1
	r := AvailabilityReport{Now: nowSec, WindowSeconds: n}

	a.mu.Lock()
	defer a.mu.Unlock()
	r.ClientErrors = a.failures

	// The ratio and the latency summary come from seconds while the window
	// fits in the last hour, from whole minutes beyond.
	var total latencyHist
	summarise := func(b *probeBucket) {
		r.Probes += uint64(b.probes)
		r.Failures += uint64(b.failures)
		total.merge(&b.latency)
	}
	firstSecond := max(first, nowSec-secondsKept+1)
	for s := firstSecond; s <= nowSec; s++ {
		b := a.seconds.get(s)
		r.PerSecond = append(r.PerSecond, stats(s, b))
		if b != nil && n <= secondsKept {
			summarise(b)
		}
	}
	for m := a.minutes.startOf(first); m <= nowSec; m += 60 {
		b := a.minutes.get(m)
		r.PerMinute = append(r.PerMinute, stats(m, b))
		if b != nil && n > secondsKept {
			summarise(b)
		}
	}
	r.Availability = ratio(r.Probes, r.Failures)
	r.P50US, r.P99US, r.MaxUS = total.quantile(0.5), total.quantile(0.99), total.maxUS
	return r
}

// ratioSince returns the success ratio of the probes issued in the window
// ending at now, and false when none was.
func (a *availabilityLog) ratioSince(now time.Time, window time.Duration) (float64, bool) {
	nowSec := now.Unix()
	var probes, failures uint64
	a.mu.Lock()
	for s := nowSec - int64(window/time.Second) + 1; s <= nowSec; s++ {
		if b := a.seconds.get(s); b != nil {
			probes += uint64(b.probes)
			failures += uint64(b.failures)
		}
	}
	a.mu.Unlock()
	r := ratio(probes, failures)
	if r == nil {
		return 0, false
	}
	return *r, true
}

func stats(ts int64, b *probeBucket) BucketStats {
	s := BucketStats{TS: ts}
	if b == nil {
		return s
	}
	s.Probes, s.Failures = b.probes, b.failures
	s.Availability = ratio(uint64(b.probes), uint64(b.failures))
	s.P50US, s.P99US, s.MaxUS = b.latency.quantile(0.5), b.latency.quantile(0.99), b.latency.maxUS
	return s
}

func ratio(probes, failures uint64) *float64 {
	if probes == 0 {
		return nil
	}
	r := float64(probes-failures) / float64(probes)
	return &r
}
