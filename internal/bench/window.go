package bench

import (
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// WindowStats summarises the operations due within one window of a run,
// such as the baseline before a fault and the fault itself, so that the two
// can be compared.
type WindowStats struct {
	// StartS and EndS bound the window, in seconds from the run's start.
	StartS float64 `json:"start_s"`
	EndS   float64 `json:"end_s"`
	// Ops were due in the window; Failed of them returned an error
	// (UnknownOps of those are writes with an unknown outcome).
	Ops        int64 `json:"ops"`
	Failed     int64 `json:"failed"`
	UnknownOps int64 `json:"unknown_ops"`
	// Latency covers the successful operations.
	Latency LatencySummary `json:"latency_us"`
	// MaxAnyUS is the longest latency of any operation, failed ones
	// included: the longest a client waited for an answer, whatever it was.
	MaxAnyUS int64 `json:"max_any_us"`
}

// Window summarises the operations of ops due in [from, to). Operations are
// placed by when they were due, like the report's timeline, so that a stall
// is charged to the window in which the waiting began.
func Window(ops []Op, from, to time.Duration) WindowStats {
	ws := WindowStats{StartS: from.Seconds(), EndS: to.Seconds()}
	var h *hdrhistogram.Histogram
	for _, op := range ops {
		if op.Due < from || op.Due >= to {
			continue
		}
		ws.Ops++
		ws.MaxAnyUS = max(ws.MaxAnyUS, op.Latency().Microseconds())
		switch op.Result {
		case ResultOK:
			if h == nil {
				h = newLatencyHistogram()
			}
			recordLatency(h, op.Latency())
		case ResultUnknown:
			ws.UnknownOps++
			ws.Failed++
		default:
			ws.Failed++
		}
	}
	if h != nil {
		ws.Latency = summarize(h)
	}
	return ws
}
