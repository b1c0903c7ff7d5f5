// Package benchcpu reports a benchmark's CPU time per operation beside its
// wall time. The reference machine is shared with other jobs: there wall
// time per op mostly measures the wait for a core, and swings by tens of
// percent from one run to the next, while the CPU time the process spent is
// the cost of the operations and moves much less. It counts the whole
// process (user and system time), so background goroutines and in-process
// servers count too; servers in other processes do not.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Meter measures the CPU time of one benchmark run.
type Meter struct{ start time.Duration }

// Start resets the benchmark timer and starts measuring CPU time. Call it
// after the setup, where b.ResetTimer would go.
func Start(b *testing.B) *Meter {
	b.ResetTimer()
	return &Meter{start: processCPU(b)}
}

// Report adds the CPU time per op since Start as "cpu-ns/op".
func (m *Meter) Report(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-m.start)/float64(b.N), "cpu-ns/op")
}

func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
