package scenario

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Counters: the exactly-once check of the counter-restarts scenario.
//
// Workers run incr (+1) and check_and_set (read v, then set v+1 if the
// value is still v) on a few counters with long client deadlines while the
// event restarts servers. Every operation ends acknowledged, failed
// (definitely not applied) or unknown (may have been applied). Afterwards,
// per counter, with acked the acknowledged increments and unknown the
// unknown ones:
//
//	acked <= final <= acked + unknown
//
// and no value is returned twice: two incr answers, or two applied
// check_and_set, that report the same new value of one counter mean one
// increment was applied twice or one was lost.

// CounterClient runs counter operations on the benchmark table.
type CounterClient interface {
	// Incr adds delta and returns the new value.
	Incr(ctx context.Context, key string, delta int64) (int64, error)
	// Read returns the counter (0 when absent).
	Read(ctx context.Context, key string) (int64, error)
	// CompareAndSet sets the counter to next if it holds prev (absent
	// counts as 0) and reports whether it did.
	CompareAndSet(ctx context.Context, key string, prev, next int64) (bool, error)
	// IsUnknown tells an error whose write may have been applied from a
	// definite failure.
	IsUnknown(err error) bool
}

// CounterCluster offers a CounterClient and the means to force a
// checkpoint install (TriggerCheckpoint flushes a replica server's stores
// and trims its mutation logs, so that a learner far behind must copy a
// checkpoint).
type CounterCluster interface {
	Counters() CounterClient
	TriggerCheckpoint(ctx context.Context, node string) error
	// CheckpointsInstalled counts the checkpoints node's replicas
	// installed since it started.
	CheckpointsInstalled(ctx context.Context, node string) (int64, error)
}

func needCounters(c Cluster) error {
	if _, ok := c.(CounterCluster); !ok {
		return fmt.Errorf("%w: %s offers no counter client", ErrUnsupported, c.Describe())
	}
	if _, ok := c.(LeaderFinder); !ok {
		return fmt.Errorf("%w: %s cannot name its leader", ErrUnsupported, c.Describe())
	}
	return nil
}

// CounterKind is incr or check_and_set.
type CounterKind string

const (
	CounterIncr CounterKind = "incr"
	CounterCAS  CounterKind = "check_and_set"
)

// CounterResult is one counter's tally and verdict.
type CounterResult struct {
	Key     string      `json:"key"`
	Kind    CounterKind `json:"kind"`
	Ops     int64       `json:"ops"`
	Acked   int64       `json:"acked"`
	Failed  int64       `json:"failed"`
	Unknown int64       `json:"unknown"`
	Final   int64       `json:"final"`
	// Duplicates are new values reported by two acknowledged operations.
	Duplicates []int64 `json:"duplicates,omitempty"`
	// Problem is empty when the counter passes.
	Problem string `json:"problem,omitempty"`
}

// counterTally records one counter's outcomes.
type counterTally struct {
	mu   sync.Mutex
	res  CounterResult
	seen map[int64]bool
}

func (t *counterTally) record(value int64, applied bool, err error, isUnknown func(error) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.res.Ops++
	switch {
	case err != nil && isUnknown(err):
		t.res.Unknown++
	case err != nil:
		t.res.Failed++
	case !applied:
		// A check_and_set whose check failed: a definite no-op.
	default:
		t.res.Acked++
		if t.seen[value] {
			t.res.Duplicates = append(t.res.Duplicates, value)
		}
		t.seen[value] = true
	}
}

// judge sets Final and Problem.
func (t *counterTally) judge(final int64) CounterResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.res
	r.Duplicates = slices.Clone(r.Duplicates)
	r.Final = final
	switch {
	case final < r.Acked:
		r.Problem = fmt.Sprintf("final %d < %d acknowledged: acknowledged increments lost", final, r.Acked)
	case final > r.Acked+r.Unknown:
		r.Problem = fmt.Sprintf("final %d > %d acknowledged + %d unknown: an increment applied twice (or a definite failure applied)",
			final, r.Acked, r.Unknown)
	case len(r.Duplicates) > 0:
		r.Problem = fmt.Sprintf("values returned twice: %v", r.Duplicates)
	}
	return r
}

// counterLoad runs the workers until stopped.
type counterLoad struct {
	cc      CounterClient
	tallies []*counterTally
	stop    chan struct{}
	wg      sync.WaitGroup
}

// counterDeadline is each operation's deadline: long, so that an operation
// spans a restart and its retries meet a replica that restarted or
// installed a checkpoint since the first attempt applied.
const counterDeadline = 60 * time.Second

// counterOpsCap bounds each worker's operations.
const counterOpsCap = 1_000_000

func startCounterLoad(cc CounterClient, prefix string, perKind, workersPerCounter int) *counterLoad {
	l := &counterLoad{cc: cc, stop: make(chan struct{})}
	for _, kind := range []CounterKind{CounterIncr, CounterCAS} {
		for i := range perKind {
			t := &counterTally{res: CounterResult{Key: fmt.Sprintf("%s%s-%d", prefix, kind, i), Kind: kind}, seen: make(map[int64]bool)}
			l.tallies = append(l.tallies, t)
			for range workersPerCounter {
				l.wg.Add(1)
				go l.work(t)
			}
		}
	}
	return l
}

func (l *counterLoad) work(t *counterTally) {
	defer l.wg.Done()
	key := t.res.Key
	for n := 0; n < counterOpsCap; n++ {
		select {
		case <-l.stop:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), counterDeadline)
		if t.res.Kind == CounterIncr {
			v, err := l.cc.Incr(ctx, key, 1)
			t.record(v, true, err, l.cc.IsUnknown)
		} else {
			prev, err := l.cc.Read(ctx, key)
			if err == nil {
				var ok bool
				ok, err = l.cc.CompareAndSet(ctx, key, prev, prev+1)
				t.record(prev+1, ok, err, l.cc.IsUnknown)
			}
		}
		cancel()
	}
}

// finish stops the workers, waits for the operations in flight (at most
// counterDeadline) and judges every counter from its final value.
func (l *counterLoad) finish(ctx context.Context) ([]CounterResult, error) {
	close(l.stop)
	l.wg.Wait()
	var out []CounterResult
	var errs []error
	for _, t := range l.tallies {
		final, err := l.cc.Read(ctx, t.res.Key)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading %s: %w", t.res.Key, err))
			continue
		}
		out = append(out, t.judge(final))
	}
	return out, errors.Join(errs...)
}

// counterRestarts runs counters under a replica server crash, a meta
// leader crash and a forced checkpoint install, then checks them.
func counterRestarts(ctx context.Context, e *Env) error {
	cc := e.Cluster.(CounterCluster)
	load := startCounterLoad(cc.Counters(), fmt.Sprintf("ctr-%d-", time.Now().UnixNano()), 2, 4)
	faultErr := counterFaults(ctx, e, cc)
	var results []CounterResult
	err := e.Step("stop the counters and read them back", func() error {
		var err error
		results, err = load.finish(ctx)
		return err
	})
	e.setCounters(results)
	for _, r := range results {
		e.Note("counter %s (%s): %d ops, %d acked, %d failed, %d unknown, final %d%s", r.Key, r.Kind, r.Ops, r.Acked, r.Failed,
			r.Unknown, r.Final, map[bool]string{true: ": " + r.Problem, false: ""}[r.Problem != ""])
	}
	return errors.Join(faultErr, err)
}

// counterFaults: kill -9 the busiest replica server and restart it; kill
// -9 the meta leader and restart it; kill -9 another replica server, trim
// every log while it is down, and restart it so that it installs a
// checkpoint.
func counterFaults(ctx context.Context, e *Env, cc CounterCluster) error {
	victim, err := victimReplica(ctx, e)
	if err != nil {
		return err
	}
	if err := crashAndRestart(ctx, e, victim); err != nil {
		return err
	}
	if err := e.Step("wait healthy", func() error { return e.Cluster.WaitHealthy(ctx) }); err != nil {
		return err
	}
	leader, err := e.Cluster.(LeaderFinder).Leader(ctx, RoleMeta)
	if err != nil {
		return fmt.Errorf("%w: finding the meta leader: %w", ErrEvent, err)
	}
	if err := crashAndRestart(ctx, e, leader); err != nil {
		return err
	}
	if err := e.Step("wait healthy", func() error { return e.Cluster.WaitHealthy(ctx) }); err != nil {
		return err
	}
	replicas := e.Cluster.Nodes(RoleReplica)
	learner := replicas[len(replicas)-1]
	if learner == victim && len(replicas) > 1 {
		learner = replicas[0]
	}
	if err := e.Step("kill -9 "+learner, func() error { return e.Cluster.Kill(ctx, learner) }); err != nil {
		return err
	}
	// Longer than the other downtimes: the learner must fall further
	// behind than the primaries' in-memory mutation cache covers.
	down := learnerDowntimeFactor * e.Downtime
	if err := e.Step(fmt.Sprintf("%s down %s", learner, down), func() error { return e.Wait(ctx, down) }); err != nil {
		return err
	}
	for _, n := range replicas {
		if n == learner {
			continue
		}
		if err := e.Step("trigger-checkpoint on "+n, func() error { return cc.TriggerCheckpoint(ctx, n) }); err != nil {
			return err
		}
	}
	if err := e.Step("restart "+learner, func() error { return e.Cluster.Start(ctx, learner) }); err != nil {
		return err
	}
	if err := e.Step("wait healthy", func() error { return e.Cluster.WaitHealthy(ctx) }); err != nil {
		return err
	}
	n, err := cc.CheckpointsInstalled(ctx, learner)
	if err != nil {
		return fmt.Errorf("%w: counting %s's checkpoint installs: %w", ErrEvent, learner, err)
	}
	e.Note("%s restarted behind logs trimmed by replica.trigger-checkpoint and installed %d checkpoints", learner, n)
	if n == 0 {
		return fmt.Errorf("%w: %s installed no checkpoint: its gap was served from the primaries' logs", ErrEvent, learner)
	}
	return nil
}

// learnerDowntimeFactor lengthens the learner's downtime over the
// scenario's.
const learnerDowntimeFactor = 4
