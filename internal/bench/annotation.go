package bench

import (
	"encoding/json"
	"sync"
	"time"
)

// Annotation is a labelled window of the run, such as "restart node 2",
// drawn shaded on the timeline plot and listed in the report so that a
// latency spike can be matched to its cause. Times are offsets from the
// run's start.
type Annotation struct {
	Label string
	Start time.Duration
	End   time.Duration
}

// MarshalJSON renders the window in seconds, the unit of the timeline.
func (a Annotation) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Label string  `json:"label"`
		Start float64 `json:"start_s"`
		End   float64 `json:"end_s"`
	}{a.Label, a.Start.Seconds(), a.End.Seconds()})
}

// annotations collects event windows while a run is going. Scenario code
// calls into it from its own goroutines.
type annotations struct {
	mu     sync.Mutex
	origin time.Time // the run's start; zero before it
	events []Annotation
}

// setOrigin fixes the time offsets are measured from.
func (a *annotations) setOrigin(t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.origin = t
}

// now returns the current offset from the origin, 0 before the run.
func (a *annotations) now() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.origin.IsZero() {
		return 0
	}
	return time.Since(a.origin)
}

// begin opens a window at offset start and returns its index.
func (a *annotations) begin(label string, start time.Duration) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, Annotation{Label: label, Start: start, End: -1})
	return len(a.events) - 1
}

// end closes window i at offset end.
func (a *annotations) end(i int, end time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.events[i].End < 0 {
		a.events[i].End = end
	}
}

// snapshot returns the windows, closing still-open ones at runEnd.
func (a *annotations) snapshot(runEnd time.Duration) []Annotation {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]Annotation, len(a.events))
	for i, e := range a.events {
		if e.End < 0 {
			e.End = max(runEnd, e.Start)
		}
		out[i] = e
	}
	return out
}
