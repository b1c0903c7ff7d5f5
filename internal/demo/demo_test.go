package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
)

// The demo says when the roll's slowest operation missed the latency
// target, not only that nothing failed.
func TestLatencyVerdict(t *testing.T) {
	rep := &scenario.Report{Baseline: bench.WindowStats{MaxAnyUS: 3_000}, Event: &scenario.EventSummary{Window: bench.WindowStats{MaxAnyUS: 150_300}}}
	got := LatencyVerdict(rep, 20*time.Millisecond)
	if !strings.Contains(got, "150.3 ms") || !strings.Contains(got, "MISSED") {
		t.Fatalf("missed target: %q", got)
	}
	rep.Event.Window.MaxAnyUS = 14_700
	if got := LatencyVerdict(rep, 20*time.Millisecond); !strings.Contains(got, "14.7 ms") || !strings.Contains(got, "met") || strings.Contains(got, "MISSED") {
		t.Fatalf("met target: %q", got)
	}
	// Without an event the whole load counts.
	rep.Event = nil
	if got := LatencyVerdict(rep, time.Millisecond); !strings.Contains(got, "3.0 ms") || !strings.Contains(got, "MISSED") {
		t.Fatalf("no event: %q", got)
	}
}
