package rolling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// Config assembles an Orchestrator.
type Config struct {
	Cluster Cluster
	Control NodeControl
	// Collector is nil when the cluster runs none (or none was given).
	Collector Collector
	// Session is the held rolling lock; every state change is saved
	// through it before the actions it asked for run.
	Session Session
	// ClusterName labels progress reports.
	ClusterName string
	// Run and Holder are stored in the record beside the state.
	Run    RunSpec
	Holder Holder

	// Out receives the progress lines; Live rewrites the wait status in
	// place (for a terminal).
	Out  io.Writer
	Live bool

	Clock Clock
	// PollInterval is the pause between observations while a step waits
	// (default 1 s).
	PollInterval time.Duration
	// RPCTimeout bounds one admin RPC (default 10 s); node control calls
	// get what is left of their step's timeout instead.
	RPCTimeout time.Duration
	// QueryTimeout bounds one observation query (default 5 s).
	QueryTimeout time.Duration
	// SaveRetry is how long a failing state write is retried before the
	// orchestrator gives up (default 30 s). Nothing runs meanwhile: an
	// action must never run before the state that asked for it is stored.
	SaveRetry time.Duration
}

func (c Config) withDefaults() Config {
	if c.Clock == nil {
		c.Clock = realClock{}
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = 10 * time.Second
	}
	if c.QueryTimeout <= 0 {
		c.QueryTimeout = 5 * time.Second
	}
	if c.SaveRetry <= 0 {
		c.SaveRetry = 30 * time.Second
	}
	return c
}

// Orchestrator runs one roll: the loop of Next, save, act, observe.
type Orchestrator struct {
	cfg      Config
	progress *progressPrinter
	posts    chan Progress // latest progress for the collector, newest wins
	saved    []byte        // the state last written
	// renewed is when the roll's knob overrides were last set again.
	renewed time.Time
}

// NewOrchestrator returns an orchestrator for cfg.
func NewOrchestrator(cfg Config) *Orchestrator {
	cfg = cfg.withDefaults()
	return &Orchestrator{cfg: cfg, progress: newProgressPrinter(cfg.Out, cfg.Live)}
}

// Run drives m until the roll ends, the context is canceled (the state
// stays stored and `resume` continues it: ErrInterrupted) or the lock is
// lost (ErrLockLost). A roll that ends failed or aborted returns its
// report with ErrRollFailed or ErrRollAborted and the machine's reason.
func (o *Orchestrator) Run(ctx context.Context, m *plan.Machine) (plan.Report, error) {
	if o.cfg.Collector != nil {
		o.posts = make(chan Progress, 1)
		stop, done := make(chan struct{}), make(chan struct{})
		go func() { defer close(done); o.postLoop(stop) }()
		defer func() { close(stop); <-done }()
	}
	defer o.progress.finish()
	o.progress.resumed(m)

	var obs plan.Observation
	for {
		o.applyRequests(m)
		now := o.cfg.Clock.Now()
		actions := m.Next(now, obs)
		if err := o.save(ctx, m); err != nil {
			return m.Report(), err
		}
		o.progress.update(m, now)
		o.publish(m, now)
		if m.Status().Terminal() {
			break
		}
		o.renewKnobs(ctx, m)
		var commanded bool
		obs, commanded = o.execute(ctx, m, actions)
		if ctx.Err() != nil {
			return m.Report(), o.interrupted(m, ctx.Err())
		}
		if commanded {
			// Absorb the commands' results at once: an acknowledged step
			// completes and the next one starts without a poll's delay.
			continue
		}
		select {
		case <-ctx.Done():
			return m.Report(), o.interrupted(m, ctx.Err())
		case <-o.cfg.Session.Lost():
			return m.Report(), ErrLockLost
		case r := <-o.cfg.Session.Requests():
			o.apply(m, r)
		case <-o.cfg.Clock.After(o.cfg.PollInterval):
		}
	}
	o.publish(m, o.cfg.Clock.Now())
	report := m.Report()
	switch m.Status() {
	case plan.StatusFailed:
		return report, fmt.Errorf("%w: %s", ErrRollFailed, m.Reason())
	case plan.StatusAborted:
		return report, fmt.Errorf("%w: %s", ErrRollAborted, m.Reason())
	case plan.StatusRolledBack:
		return report, fmt.Errorf("%w: %s", ErrRolledBack, m.Reason())
	}
	return report, nil
}

func (o *Orchestrator) interrupted(m *plan.Machine, cause error) error {
	n, step, _, ok := m.Current()
	if !ok {
		return fmt.Errorf("%w (%w)", ErrInterrupted, cause)
	}
	return fmt.Errorf("%w at step %d (%s); `pegasus rolling-update resume` continues (%w)",
		ErrInterrupted, n, stepLabel(step, len(m.State().Plan.Replicas)), cause)
}

// save writes the state if it changed since the last write. A failing
// write is retried for SaveRetry; the actions wait for it.
func (o *Orchestrator) save(ctx context.Context, m *plan.Machine) error {
	st := m.State()
	data, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if bytes.Equal(data, o.saved) {
		return nil
	}
	rec := Record{Format: recordFormat, Run: o.cfg.Run, State: st, Updated: o.cfg.Clock.Now(), Holder: o.cfg.Holder}
	// The write outlives a cancellation of ctx: the state that is current
	// when the operator interrupts is still the one to resume from.
	saveCtx := context.WithoutCancel(ctx)
	deadline := time.Now().Add(o.cfg.SaveRetry)
	backoff := 100 * time.Millisecond
	for {
		attemptCtx, cancel := context.WithTimeout(saveCtx, o.cfg.RPCTimeout)
		err = o.cfg.Session.Save(attemptCtx, rec)
		cancel()
		if err == nil {
			o.saved = data
			return nil
		}
		if errors.Is(err, ErrLockLost) || time.Now().After(deadline) {
			return fmt.Errorf("rolling: cannot store the roll's state: %w", err)
		}
		o.progress.line("state write failed, retrying: %v", err)
		select {
		case <-o.cfg.Session.Lost():
			return ErrLockLost
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// applyRequests applies the operator requests that arrived.
func (o *Orchestrator) applyRequests(m *plan.Machine) {
	for {
		select {
		case r := <-o.cfg.Session.Requests():
			o.apply(m, r)
		default:
			return
		}
	}
}

func (o *Orchestrator) apply(m *plan.Machine, r Request) {
	now := o.cfg.Clock.Now()
	reason := r.Reason
	if reason == "" {
		reason = fmt.Sprintf("requested by pid %d on %s", r.From.PID, r.From.Host)
	}
	var err error
	switch r.Op {
	case RequestPause:
		err = m.Pause(now, reason)
	case RequestResume:
		err = m.Resume(now)
	case RequestAbort:
		err = m.Abort(now, reason)
	case RequestRollback:
		err = m.Rollback(now, reason)
	default:
		err = fmt.Errorf("unknown request %q", r.Op)
	}
	if err != nil {
		o.progress.line("operator %s ignored: %v", r.Op, err)
		return
	}
	o.progress.line("operator %s: %s", r.Op, reason)
}

// execute runs the commands, then the queries, and returns the
// observation for the next Next and whether any command ran.
func (o *Orchestrator) execute(ctx context.Context, m *plan.Machine, actions []plan.Action) (plan.Observation, bool) {
	var obs plan.Observation
	commanded := false
	for _, a := range actions {
		if a.IsQuery() {
			continue
		}
		commanded = true
		cctx, cancel := context.WithTimeout(ctx, o.commandTimeout(m, a))
		err := o.command(cctx, a)
		cancel()
		obs.Results = append(obs.Results, result(a, err))
	}
	// Queries run after every command: a gate trusts only what was seen
	// after its command.
	for _, a := range actions {
		if !a.IsQuery() {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, o.cfg.QueryTimeout)
		o.query(qctx, a, &obs)
		cancel()
	}
	return obs, commanded
}

// maxErrorText bounds a command's error as the machine keeps it: it is
// stored with every state write and quoted in progress lines and reasons.
const maxErrorText = 600

// result answers a command. The error becomes one line (a node control
// error may carry a log tail), cut to maxErrorText.
func result(a plan.Action, err error) plan.ActionResult {
	if err == nil {
		return a.Result(nil)
	}
	text := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", " | ")), " ")
	if len(text) > maxErrorText {
		text = text[:maxErrorText] + "..."
	}
	return a.Result(errors.New(text))
}

// commandTimeout is what is left of the step's timeout, capped at the RPC
// timeout for admin RPCs, and never under a second so a command issued at
// the last moment still gets a fair try.
func (o *Orchestrator) commandTimeout(m *plan.Machine, a plan.Action) time.Duration {
	left := o.cfg.RPCTimeout
	if n, step, ss, ok := m.Current(); ok && n == a.Step {
		left = step.Timeout - o.cfg.Clock.Now().Sub(ss.AttemptStarted)
	}
	switch a.Kind {
	case plan.ActStop, plan.ActStart, plan.ActInstall:
	default:
		left = min(left, o.cfg.RPCTimeout)
	}
	return max(left, time.Second)
}

// command runs one command.
func (o *Orchestrator) command(ctx context.Context, a plan.Action) error {
	c := o.cfg.Cluster
	t := Target{Role: a.Role, Node: a.Node}
	switch a.Kind {
	case plan.ActSetMetaLevel:
		return c.SetMetaLevel(ctx, a.Value, KnobLease{Owner: a.Owner, TTL: a.Lease})
	case plan.ActRemoteCommand:
		return c.SetKnob(ctx, a.Knob, a.Value, KnobLease{Owner: a.Owner, TTL: a.Lease})
	case plan.ActMigrateNode:
		return c.MigrateNode(ctx, a.Node)
	case plan.ActDowngradeNode:
		return c.DowngradeNode(ctx, a.Node)
	case plan.ActKillPartition:
		return c.KillPartitions(ctx, a.Node)
	case plan.ActStop:
		return o.cfg.Control.Stop(ctx, t)
	case plan.ActStart:
		return o.cfg.Control.Start(ctx, t)
	case plan.ActInstall:
		if a.Rollback {
			prev := o.cfg.Run.PreviousOf(a.Node)
			if prev.Empty() {
				return fmt.Errorf("%w: the previous binary of %s is not known (give --previous-binary)", ErrNoPrevious, a.Node)
			}
			return o.cfg.Control.Install(ctx, t, prev)
		}
		return o.cfg.Control.Install(ctx, t, o.cfg.Run.Artifacts)
	case plan.ActMovePrimaries:
		// Each handover on its own: one refused (the view it was computed
		// from went stale) does not hold back the others, and the step
		// re-issues what is left.
		var errs []error
		for _, mv := range a.Moves {
			if err := c.MovePrimary(ctx, mv); err != nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
	return fmt.Errorf("rolling: unknown command %q", a.Kind)
}

// query answers one query into obs. A failed query leaves its view out,
// which the machine reads as "no news"; a collector that does not answer
// is reported not alive.
func (o *Orchestrator) query(ctx context.Context, a plan.Action, obs *plan.Observation) {
	c := o.cfg.Cluster
	switch a.Kind {
	case plan.ActQueryCluster:
		if v, err := c.View(ctx); err == nil {
			obs.Cluster = v
		}
	case plan.ActQueryReplica:
		if st, err := c.ReplicaStatus(ctx, a.Node); err == nil {
			obs.Replicas = append(obs.Replicas, st)
		}
	case plan.ActQueryMetas:
		if ms, err := c.Metas(ctx); err == nil {
			obs.Metas = ms
		}
	case plan.ActQueryPartitions:
		if ps, err := c.Partitions(ctx); err == nil {
			obs.Partitions = ps
			if obs.Partitions == nil {
				obs.Partitions = []plan.PartitionView{} // asked and answered: no partition
			}
		}
	case plan.ActQueryCollector:
		obs.Collector = &plan.CollectorStatus{}
		if o.cfg.Collector != nil {
			if st, err := o.cfg.Collector.Status(ctx); err == nil {
				obs.Collector = &st
			}
		}
	}
}

// renewKnobs sets the roll's knob overrides again, with a fresh lease,
// every third of the lease: while this orchestrator runs they never lapse,
// and once it is gone they lapse by themselves. The first call (a new or a
// resumed roll) renews at once, so a roll resumed after its overrides
// lapsed has them back before its next step.
func (o *Orchestrator) renewKnobs(ctx context.Context, m *plan.Machine) {
	st := m.State()
	lease := st.Plan.Options.KnobLease
	now := o.cfg.Clock.Now()
	if lease <= 0 || (!o.renewed.IsZero() && now.Sub(o.renewed) < lease/3) {
		return
	}
	o.renewed = now
	l := KnobLease{Owner: st.Plan.Options.Owner(), TTL: lease}
	for _, k := range st.Touched {
		if k.Value == "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, o.cfg.RPCTimeout)
		var err error
		if k.Knob == plan.KnobMetaLevel {
			err = o.cfg.Cluster.SetMetaLevel(rctx, k.Value, l)
		} else {
			err = o.cfg.Cluster.SetKnob(rctx, k.Knob, k.Value, l)
		}
		cancel()
		if err != nil {
			o.progress.line("renewing %s = %s failed (retried in %v): %v", k.Knob, k.Value, lease/3, err)
		}
	}
}

// publish hands the latest progress to the collector poster.
func (o *Orchestrator) publish(m *plan.Machine, now time.Time) {
	if o.posts == nil {
		return
	}
	p := ProgressOf(o.cfg.ClusterName, m, now)
	h := o.cfg.Holder
	p.Holder = &h
	select {
	case <-o.posts: // drop the older one
	default:
	}
	o.posts <- p
}

// postLoop posts progress to the collector, best effort, never holding up
// the roll. Each post has its own short deadline, so the roll's end
// (stop closing) never cuts the last one off.
func (o *Orchestrator) postLoop(stop <-chan struct{}) {
	post := func(p Progress) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = o.cfg.Collector.PostProgress(ctx, p)
	}
	for {
		select {
		case p := <-o.posts:
			post(p)
		case <-stop:
			// One last post, so the collector sees how the roll ended.
			select {
			case p := <-o.posts:
				post(p)
			default:
			}
			return
		}
	}
}
