package rolling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Status is `pegasus rolling-update status`: the stored roll's progress
// and who runs it.
type Status struct {
	Progress Progress
	// Held: an orchestrator holds the lock (Progress.Holder names it).
	Held   bool
	Record Record
}

// ReadStatus reads the stored roll of cluster from store.
func ReadStatus(ctx context.Context, store Store, cluster string, now time.Time) (Status, error) {
	rec, err := store.Load(ctx)
	if err != nil {
		return Status{}, err
	}
	m, err := plan.Restore(rec.State)
	if err != nil {
		return Status{}, err
	}
	holder, held, err := store.Holder(ctx)
	if err != nil {
		return Status{}, err
	}
	st := Status{Progress: ProgressOf(cluster, m, now), Held: held, Record: rec}
	if held {
		st.Progress.Holder = &holder
	}
	return st, nil
}

// WriteText prints the status as an operator reads it.
func (s Status) WriteText(out io.Writer) {
	p := s.Progress
	fmt.Fprintf(out, "cluster %s: roll %s", p.Cluster, p.Status)
	if !p.Started.IsZero() {
		fmt.Fprintf(out, ", started %s", p.Started.Local().Format(time.DateTime))
	}
	fmt.Fprintln(out)
	if p.Reason != "" {
		fmt.Fprintf(out, "reason: %s\n", p.Reason)
	}
	if est := estimateText(p.Estimate); est != "" && !p.Status.Terminal() {
		fmt.Fprintf(out, "progress: %s\n", est)
	}
	if p.StepIndex > 0 {
		fmt.Fprintf(out, "step %d of %d: %s\n", p.StepIndex, p.StepCount, p.Step)
		if p.Observed != "" {
			fmt.Fprintf(out, "  now: %s\n", p.Observed)
		}
	}
	switch {
	case s.Held:
		fmt.Fprintf(out, "orchestrator: %s\n", p.Holder)
	case !p.Status.Terminal():
		fmt.Fprintf(out, "orchestrator: none running (last: %s, at %s); `pegasus rolling-update resume` continues\n",
			s.Record.Holder, s.Record.Updated.Local().Format(time.DateTime))
	}
	fmt.Fprintln(out)
	p.Report.WriteText(out)
}

// SendRequest hands an operator's pause, resume or abort to the running
// orchestrator and waits (up to 10 s) until it took it.
func SendRequest(ctx context.Context, store Store, op RequestOp, reason string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err := store.Request(ctx, Request{Op: op, Reason: reason, From: ThisProcess(time.Now()), At: time.Now()})
	if errors.Is(err, ErrNotRunning) {
		return fmt.Errorf("%w; a stored roll continues only with `pegasus rolling-update resume`", err)
	}
	return err
}
