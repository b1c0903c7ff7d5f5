package bench

import (
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// Meter accumulates the load's operations as they complete, so that a
// command can print a live progress line while the run goes on. The report
// is built from the recorded history afterwards and does not depend on it.
//
// Latency is measured from when each operation was due, as in the report.
// One mutex guards the interval: recording costs a lock and a histogram
// increment per operation, small beside any network round trip.
type Meter struct {
	mu   sync.Mutex
	hist *hdrhistogram.Histogram // the interval's successful latencies
	// ops and failed count the interval; totalOps and totalFailed the
	// meter's lifetime.
	ops, failed           int64
	totalOps, totalFailed int64
	// loadDone is set once the load has ended (the checks may still run).
	loadDone atomic.Bool
}

// MeterInterval holds the figures of the operations that completed between
// two calls of Meter.Interval.
type MeterInterval struct {
	// Ops completed in the interval; Failed of them returned an error.
	Ops    int64
	Failed int64
	// P99 is the 99th percentile latency of the interval's successful
	// operations, 0 when none succeeded.
	P99 time.Duration
	// TotalOps and TotalFailed count since the meter was created.
	TotalOps    int64
	TotalFailed int64
	// LoadDone is set when the load had ended before this interval was
	// taken: no operation will follow, and a progress display can stop.
	LoadDone bool
}

// NewMeter returns an empty Meter.
func NewMeter() *Meter {
	return &Meter{hist: newLatencyHistogram()}
}

// record adds one completed operation.
func (m *Meter) record(op Op) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ops++
	m.totalOps++
	if op.Result != ResultOK {
		m.failed++
		m.totalFailed++
		return
	}
	recordLatency(m.hist, op.Latency())
}

// finish marks the load as ended.
func (m *Meter) finish() { m.loadDone.Store(true) }

// Interval returns the figures since the previous call (or since the meter
// was created) and starts a new interval.
func (m *Meter) Interval() MeterInterval {
	// Read before taking the interval: every operation of a finished load
	// was recorded before the flag was set, so none is left behind.
	done := m.loadDone.Load()
	m.mu.Lock()
	defer m.mu.Unlock()
	iv := MeterInterval{LoadDone: done, Ops: m.ops, Failed: m.failed, TotalOps: m.totalOps, TotalFailed: m.totalFailed}
	if m.hist.TotalCount() > 0 {
		iv.P99 = time.Duration(m.hist.ValueAtQuantile(99)) * time.Microsecond
	}
	m.hist.Reset()
	m.ops, m.failed = 0, 0
	return iv
}
