package sim

import "time"

// clock is a host's clock. It has two faces, as an operating system's does:
//
//   - monotonic time, which only ever advances, at the host's rate (drift):
//     what time.Now carries for measuring durations, and what timers run on;
//   - wall time, the monotonic time plus the host's boot date plus every
//     step the clock took (an NTP correction, an operator's date command):
//     what time.Time.UnixNano and the wall-clock comparisons see.
//
// A step moves only the wall face, so a test that steps the clock shows
// which rules read the wrong face. The code under test gets time through
// the adapters in adapt.go, one per rule, so switching a rule from wall to
// monotonic time is a one-line change there.
type clock struct {
	// rate is host seconds per true second: 1 + drift.
	rate float64
	// boot is the wall date at true time zero.
	boot time.Time
	// stepped is the sum of every wall-clock step so far.
	stepped time.Duration
	w       *World
}

// epoch is the wall date every host's clock starts near.
var epoch = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

// newClock returns a clock drifting by drift (e.g. 1e-4 is 100 ppm fast).
func newClock(w *World, drift float64, skew time.Duration) *clock {
	return &clock{rate: 1 + drift, boot: epoch.Add(skew), w: w}
}

// mono returns the host's monotonic time: how long it has been up, by its
// own rate.
func (c *clock) mono() time.Duration { return time.Duration(float64(c.w.now) * c.rate) }

// wall returns the host's wall time, without a monotonic reading (so that
// comparisons and Sub use it, as they would on a wall-only time.Time).
func (c *clock) wall() time.Time { return c.boot.Add(c.mono() + c.stepped) }

// monoTime returns the monotonic time as a time.Time, for code that takes a
// time.Time but compares instants only with Sub and Before (the meta server's
// Clock): a wall clock that never steps.
func (c *clock) monoTime() time.Time { return c.boot.Add(c.mono()) }

// trueDuration converts a duration on this host's clock into true time.
func (c *clock) trueDuration(d time.Duration) time.Duration {
	return time.Duration(float64(d) / c.rate)
}

// step moves the wall clock by d (negative: backwards).
func (c *clock) step(d time.Duration) { c.stepped += d }

// metaClock is a meta server's meta.Clock: its monotonic face. The
// controller measures the failure detector's grace with Sub between its own
// readings, which in production carry a monotonic reading.
type metaClock struct{ c *clock }

func (m metaClock) Now() time.Time { return m.c.monoTime() }
