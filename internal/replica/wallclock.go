package replica

import (
	"os"
	"strings"
	"sync/atomic"
	"time"
)

// A test-only hook that steps the server's wall clock, for the clock-step
// fault scenario (internal/bench/scenario). It is off unless the process
// starts with WallClockOffsetEnv set to a file name; nothing in a
// production configuration can turn it on.
//
// When on, the server reads a Go duration ("30s", "-30s", "0s") from that
// file (relative to its working directory) at most every
// wallClockRefresh, and its wall clock (Options.Clock: the TTL timestamp of
// new mutations, what operators read) is the system clock without its
// monotonic part, plus that offset: exactly what code reading the wall
// clock sees when an operator or NTP steps the clock. Monotonic readings
// (leases, promises, timeouts, tickers) are untouched, as they are by a
// real step; the scenario shows that a step changes nothing they decide.

// WallClockOffsetEnv names the environment variable that turns the hook on.
const WallClockOffsetEnv = "PEGASUS_TEST_WALL_CLOCK_OFFSET_FILE"

const wallClockRefresh = 100 * time.Millisecond

// wallClock is the server's wall clock, possibly stepped.
type wallClock struct {
	file   string       // "" when the hook is off
	offset atomic.Int64 // nanoseconds
	next   atomic.Int64 // monotonic nanoseconds since base of the next read
	base   time.Time
}

func newWallClock() *wallClock {
	return &wallClock{file: os.Getenv(WallClockOffsetEnv), base: time.Now()}
}

// now returns the wall-clock time the server acts on.
func (c *wallClock) now() time.Time {
	if c.file == "" {
		return time.Now()
	}
	t := time.Now()
	if since := t.Sub(c.base).Nanoseconds(); since >= c.next.Load() {
		c.next.Store(since + wallClockRefresh.Nanoseconds())
		c.offset.Store(int64(readOffset(c.file)))
	}
	return t.Round(0).Add(time.Duration(c.offset.Load()))
}

// readOffset reads the offset file; a missing or malformed file is no offset.
func readOffset(file string) time.Duration {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	d, err := time.ParseDuration(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	return d
}
