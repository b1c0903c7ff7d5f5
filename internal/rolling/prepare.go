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

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/version"
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
	NewControl   func(spec string, t ExecTemplates, a Artifacts) (NodeControl, func() error, error)
	NewCollector func(url string) (Collector, error)
	// BinaryInfo is `<binary> version`: protocol and on-disk formats.
	BinaryInfo func(ctx context.Context, binary string) (string, []version.Format, error)
	// Credentials are what the default collector client presents (an
	// admin credential: the roll posts its progress).
	Credentials dial.Credentials
}

func (t Tools) withDefaults() Tools {
	if t.NewControl == nil {
		t.NewControl = NewControl
	}
	if t.NewCollector == nil {
		t.NewCollector = func(url string) (Collector, error) { return NewHTTPCollector(url, t.Credentials) }
	}
	if t.BinaryInfo == nil {
		t.BinaryInfo = BinaryInfo
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
	newVersion, newFormats, err := newProtocol(ctx, tools, info, run.Artifacts)
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
	if !run.Artifacts.Empty() {
		run.PreviousByNode, snap.RollbackBlocked = previousArtifacts(ctx, tools, p.Control, snap, run, newFormats)
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

// newProtocol is the protocol version the roll installs and the on-disk
// formats it writes: what the new binary prints, or for a
// configuration-only upgrade what the leader speaks (the binary, and so
// the formats, stay). Empty for a restart.
func newProtocol(ctx context.Context, tools Tools, info ClusterInfo, a Artifacts) (string, []version.Format, error) {
	switch {
	case a.Binary != "":
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return tools.BinaryInfo(vctx, a.Binary)
	case a.ConfigDir != "":
		for _, m := range info.Metas {
			if m.Leader {
				return m.Protocol, nil, nil
			}
		}
	}
	return "", nil, nil
}

// formatsBefore are the formats of a binary too old to print them: the
// first version of each.
var formatsBefore = []version.Format{
	{Name: version.FormatLog, Writes: 1, ReadsFrom: 1},
	{Name: version.FormatStore, Writes: 1, ReadsFrom: 1},
	{Name: version.FormatMeta, Writes: 1, ReadsFrom: 1},
}

// previousArtifacts records what a rollback would install back on every
// node, as node control reports it (a onebox knows each node's binary) or
// as the operator named it (--previous-binary, --previous-config-dir), and
// says why a rollback could not work: the previous binary or configuration
// is not known, or the previous binary cannot read an on-disk format the
// new one writes. Nothing is touched; the plan refuses --auto-rollback and
// says so.
func previousArtifacts(ctx context.Context, tools Tools, ctl NodeControl, s plan.Snapshot, run RunSpec,
	newFormats []version.Format) (map[string]Artifacts, string) {
	byNode := make(map[string]Artifacts)
	if ar, ok := ctl.(ArtifactsReporter); ok {
		targets := []Target{}
		for _, m := range s.Metas {
			targets = append(targets, Target{Role: plan.RoleMeta, Node: m.Node})
		}
		for _, r := range s.Replicas {
			targets = append(targets, Target{Role: plan.RoleReplica, Node: r.Node})
		}
		if s.Collector != nil {
			targets = append(targets, Target{Role: plan.RoleCollector, Node: s.Collector.Node})
		}
		for _, t := range targets {
			if a, err := ar.Current(ctx, t); err == nil && !a.Empty() {
				byNode[t.Node] = a
			}
		}
	}
	run.PreviousByNode = byNode
	binaries := map[string]bool{}
	if run.Artifacts.Binary != "" {
		for _, node := range append(append(s.MetaNodes(), s.ReplicaNodes()...), s.CollectorNode()...) {
			prev := run.PreviousOf(node).Binary
			if prev == "" {
				return byNode, "the previous binary of " + node + " is not known (give --previous-binary)"
			}
			binaries[prev] = true
		}
	}
	if run.Artifacts.ConfigDir != "" && run.Previous.ConfigDir == "" {
		return byNode, "the previous configuration is not known (give --previous-config-dir)"
	}
	if newFormats == nil {
		newFormats = formatsBefore
	}
	for b := range binaries {
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		_, formats, err := tools.BinaryInfo(vctx, b)
		cancel()
		if err != nil {
			return byNode, fmt.Sprintf("the previous binary %s does not run: %v", b, err)
		}
		if formats == nil {
			formats = formatsBefore
		}
		if why := version.RollbackBlocked(newFormats, formats); why != "" {
			return byNode, why
		}
	}
	return byNode, ""
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

// RollbackSnapshot reads the cluster for the rollback of the stored roll
// rec, and says whether the previous binary can still take over what the
// new one has written: the plan refuses before anything is touched if not.
func RollbackSnapshot(ctx context.Context, c Cluster, col Collector, ctl NodeControl, rec Record, tools Tools) (plan.Snapshot, error) {
	tools = tools.withDefaults()
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	s, _, err := TakeSnapshot(sctx, c, col, ctl, "")
	if err != nil {
		return plan.Snapshot{}, err
	}
	var newFormats []version.Format
	if b := rec.Run.Artifacts.Binary; b != "" {
		if _, newFormats, err = tools.BinaryInfo(sctx, b); err != nil {
			return plan.Snapshot{}, err
		}
	}
	run := rec.Run
	_, s.RollbackBlocked = previousArtifacts(sctx, tools, nil, s, run, newFormats)
	return s, nil
}
