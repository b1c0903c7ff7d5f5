package rolling

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Env is what the roll commands work with, assembled by the CLI.
type Env struct {
	Cluster Cluster
	// Control is nil for commands that touch no node (status, pause).
	Control   NodeControl
	Collector Collector
	Store     Store
	// ClusterName labels progress reports.
	ClusterName string
	Holder      Holder
	Out         io.Writer
	Live        bool
	Clock       Clock
	// PollInterval is the orchestrator's poll (default 1 s).
	PollInterval time.Duration
}

func (e Env) clock() Clock {
	if e.Clock == nil {
		return realClock{}
	}
	return e.Clock
}

func (e Env) orchestrator(sess Session, run RunSpec) *Orchestrator {
	return NewOrchestrator(Config{
		Cluster: e.Cluster, Control: e.Control, Collector: e.Collector, Session: sess,
		ClusterName: e.ClusterName, Run: run, Holder: e.Holder, Out: e.Out, Live: e.Live,
		Clock: e.Clock, PollInterval: e.PollInterval,
	})
}

// Begin runs a new roll of p: it takes the lock, refuses if a stored roll
// has not ended, stores the new roll and drives it to its end.
func Begin(ctx context.Context, e Env, run RunSpec, p plan.Plan) (plan.Report, error) {
	sess, err := e.Store.Acquire(ctx, e.Holder)
	if err != nil {
		return plan.Report{}, err
	}
	defer sess.Release(context.WithoutCancel(ctx))
	switch rec, err := e.Store.Load(ctx); {
	case errors.Is(err, ErrNoRoll):
	case errors.Is(err, ErrInvalidRecord):
		// An unreadable record cannot be resumed either; say so rather than
		// silently replacing what may be an unfinished roll.
		return plan.Report{}, fmt.Errorf("%w; inspect it with etcdctl and delete it to start over", err)
	case err != nil:
		return plan.Report{}, err
	case !rec.State.Status.Terminal():
		return plan.Report{}, unfinished(rec)
	}
	return e.orchestrator(sess, run).Run(ctx, plan.NewMachine(p))
}

func unfinished(rec Record) error {
	where := string(rec.State.Status)
	if m, err := plan.Restore(rec.State); err == nil {
		if n, step, _, ok := m.Current(); ok {
			where = fmt.Sprintf("%s at step %d of %d (%s)", rec.State.Status, n, len(rec.State.Steps),
				stepLabel(step, len(rec.State.Plan.Replicas)))
		}
	}
	return fmt.Errorf("%w: %s, last written by %s; run `pegasus rolling-update resume` or `abort`",
		ErrUnfinishedRoll, where, rec.Holder)
}

// Resume continues the stored roll. If an orchestrator runs it, Resume
// only lifts an operator's pause there (ErrLocked is not returned then:
// resumed is true and the report empty). Otherwise it waits up to
// takeover for the lock of an orchestrator that died to expire, lifts any
// operator pause, and drives the roll to its end from exactly where the
// stored state stands.
func Resume(ctx context.Context, e Env, takeover time.Duration) (report plan.Report, remote bool, err error) {
	queued, err := relay(ctx, e, Request{Op: RequestResume, From: e.Holder, At: e.clock().Now()})
	if err != nil || queued == relayed {
		return plan.Report{}, queued == relayed, err
	}
	sess, err := takeOver(ctx, e, takeover, queued)
	if err != nil {
		return plan.Report{}, false, err
	}
	defer sess.Release(context.WithoutCancel(ctx))
	rec, err := e.Store.Load(ctx)
	if err != nil {
		return plan.Report{}, false, err
	}
	if rec.State.Status.Terminal() {
		return plan.Report{}, false, fmt.Errorf("%w: %s", ErrRollEnded, rec.State.Status)
	}
	m, err := plan.Restore(rec.State)
	if err != nil {
		return plan.Report{}, false, err
	}
	// Resuming is also the operator's word to go on; cleanup ignores it.
	_ = m.Resume(e.clock().Now())
	report, err = e.orchestrator(sess, rec.Run).Run(ctx, m)
	return report, false, err
}

// Abort stops the stored roll. A running orchestrator is asked to abort
// and runs the cleanup itself (remote true). Otherwise Abort takes the
// lock, waiting up to takeover for a dead holder's lease, and runs the
// cleanup: it starts every server the roll left stopped and restores
// every knob it changed.
func Abort(ctx context.Context, e Env, reason string, takeover time.Duration) (report plan.Report, remote bool, err error) {
	queued, err := relay(ctx, e, Request{Op: RequestAbort, Reason: reason, From: e.Holder, At: e.clock().Now()})
	if err != nil || queued == relayed {
		return plan.Report{}, queued == relayed, err
	}
	sess, err := takeOver(ctx, e, takeover, queued)
	if err != nil {
		return plan.Report{}, false, err
	}
	defer sess.Release(context.WithoutCancel(ctx))
	rec, err := e.Store.Load(ctx)
	if err != nil {
		return plan.Report{}, false, err
	}
	if rec.State.Status.Terminal() {
		return plan.Report{}, false, fmt.Errorf("%w: %s", ErrRollEnded, rec.State.Status)
	}
	m, err := plan.Restore(rec.State)
	if err != nil {
		return plan.Report{}, false, err
	}
	if err := m.Abort(e.clock().Now(), reason); err != nil {
		return plan.Report{}, false, err
	}
	report, err = e.orchestrator(sess, rec.Run).Run(ctx, m)
	return report, false, err
}

// Rollback takes the nodes a stored roll has upgraded back to the previous
// version. A running orchestrator is asked to do it (remote true); a
// stored roll that has not ended is taken over (waiting up to takeover
// for a dead holder's lock) and rolled back; a roll that has ended is
// rolled back by a new roll, planned from the cluster as it is now (snap
// reads it), which replaces the stored record. The report is the
// rollback's.
func Rollback(ctx context.Context, e Env, reason string, takeover time.Duration,
	snap func(ctx context.Context) (plan.Snapshot, error)) (report plan.Report, remote bool, err error) {
	rec, err := e.Store.Load(ctx)
	if err != nil {
		return plan.Report{}, false, err
	}
	if !rec.State.Status.Terminal() {
		queued, err := relay(ctx, e, Request{Op: RequestRollback, Reason: reason, From: e.Holder, At: e.clock().Now()})
		if err != nil || queued == relayed {
			return plan.Report{}, queued == relayed, err
		}
		sess, err := takeOver(ctx, e, takeover, queued)
		if err != nil {
			return plan.Report{}, false, err
		}
		defer sess.Release(context.WithoutCancel(ctx))
		if rec, err = e.Store.Load(ctx); err != nil {
			return plan.Report{}, false, err
		}
		if !rec.State.Status.Terminal() {
			m, err := plan.Restore(rec.State)
			if err != nil {
				return plan.Report{}, false, err
			}
			if err := m.Rollback(e.clock().Now(), reason); err != nil {
				return plan.Report{}, false, err
			}
			report, err = e.orchestrator(sess, rec.Run).Run(ctx, m)
			return report, false, err
		}
		sess.Release(context.WithoutCancel(ctx))
	}
	// The roll has ended: a new roll undoes it.
	s, err := snap(ctx)
	if err != nil {
		return plan.Report{}, false, err
	}
	p, err := plan.RollbackPlan(rec.State, s, NewRollID(e.clock().Now()))
	if err != nil {
		return plan.Report{}, false, err
	}
	sess, err := e.Store.Acquire(ctx, e.Holder)
	if err != nil {
		return plan.Report{}, false, err
	}
	defer sess.Release(context.WithoutCancel(ctx))
	report, err = e.orchestrator(sess, rec.Run).Run(ctx, plan.NewMachine(p))
	return report, false, err
}

// relayOutcome is what became of a request to a running orchestrator.
type relayOutcome int

const (
	noHolder   relayOutcome = iota // nobody holds the lock
	relayed                        // the holder consumed the request
	unanswered                     // a holder exists but did not consume it
)

// relay hands req to the orchestrator holding the lock, if any. A live
// holder consumes it within a poll; a dead one never does, and then its
// lease expiry is what the caller waits for.
func relay(ctx context.Context, e Env, req Request) (relayOutcome, error) {
	_, held, err := e.Store.Holder(ctx)
	if err != nil || !held {
		return noHolder, err
	}
	reqCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	err = e.Store.Request(reqCtx, req)
	cancel()
	switch {
	case err == nil:
		return relayed, nil
	case errors.Is(err, ErrNotRunning):
		return noHolder, nil // it released the lock meanwhile
	case errors.Is(err, ErrNotAcknowledged):
		return unanswered, nil
	}
	return noHolder, err
}

// takeOver waits up to wait for the lock. When a request went unanswered
// and the holder still holds the lock, it is alive but busy (a long stop
// or start): the error says the request stays queued for it.
func takeOver(ctx context.Context, e Env, wait time.Duration, r relayOutcome) (Session, error) {
	waitCtx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	sess, err := AcquireWait(waitCtx, e.Store, e.Holder, 250*time.Millisecond)
	if err != nil && r == unanswered && errors.Is(err, ErrLocked) {
		return nil, fmt.Errorf("%w; it is busy, and the request stays queued for it", err)
	}
	return sess, err
}
