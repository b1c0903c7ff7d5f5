package scenario

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// Env is what a scenario's event runs with: the cluster, the scenario's
// downtime, and the means to mark its steps on the timeline and to add
// notes to the report.
type Env struct {
	Cluster Cluster
	// Downtime is how long a crashed or frozen node stays down before the
	// event repairs it.
	Downtime time.Duration

	annotate func(label string) (end func())
	progress io.Writer

	mu       sync.Mutex
	notes    []string
	counters []CounterResult
}

// setCounters records the counter check's results for the report.
func (e *Env) setCounters(r []CounterResult) {
	e.mu.Lock()
	e.counters = r
	e.mu.Unlock()
}

func (e *Env) takeCounters() []CounterResult {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.counters
}

// Step runs one action of the event as a labelled window on the timeline
// (for example "kill -9 replica2"), and logs it.
func (e *Env) Step(label string, action func() error) error {
	e.logf("%s", label)
	end := e.annotate(label)
	err := action()
	end()
	if err != nil {
		e.logf("%s: %v", label, err)
		return fmt.Errorf("%w: %s: %w", ErrEvent, label, err)
	}
	return nil
}

// Wait waits for d, or until ctx ends.
func (e *Env) Wait(ctx context.Context, d time.Duration) error {
	return sleep(ctx, d)
}

// Note adds a line to the report's notes: a caveat on how the event was
// produced, or which node it hit.
func (e *Env) Note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	e.mu.Lock()
	e.notes = append(e.notes, msg)
	e.mu.Unlock()
	e.logf("note: %s", msg)
}

func (e *Env) takeNotes() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.notes
}

func (e *Env) logf(format string, args ...any) {
	fmt.Fprintf(e.progress, "scenario: "+format+"\n", args...)
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
