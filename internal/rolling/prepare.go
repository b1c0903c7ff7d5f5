package rolling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// NewRoll is what an operator's `pegasus rolling-update` command line asks
// for, flags parsed.
type NewRoll struct {
	Options     plan.Options
	Run         RunSpec // Metas, EtcdEndpoints, Collector, Control, Exec, Artifacts
	DryRun      bool
	Tools       Tools
	ReadTimeout time.Duration // bound on reading the cluster (default 30 s)
}

// Tools build what a roll acts through. The zero value uses the real ones;
// tests substitute fakes.
type Tools struct {
	NewControl    func(spec string, t ExecTemplates, a Artifacts) (NodeControl, func() error, error)
	NewCollector  func(url string) (Collector, error)
	BinaryVersion func(ctx context.Context, binary string) (string, error)
}

func (t Tools) withDefaults() Tools {
	if t.NewControl == nil {
		t.NewControl = NewControl
	}
	if t.NewCollector == nil {
		t.NewCollector = func(url string) (Collector, error) { return NewHTTPCollector(url) }
	}
	if t.BinaryVersion == nil {
		t.BinaryVersion = BinaryVersion
	}
	return t
}

// Prepared is a planned roll, ready to start: the plan to print and
// confirm, and what the roll acts through.
type Prepared struct {
	Plan      plan.Plan
	Run       RunSpec
	Control   NodeControl
	Collector Collector
	// Notes are said before the plan (an unfinished roll seen by a dry
	// run).
	Notes    []string
	closeCtl func() error
}

// Close releases the node control.
func (p *Prepared) Close() {
	if p.closeCtl != nil {
		_ = p.closeCtl()
	}
}

// Prepare checks that a new roll may start and plans it, touching
// nothing: it refuses while another orchestrator runs or a stored roll is
// unfinished (a dry run only notes the latter), makes the paths the roll
// stores absolute (resume may run elsewhere), reads the new binary's
// protocol version, builds node control and the collector, reads the
// cluster and builds the plan. A refusal wraps ErrRefused or the plan's
// sentinel.
func Prepare(ctx context.Context, cluster Cluster, store Store, info ClusterInfo, r NewRoll) (*Prepared, error) {
	tools := r.Tools.withDefaults()
	run := r.Run
	if run.Control == "" && !r.DryRun {
		return nil, fmt.Errorf("%w: --control is required (onebox:<dir> or exec)", ErrRefused)
	}
	p := &Prepared{Run: run}
	if h, held, err := store.Holder(ctx); err != nil {
		return nil, err
	} else if held && !r.DryRun {
		return nil, fmt.Errorf("%w; `pegasus rolling-update status` follows it, and if it died, `pegasus rolling-update resume` takes over once its lock expires",
			&LockedError{Holder: h})
	}
	switch rec, err := store.Load(ctx); {
	case err == nil && !rec.State.Status.Terminal():
		if !r.DryRun {
			return nil, fmt.Errorf("%w: %s since %s; run `pegasus rolling-update resume` or `abort`",
				ErrUnfinishedRoll, rec.State.Status, rec.State.Started.Format(time.RFC3339))
		}
		p.Notes = append(p.Notes, fmt.Sprintf("an unfinished roll is stored (%s); a real run would refuse", rec.State.Status))
	case err != nil && !errors.Is(err, ErrNoRoll) && !errors.Is(err, ErrInvalidRecord):
		return nil, err
	}

	if dir, ok := strings.CutPrefix(run.Control, "onebox:"); ok && dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			run.Control = "onebox:" + abs
		}
	}
	for _, path := range []*string{&run.Artifacts.Binary, &run.Artifacts.ConfigDir} {
		if *path != "" {
			if abs, err := filepath.Abs(*path); err == nil {
				*path = abs
			}
		}
	}
	newVersion, err := newProtocol(ctx, tools, info, run.Artifacts)
	if err != nil {
		return nil, err
	}
	if run.Control != "" {
		p.Control, p.closeCtl, err = tools.NewControl(run.Control, run.Exec, run.Artifacts)
		if err != nil {
			return nil, err
		}
	}
	if run.Collector != "" {
		if p.Collector, err = tools.NewCollector(run.Collector); err != nil {
			p.Close()
			return nil, err
		}
	}
	bound := r.ReadTimeout
	if bound <= 0 {
		bound = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(ctx, bound)
	snap, _, err := TakeSnapshot(sctx, cluster, p.Collector, p.Control, newVersion)
	cancel()
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("rolling-update: reading the cluster: %w", err)
	}
	opts := r.Options
	opts.Upgrade = opts.Upgrade || !run.Artifacts.Empty()
	if opts.RollID == "" {
		opts.RollID = NewRollID(time.Now())
	}
	p.Plan, err = plan.Build(snap, opts)
	if err != nil {
		p.Close()
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	p.Run = run
	return p, nil
}

// newProtocol is the protocol version the roll installs: what the new
// binary prints, or for a configuration-only upgrade what the leader
// speaks (the binary stays). Empty for a restart.
func newProtocol(ctx context.Context, tools Tools, info ClusterInfo, a Artifacts) (string, error) {
	switch {
	case a.Binary != "":
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return tools.BinaryVersion(vctx, a.Binary)
	case a.ConfigDir != "":
		for _, m := range info.Metas {
			if m.Leader {
				return m.Protocol, nil
			}
		}
	}
	return "", nil
}

// Start takes the lock and drives the prepared roll to its end (Begin).
func (p *Prepared) Start(ctx context.Context, c Cluster, store Store, clusterName string, o Output) (plan.Report, error) {
	e := Env{Cluster: c, Control: p.Control, Collector: p.Collector, Store: store, ClusterName: clusterName,
		Holder: ThisProcess(time.Now()), Out: o.Out, Live: o.Live, PollInterval: o.Poll}
	return Begin(ctx, e, p.Run, p.Plan)
}

// Output is where a roll command reports.
type Output struct {
	Out  io.Writer
	Live bool          // rewrite the wait line in place (a terminal)
	Poll time.Duration // the orchestrator's poll
}

// Overrides are flags given to resume or abort that replace what the
// stored roll says (a control spec or template that changed, another
// collector URL). Nil fields keep the stored value.
type Overrides struct {
	Control   *string
	Stop      *string
	Start     *string
	Status    *string
	Install   *string
	Collector *string
}

// ToolsFor rebuilds node control and the collector of a stored roll, from
// the record unless o overrides.
func ToolsFor(rec Record, o Overrides, tools Tools) (NodeControl, func() error, Collector, error) {
	tools = tools.withDefaults()
	spec, tmpl := rec.Run.Control, rec.Run.Exec
	for dst, src := range map[*string]*string{&spec: o.Control, &tmpl.Stop: o.Stop, &tmpl.Start: o.Start,
		&tmpl.Status: o.Status, &tmpl.Install: o.Install} {
		if src != nil {
			*dst = *src
		}
	}
	ctl, closeCtl, err := tools.NewControl(spec, tmpl, rec.Run.Artifacts)
	if err != nil {
		return nil, nil, nil, err
	}
	url := rec.Run.Collector
	if o.Collector != nil {
		url = *o.Collector
	}
	var col Collector
	if url != "" {
		if col, err = tools.NewCollector(url); err != nil {
			_ = closeCtl()
			return nil, nil, nil, err
		}
	}
	return ctl, closeCtl, col, nil
}

// WriteReportJSON writes the report as the --json-report file.
func WriteReportJSON(path string, r plan.Report) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(data, '\n'), 0o644)
}
