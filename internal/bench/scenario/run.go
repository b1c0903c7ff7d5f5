package scenario

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// Defaults of Options.
const (
	DefaultDuration      = 60 * time.Second
	DefaultTail          = 5 * time.Second
	DefaultHealthTimeout = 3 * time.Minute
	// minBaseline is the shortest baseline window: enough seconds to
	// compare the event's p99.9 against.
	minBaseline = 5 * time.Second
)

// loadCap bounds the load in case nothing stops it; Run always stops it
// itself once the cluster has recovered.
const loadCap = 24 * time.Hour

// Options tune a scenario run. Zero fields take the defaults.
type Options struct {
	// Load is the benchmark configuration. Load.Duration is the minimum
	// length of the load (DefaultDuration when zero): the load runs at
	// least that long, and longer when the event and the recovery take
	// longer. Load.MaxOps is ignored.
	Load bench.Config
	// Baseline is the load before the event (default a quarter of the
	// duration, at least 5 s).
	Baseline time.Duration
	// Tail is how long the load continues once the cluster is fully
	// healthy again (DefaultTail), to show the recovered performance.
	Tail time.Duration
	// Downtime overrides the scenario's own downtime when positive.
	Downtime time.Duration
	// HealthTimeout bounds every wait for full health.
	HealthTimeout time.Duration
	// Progress receives one line per step; nil discards them.
	Progress io.Writer
}

func (o Options) withDefaults(s Scenario) Options {
	if o.Load.Duration <= 0 {
		o.Load.Duration = DefaultDuration
	}
	if o.Baseline <= 0 {
		o.Baseline = max(o.Load.Duration/4, minBaseline)
	}
	if o.Tail <= 0 {
		o.Tail = DefaultTail
	}
	if o.Downtime <= 0 {
		o.Downtime = s.Downtime
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = DefaultHealthTimeout
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	return o
}

// Run runs scenario s against cluster c, with load sent through target, and
// returns its report, which it also writes to Options.Load.OutDir when set.
//
// The cluster must be fully healthy before the load starts (Run waits for
// it). The report is returned whenever the load ran, even when the event
// failed or the cluster did not recover; the error then says what went
// wrong (wrapping ErrEvent or ErrNotHealthy). Cancelling ctx ends the event
// and the load early; the checks still run on what was recorded.
func Run(ctx context.Context, s Scenario, c Cluster, target bench.Target, opts Options) (*Report, error) {
	if err := s.Supports(c); err != nil {
		return nil, err
	}
	opts = opts.withDefaults(s)
	cfg := opts.Load
	minLoad := cfg.Duration
	cfg.Duration, cfg.MaxOps = loadCap, 0
	var notes []string
	if s.Expected != "" {
		notes = append(notes, "expected to fail until the protocol work lands: "+s.Expected)
	}
	if s.WriteHeavy && cfg.Workload.ReadRatio != WriteHeavyReadRatio {
		notes = append(notes, fmt.Sprintf("write-heavy load: read ratio %.2f instead of %.2f", WriteHeavyReadRatio, cfg.Workload.ReadRatio))
		cfg.Workload.ReadRatio = WriteHeavyReadRatio
		cfg.Workload.DeleteRatio = min(cfg.Workload.DeleteRatio, 1-WriteHeavyReadRatio)
	}
	// The runner writes the load's files (and a violation's visualisation);
	// the scenario report replaces report.json and report.txt afterwards.
	runner, err := bench.NewRunner(target, cfg)
	if err != nil {
		return nil, err
	}

	env := &Env{Cluster: c, Downtime: opts.Downtime, annotate: runner.Annotate, progress: opts.Progress, notes: notes}
	healthCtx, cancel := context.WithTimeout(ctx, opts.HealthTimeout)
	err = c.WaitHealthy(healthCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("%w before the load: %w", ErrNotHealthy, err)
	}

	env.logf("%s: %s", s.Name, s.Summary)
	env.logf("load for at least %s; baseline %s", minLoad, opts.Baseline)
	type result struct {
		rep *bench.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := runner.Run(ctx)
		done <- result{rep, err}
	}()

	tl := timeline{}
	var eventErr, healthErr error
	if err := sleep(ctx, opts.Baseline); err == nil {
		tl, eventErr, healthErr = runEvent(ctx, s, env, runner, opts)
		// Keep the load going through the tail, and to the minimum length.
		sleep(ctx, max(tl.healthy+opts.Tail, minLoad)-runner.Elapsed())
	}
	runner.Stop()
	env.logf("load stopped; checking linearizability and lost writes")
	res := <-done
	if res.rep == nil {
		return nil, res.err
	}

	rep := buildReport(s, c, env, opts, tl, eventErr, runner.Ops(), res.rep)
	errs := []error{res.err, eventErr, healthErr}
	if dir := cfg.OutDir; dir != "" {
		errs = append(errs, rep.WriteFiles(dir))
	}
	return rep, errors.Join(errs...)
}

// timeline holds the offsets (on the runner's clock) that delimit the
// event.
type timeline struct {
	event     bool          // the scenario has an event and it started
	start     time.Duration // the event's first action
	repaired  time.Duration // the event's last action returned
	healthy   time.Duration // the cluster was fully healthy again
	isHealthy bool          // it did become healthy
}

// runEvent runs the scenario's event, then waits for full health.
func runEvent(ctx context.Context, s Scenario, env *Env, runner *bench.Runner, opts Options) (timeline, error, error) {
	tl := timeline{start: runner.Elapsed()}
	var eventErr error
	if s.event != nil {
		tl.event = true
		env.logf("event starts at %.1f s", tl.start.Seconds())
		eventErr = s.event(ctx, env)
	}
	tl.repaired = runner.Elapsed()

	healthCtx, cancel := context.WithTimeout(ctx, opts.HealthTimeout)
	defer cancel()
	end := func() {}
	if tl.event {
		env.logf("wait fully healthy")
		end = runner.Annotate("wait fully healthy")
	}
	healthErr := env.Cluster.WaitHealthy(healthCtx)
	end()
	tl.healthy = runner.Elapsed()
	if healthErr != nil {
		healthErr = fmt.Errorf("%w after the event: %w", ErrNotHealthy, healthErr)
	} else {
		tl.isHealthy = true
		if tl.event {
			env.logf("fully healthy %.1f s after the event's last action", (tl.healthy - tl.repaired).Seconds())
		}
	}
	return tl, eventErr, healthErr
}
