package storage

import (
	"syscall"
	"testing"
	"time"
)

// cpuMeter reports a benchmark's CPU time per op: user and system time of
// the whole process, so Pebble's background flushes and compactions count.
// On a machine shared with other jobs, wall time per op mostly measures the
// wait for a core; CPU time is the cost.
type cpuMeter struct{ start time.Duration }

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// startCPU resets the benchmark timer and starts measuring CPU time.
func startCPU(b *testing.B) *cpuMeter {
	b.ResetTimer()
	return &cpuMeter{start: processCPU(b)}
}

// report stops the timer, lets the compactions under way finish (their
// work is part of the cost of the ops) and reports "cpu-ns/op".
func (m *cpuMeter) report(b *testing.B, s *Store) {
	b.StopTimer()
	settle(b, s)
	b.ReportMetric(float64(processCPU(b)-m.start)/float64(b.N), "cpu-ns/op")
}

// settle waits (bounded) for the store's background compactions to finish,
// so that a read benchmark does not pay for the writes of its setup.
func settle(b *testing.B, s *Store) {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if s.db.Metrics().Compact.NumInProgress == 0 {
			return
		}
	}
}
