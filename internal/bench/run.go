package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Run defaults.
const (
	DefaultWorkers = 8
	// DefaultOpTimeout is the deadline of one operation. A write that
	// exceeds it has an unknown outcome.
	DefaultOpTimeout = 5 * time.Second
	// DefaultCheckTimeout bounds the linearizability search (and, again,
	// the shrinking of a violation).
	DefaultCheckTimeout = time.Minute
)

const (
	// readBackAttempts is how often the read-back tries a key before
	// counting it unverified; retries ride out a brief unavailability
	// right after a fault scenario.
	readBackAttempts = 3
	readBackBackoff  = 100 * time.Millisecond
)

// Config describes a run.
type Config struct {
	Workload Workload
	// Workers is the number of concurrent clients in closed-loop mode, and
	// the cap on operations in flight in open-loop mode (0: DefaultWorkers).
	// In open-loop mode it should exceed Rate times the expected latency;
	// when every worker is busy, due operations queue and their latency
	// grows, which the report shows rather than hides.
	Workers int
	// Rate, when positive, selects open-loop mode: operation k is due at
	// k/Rate seconds, whether or not earlier ones have returned.
	Rate float64
	// MaxOps and Duration bound the load; at least one must be set. In
	// open-loop mode the bounds apply to the schedule: operations due
	// before Duration are all issued, late ones included.
	MaxOps   int64
	Duration time.Duration
	// OpTimeout is the deadline of each operation (0: DefaultOpTimeout).
	OpTimeout time.Duration
	// CheckTimeout bounds the linearizability check (0:
	// DefaultCheckTimeout).
	CheckTimeout time.Duration
	// SkipReadBack skips reading every written key back after the load,
	// and with it the lost-write check.
	SkipReadBack bool
	// SkipLinearizability skips the linearizability check; the report
	// says "unknown".
	SkipLinearizability bool
	// OutDir, when set, receives report.json, report.txt, timeline.svg and,
	// on a violation, the linearizability visualisation.
	OutDir string
	// Meter, when set, sees every load operation as it completes, for a
	// live progress display; the report does not depend on it.
	Meter *Meter
}

func (c Config) withDefaults() Config {
	c.Workload = c.Workload.withDefaults()
	if c.Workers == 0 {
		c.Workers = DefaultWorkers
	}
	if c.OpTimeout == 0 {
		c.OpTimeout = DefaultOpTimeout
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	return c
}

func (c Config) validate() error {
	switch {
	case c.Workers < 1 || c.Workers > maxWriters:
		return fmt.Errorf("%w: workers %d not in [1, %d]", ErrInvalidConfig, c.Workers, maxWriters)
	case c.Rate < 0 || math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0):
		return fmt.Errorf("%w: rate %v must be a finite number >= 0", ErrInvalidConfig, c.Rate)
	case c.MaxOps < 0 || c.Duration < 0:
		return fmt.Errorf("%w: negative operation count or duration", ErrInvalidConfig)
	case c.MaxOps == 0 && c.Duration == 0:
		return fmt.Errorf("%w: set an operation count or a duration", ErrInvalidConfig)
	case c.OpTimeout < 0 || c.CheckTimeout < 0:
		return fmt.Errorf("%w: negative timeout", ErrInvalidConfig)
	}
	return c.Workload.validate()
}

// Runner runs one workload against one target, then checks and reports.
type Runner struct {
	target Target
	cfg    Config
	keys   KeyChooser
	ran    atomic.Bool
	events annotations
	// stop is closed by Stop: the load ends as if it had reached its
	// bounds.
	stop     chan struct{}
	stopOnce sync.Once
	// start is the origin of every recorded time; set once by Run before
	// any worker starts.
	start time.Time
	// loadOps is the load's history, kept after Run for inspection.
	loadOps []Op
}

// NewRunner validates cfg (after filling its defaults) and returns a Runner
// for a single run.
func NewRunner(target Target, cfg Config) (*Runner, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	keys, err := cfg.Workload.chooser()
	if err != nil {
		return nil, err
	}
	return &Runner{target: target, cfg: cfg, keys: keys, stop: make(chan struct{})}, nil
}

// Config returns the configuration with defaults filled in.
func (r *Runner) Config() Config { return r.cfg }

// Annotate opens an event window labelled label (for example "restart node
// 2") at the current time and returns the function that closes it. Windows
// still open when the load ends are closed there. It is safe to call from
// any goroutine, during the run or just before it (the window then starts
// at 0).
func (r *Runner) Annotate(label string) (end func()) {
	i := r.events.begin(label, r.events.now())
	return func() { r.events.end(i, r.events.now()) }
}

// Stop ends the load as a planned end rather than an interruption: no new
// operation starts, in-flight ones finish, the checks run, and the report is
// not flagged Interrupted. A fault scenario uses it to end the load once
// the cluster has recovered, whenever that is. It is safe to call from any
// goroutine, any number of times, before or during Run.
func (r *Runner) Stop() {
	r.stopOnce.Do(func() { close(r.stop) })
}

// Elapsed returns the current offset on the run's clock, the one every
// recorded time and annotation uses: the time since Run started, 0 before.
// It is safe to call from any goroutine.
func (r *Runner) Elapsed() time.Duration { return r.events.now() }

// Ops returns the load's history (not the read-back) once Run has
// returned, in no particular order; nil before. Callers must not modify it.
func (r *Runner) Ops() []Op { return r.loadOps }

// Run issues the load until a bound is reached or ctx is cancelled, then
// reads back every written key, checks for lost writes and
// linearizability, and returns the report (also written to OutDir when
// set).
//
// Cancelling ctx stops new operations only: in-flight operations finish
// (each bounded by OpTimeout), and the read-back and the checks still run,
// bounded by OpTimeout per key and CheckTimeout, so an interrupted run
// still returns a complete report, flagged Interrupted.
//
// An error is returned for a second call, or when writing OutDir failed (the
// report is returned too).
func (r *Runner) Run(ctx context.Context) (*Report, error) {
	if !r.ran.CompareAndSwap(false, true) {
		return nil, ErrRunnerReused
	}
	cfg := r.cfg
	// Operations must not be cut short by ctx: a cancelled write would be
	// an unknown outcome caused by the benchmark itself, not the target.
	opCtx := context.WithoutCancel(ctx)
	hist := newHistory(cfg.Workers)
	var issued atomic.Int64
	var wg sync.WaitGroup

	// Workers watch loadCtx, which Stop cancels as well as ctx; only ctx's
	// cancellation counts as an interruption.
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	go func() {
		select {
		case <-r.stop:
			cancelLoad()
		case <-loadCtx.Done():
		}
	}()

	r.start = time.Now()
	r.events.setOrigin(r.start)
	for i := range cfg.Workers {
		w := r.newWorker(i, hist.logs[i], opCtx)
		w.meter = cfg.Meter
		if cfg.Rate > 0 {
			wg.Go(func() { w.runOpen(loadCtx, &issued) })
		} else {
			wg.Go(func() { w.runClosed(loadCtx, &issued) })
		}
	}
	wg.Wait()
	if cfg.Meter != nil {
		cfg.Meter.finish()
	}
	elapsed := r.since()
	interrupted := ctx.Err() != nil
	ops := hist.ops()
	r.loadOps = ops
	events := r.events.snapshot(elapsed)

	lost := LostWriteResult{Skipped: true}
	var readBack []Op
	if !cfg.SkipReadBack {
		readBack = r.readBack(opCtx, writtenKeys(ops))
		lost = CheckLostWrites(ops, readBack, cfg.Workload.KeyName)
	}
	lin := LinearizabilityResult{Verdict: VerdictUnknown, Skipped: true}
	var errs []error
	if !cfg.SkipLinearizability {
		var err error
		lin, err = checkLinearizability(CheckOptions{
			Timeout: cfg.CheckTimeout,
			OutDir:  cfg.OutDir,
			KeyName: cfg.Workload.KeyName,
			Events:  events,
		}, ops, readBack)
		errs = append(errs, err)
	}

	rep := buildReport(reportInput{
		cfg:         cfg,
		ops:         ops,
		elapsed:     elapsed,
		interrupted: interrupted,
		errors:      hist.errorCounts(),
		events:      events,
		lost:        lost,
		lin:         lin,
	})
	if cfg.OutDir != "" {
		errs = append(errs, rep.WriteFiles(cfg.OutDir))
	}
	return rep, errors.Join(errs...)
}

// since returns the time elapsed since the run started.
func (r *Runner) since() time.Duration { return time.Since(r.start) }

// readBack reads every key once (retrying failures) after the load, with as
// many readers as the load had workers. Readers use client numbers after
// the workers'.
func (r *Runner) readBack(opCtx context.Context, keys []uint64) []Op {
	if len(keys) == 0 {
		return nil
	}
	readers := min(r.cfg.Workers, len(keys))
	hist := newHistory(readers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range readers {
		w := r.newWorker(r.cfg.Workers+g, hist.logs[g], opCtx)
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(keys) {
					return
				}
				for attempt := range readBackAttempts {
					if attempt > 0 {
						time.Sleep(time.Duration(attempt) * readBackBackoff)
					}
					if w.do(OpGet, keys[i], -1) == ResultOK {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return hist.ops()
}

// worker is one client of the load (or of the read-back). It owns its
// generator, buffers and log, so the hot path takes no locks.
type worker struct {
	id    int
	r     *Runner
	gen   *opGenerator
	log   *opLog
	opCtx context.Context
	// meter is the Config's Meter for load workers, nil for the read-back.
	meter *Meter
	key   []byte
	value []byte
	seq   uint64 // sequence number of this worker's next Set
}

func (r *Runner) newWorker(id int, log *opLog, opCtx context.Context) *worker {
	return &worker{
		id:    id,
		r:     r,
		gen:   newOpGenerator(r.cfg.Workload, r.keys, id),
		log:   log,
		opCtx: opCtx,
		value: make([]byte, r.cfg.Workload.ValueSize),
	}
}

// runClosed issues operations back to back until a bound or cancellation.
func (w *worker) runClosed(ctx context.Context, issued *atomic.Int64) {
	cfg := &w.r.cfg
	for ctx.Err() == nil {
		if cfg.MaxOps > 0 && issued.Add(1) > cfg.MaxOps {
			return
		}
		if cfg.Duration > 0 && w.r.since() >= cfg.Duration {
			return
		}
		kind, key := w.gen.next()
		w.do(kind, key, -1)
	}
}

// runOpen takes the next slot of the global schedule, waits until it is
// due, and issues it. When every worker is busy, slots wait in the
// schedule, and their latency, measured from when they were due, includes
// that wait: a stalled server is charged for the requests it kept from
// being sent, instead of them silently not existing (coordinated omission).
func (w *worker) runOpen(ctx context.Context, issued *atomic.Int64) {
	cfg := &w.r.cfg
	interval := float64(time.Second) / cfg.Rate
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for ctx.Err() == nil {
		k := issued.Add(1) - 1
		if cfg.MaxOps > 0 && k >= cfg.MaxOps {
			return
		}
		due := time.Duration(float64(k) * interval)
		if cfg.Duration > 0 && due >= cfg.Duration {
			return
		}
		if wait := due - w.r.since(); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		kind, key := w.gen.next()
		w.do(kind, key, due)
	}
}

// do issues one operation, records it and returns its result. due < 0
// means "due when started" (closed loop and read-back).
func (w *worker) do(kind OpKind, key uint64, due time.Duration) Result {
	r := w.r
	w.key = r.cfg.Workload.Key(w.key[:0], key)
	op := Op{Kind: kind, Client: int32(w.id), Key: key}
	if kind == OpSet {
		op.Value = makeValueID(w.id, w.seq)
		w.seq++
		encodeValue(w.value, op.Value)
	}
	ctx, cancel := context.WithTimeout(w.opCtx, r.cfg.OpTimeout)
	var err error
	op.Start = r.since()
	switch kind {
	case OpGet:
		var value []byte
		var found bool
		value, found, err = r.target.Get(ctx, w.key)
		op.End = r.since()
		if err == nil && found {
			op.Value = decodeValue(value, r.cfg.Workload.ValueSize)
		}
	case OpSet:
		err = r.target.Set(ctx, w.key, w.value)
		op.End = r.since()
	case OpDel:
		err = r.target.Del(ctx, w.key)
		op.End = r.since()
	}
	cancel()
	op.Due = due
	if due < 0 {
		op.Due = op.Start
	}
	op.Result = classify(kind, err)
	if err != nil {
		w.log.countError(err.Error())
	}
	w.log.add(op)
	if w.meter != nil {
		w.meter.record(op)
	}
	return op.Result
}

// classify maps an operation's error to what it tells about its effect.
func classify(kind OpKind, err error) Result {
	switch {
	case err == nil:
		return ResultOK
	case kind == OpGet, errors.Is(err, ErrRejected):
		return ResultFailed
	default:
		return ResultUnknown
	}
}
