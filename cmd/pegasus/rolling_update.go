package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rolling"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/security"
)

// rollingFlags are the flags of `pegasus rolling-update` and its
// subcommands.
type rollingFlags struct {
	// creds name the admin credentials (security.go).
	creds       security.ClientFiles
	metas       []string
	etcd        []string
	clusterName string
	collector   string
	control     string
	oneboxDir   string
	exec        rolling.ExecTemplates
	jsonReport  string
	yes         bool
	lockTTL     time.Duration
	poll        time.Duration
	takeover    time.Duration

	// New roll only.
	mode           string
	nodes          []string
	binary         string
	configDir      string
	dryRun         bool
	timeouts       []string
	minAvail       float64
	window         time.Duration
	resend         time.Duration
	addSecondaries int
	knobLease      time.Duration
	singleMeta     bool
	noSLO          bool
	parallel       int
	maxP99Ratio    float64
	maxErrorRate   float64
	sloSustain     time.Duration
	baseline       time.Duration
	canaryBake     time.Duration
	autoRollback   bool
	prevBinary     string
	prevConfigDir  string

	reason string
	asJSON bool
}

func init() {
	f := &rollingFlags{}
	cmd := &cobra.Command{
		Use:   "rolling-update",
		Short: "Restart or upgrade a live cluster node by node, safely",
		Long: `Restarts (or, with --binary/--config-dir, upgrades) every server of a live cluster,
one at a time, the way the Pegasus rolling-restart guide does it by hand:

  ha mode     per replica server: stop re-replication, migrate_node (primaries
              move to caught-up secondaries), downgrade_node, kill_partition
              (close and flush), stop, [install], start, wait ALIVE, re-enable
              re-replication, wait until every partition is fully healthy
  simple mode per replica server: stop, [install], start, wait fully healthy

then the meta servers, followers first, each waited for until it is up and the
leader hears every replica server, then the collector. Every wait is a gate on the cluster's state
with a timeout; a step that times out fails the roll, which then starts any
server it stopped and restores every knob it changed.

The plan is printed first and needs confirmation (--yes without a terminal).
Progress is kept in etcd under /<cluster>/rolling/, so 'pause', 'resume',
'abort' and 'status' work from another terminal, and 'resume' continues a roll
whose orchestrator died. See docs/rolling-update.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runNewRoll(cmd, f) },
	}
	pf := cmd.PersistentFlags()
	pf.StringSliceVar(&f.metas, "meta", nil, "meta server addresses (default: <dir>/meta_servers of --onebox <dir> or --control onebox:<dir>)")
	pf.StringSliceVar(&f.etcd, "etcd-endpoints", nil, "etcd endpoints holding the roll (default: those the meta server reports)")
	pf.StringVar(&f.clusterName, "cluster-name", "", "cluster name, the etcd key prefix (default: the one the meta server reports)")
	pf.StringVar(&f.collector, "collector", "", "collector base URL: availability gate, client error counts, progress page")
	pf.StringVar(&f.control, "control", "", "node control: onebox:<dir> or exec (with the --*-cmd templates)")
	pf.StringVar(&f.oneboxDir, "onebox", "", "the onebox in this directory: its meta servers, credentials and node control (--control onebox:DIR)")
	pf.StringVar(&f.exec.Stop, "stop-cmd", "", "exec control: stop command, e.g. 'ssh {host} systemctl stop pegasus-{role}@{port}'")
	pf.StringVar(&f.exec.Start, "start-cmd", "", "exec control: start command")
	pf.StringVar(&f.exec.Status, "status-cmd", "", "exec control: status command, exit 0 running, 1-3 stopped (systemctl is-active)")
	pf.StringVar(&f.exec.Install, "install-cmd", "", "exec control: install command; has {binary} and {config_dir}")
	pf.StringVar(&f.jsonReport, "json-report", "", "write the per-node report as JSON to this file")
	pf.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	pf.DurationVar(&f.lockTTL, "lock-ttl", rolling.DefaultLockTTL, "lease of the rolling lock: how long a dead orchestrator blocks the next")
	pf.DurationVar(&f.poll, "poll-interval", time.Second, "how often waits observe the cluster")
	clientFlags(pf, &f.creds)
	pf.DurationVar(&f.takeover, "takeover", 0, "resume/abort: how long to wait for a dead orchestrator's lock (default lock-ttl + 5s)")
	_ = pf.MarkHidden("lock-ttl")
	_ = pf.MarkHidden("poll-interval")

	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", string(plan.ModeHA), "ha (drain each node first) or simple (stop and start)")
	fl.StringSliceVar(&f.nodes, "nodes", nil, "restart only these servers (addresses); default all")
	fl.StringVar(&f.binary, "binary", "", "upgrade: the new pegasus binary (its protocol version is checked first)")
	fl.StringVar(&f.configDir, "config-dir", "", "upgrade: the new configuration directory (exec control)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan and exit")
	fl.StringArrayVar(&f.timeouts, "timeout", nil, "override a step timeout, e.g. --timeout wait-healthy=5m (repeatable)")
	fl.Float64Var(&f.minAvail, "min-availability", 0, "pause while the collector's availability is below this (0-1; needs --collector)")
	fl.DurationVar(&f.window, "maintenance-window", 0, "meta.lb.assign_delay_ms during the roll (default 1h)")
	fl.DurationVar(&f.resend, "resend-interval", 0, "re-issue a step's command this often until it takes effect (default 10s)")
	fl.IntVar(&f.addSecondaries, "add-secondary-max", 0, "meta.lb.add_secondary_max_count_for_one_node once a node is back (default 100)")
	fl.BoolVar(&f.singleMeta, "allow-single-meta", false, "restart a cluster's only meta server (requests fail while it is down)")
	fl.IntVar(&f.parallel, "parallel", 1, "restart up to this many replica servers at once, within one zone and sharing no partition")
	fl.BoolVar(&f.noSLO, "no-slo", false, "no SLO gate and no canary bake, even with a collector")
	fl.Float64Var(&f.maxP99Ratio, "max-p99-ratio", 0, "SLO gate: halt when a table's p99 exceeds this times its baseline (default 2)")
	fl.Float64Var(&f.maxErrorRate, "max-error-rate", 0, "SLO gate: halt when a table's error rate exceeds its baseline by this (0-1, default 0.001)")
	fl.DurationVar(&f.sloSustain, "slo-sustain", 0, "SLO gate: how long a breach must last before the roll halts (default 10s)")
	fl.DurationVar(&f.baseline, "baseline-window", 0, "SLO gate: how long the baseline is measured before anything is touched (default 30s)")
	fl.DurationVar(&f.canaryBake, "canary-bake", 0, "watch the SLO this long after the first replica server before going on (default 1m; negative for none)")
	fl.BoolVar(&f.autoRollback, "auto-rollback", false, "on an SLO halt, take the nodes already upgraded back to the previous binary")
	fl.StringVar(&f.prevBinary, "previous-binary", "", "exec control: the binary a rollback installs back (onebox control knows it)")
	fl.StringVar(&f.prevConfigDir, "previous-config-dir", "", "exec control: the configuration directory a rollback installs back")
	fl.DurationVar(&f.knobLease, "knob-lease", 0, "how long the roll's knob overrides outlive a dead orchestrator (default 2m; renewed while it runs)")

	status := &cobra.Command{
		Use:   "status",
		Short: "Show the stored roll: status, current step, per-node report, orchestrator",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runRollStatus(cmd, f) },
	}
	status.Flags().BoolVar(&f.asJSON, "json", false, "print the progress as JSON")
	pause := &cobra.Command{
		Use:   "pause",
		Short: "Ask the running orchestrator to hold at the next safe step",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runRollRequest(cmd, f, rolling.RequestPause) },
	}
	pause.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the roll")
	resume := &cobra.Command{
		Use:   "resume",
		Short: "Lift a pause, or continue a roll whose orchestrator died, from where it stopped",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runRollResume(cmd, f) },
	}
	abort := &cobra.Command{
		Use:   "abort",
		Short: "Stop the roll: start any server it stopped and restore every knob it changed",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return runRollAbort(cmd, f) },
	}
	abort.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the roll")
	rollback := &cobra.Command{
		Use:   "rollback",
		Short: "Take the nodes the stored roll upgraded back to the previous binary, newest first",
		Long: `Takes every node the stored roll upgraded back to the previous binary and
configuration, newest first, each with the same procedure that upgraded it.
A running orchestrator does it at its next node boundary; a roll whose
orchestrator died is taken over; a roll that has ended is rolled back by a
new roll. Refused, before anything is touched, when the previous binary
cannot read an on-disk format the new one writes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRollback(cmd, f) },
	}
	rollback.Flags().StringVar(&f.reason, "reason", "", "why, recorded in the roll")
	cmd.AddCommand(status, pause, resume, abort, rollback)
	root.AddCommand(cmd)
}

// where says how a roll command reaches the cluster and its roll, with
// the roll's admin credentials: flags, environment, or those of the onebox
// of --control onebox:<dir>.
func (f *rollingFlags) where() (rolling.Where, error) {
	if f.oneboxDir != "" {
		switch {
		case f.control == "":
			f.control = "onebox:" + f.oneboxDir
		case f.control != "onebox:"+f.oneboxDir:
			return rolling.Where{}, fmt.Errorf("%w: --onebox %s and --control %s name different clusters", errUsage, f.oneboxDir, f.control)
		}
		if _, err := onebox.ReadMetaServers(f.oneboxDir); err != nil && len(f.metas) == 0 {
			return rolling.Where{}, err
		}
	}
	dir, _ := strings.CutPrefix(f.control, "onebox:")
	if dir == f.control {
		dir = ""
	}
	creds, err := clientCredentials(f.creds, dir)
	if err != nil {
		return rolling.Where{}, err
	}
	return rolling.Where{Metas: f.metas, EtcdEndpoints: f.etcd, ClusterName: f.clusterName,
		Control: f.control, LockTTL: f.lockTTL, Credentials: creds}, nil
}

func (f *rollingFlags) output(cmd *cobra.Command) rolling.Output {
	out := cmd.OutOrStdout()
	return rolling.Output{Out: out, Live: isTerminal(out), Poll: f.poll}
}

// env assembles what resume and abort need.
func (f *rollingFlags) env(cmd *cobra.Command, c *rolling.Conn, ctl rolling.NodeControl, col rolling.Collector) rolling.Env {
	o := f.output(cmd)
	return rolling.Env{Cluster: c.Remote, Control: ctl, Collector: col, Store: c.Store,
		ClusterName: c.Name, Holder: rolling.ThisProcess(time.Now()), Out: o.Out,
		Live: o.Live, PollInterval: o.Poll}
}

func (f *rollingFlags) takeoverWait() time.Duration {
	if f.takeover > 0 {
		return f.takeover
	}
	return f.lockTTL + 5*time.Second
}

func (f *rollingFlags) planOptions() (plan.Options, error) {
	o := plan.Options{Mode: plan.Mode(f.mode), Nodes: f.nodes,
		MinAvailability: f.minAvail, MaintenanceWindow: f.window, ResendInterval: f.resend,
		AddSecondaryMaxCount: f.addSecondaries, KnobLease: f.knobLease, AllowSingleMeta: f.singleMeta,
		SLO: plan.SLO{Off: f.noSLO, MaxP99Ratio: f.maxP99Ratio, MaxErrorRate: f.maxErrorRate,
			Sustain: f.sloSustain, BaselineWindow: f.baseline},
		CanaryBake: f.canaryBake, AutoRollback: f.autoRollback, Parallel: f.parallel}
	defaults := plan.DefaultTimeouts()
	for _, t := range f.timeouts {
		kind, value, ok := strings.Cut(t, "=")
		d, err := time.ParseDuration(value)
		base, known := defaults[plan.StepKind(kind)]
		if !ok || err != nil || !known {
			var kinds []string
			for k := range defaults {
				kinds = append(kinds, string(k))
			}
			slices.Sort(kinds)
			return o, fmt.Errorf("rolling-update: --timeout %q: want <step>=<duration>, step one of %s", t, strings.Join(kinds, ", "))
		}
		if o.Timeouts == nil {
			o.Timeouts = make(map[plan.StepKind]plan.Timeout)
		}
		base.Base = d
		o.Timeouts[plan.StepKind(kind)] = base
	}
	if f.minAvail > 0 && f.collector == "" {
		return o, errors.New("rolling-update: --min-availability needs --collector")
	}
	return o, nil
}

func runNewRoll(cmd *cobra.Command, f *rollingFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	opts, err := f.planOptions()
	if err != nil {
		return err
	}
	w, err := f.where()
	if err != nil {
		return err
	}
	c, err := rolling.Connect(ctx, w, true)
	if err != nil {
		return err
	}
	defer c.Close()
	metas, _ := w.MetaList(nil)
	p, err := rolling.Prepare(ctx, c.Remote, c.Store, c.Info, rolling.NewRoll{Options: opts, DryRun: f.dryRun,
		Tools: rolling.Tools{Credentials: w.Credentials},
		Run: rolling.RunSpec{Metas: metas, EtcdEndpoints: f.etcd, Collector: f.collector, Control: f.control,
			Exec: f.exec, Artifacts: rolling.Artifacts{Binary: f.binary, ConfigDir: f.configDir},
			Previous: rolling.Artifacts{Binary: f.prevBinary, ConfigDir: f.prevConfigDir}}})
	if err != nil {
		return err
	}
	defer p.Close()
	for _, n := range p.Notes {
		fmt.Fprintf(out, "note: %s\n\n", n)
	}
	p.Plan.Print(out)
	fmt.Fprintln(out)
	if f.dryRun {
		return nil
	}
	if !f.yes {
		if err := confirm(cmd); err != nil {
			return err
		}
	}
	report, err := p.Start(ctx, c.Remote, c.Store, c.Name, f.output(cmd))
	return f.finish(cmd, report, err)
}

// confirm asks on a terminal; without one it refuses.
func confirm(cmd *cobra.Command) error {
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return fmt.Errorf("%w: not a terminal; review the plan above and run again with --yes", rolling.ErrNotConfirmed)
	}
	fmt.Fprint(cmd.OutOrStdout(), "Start this roll? [y/N] ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return rolling.ErrNotConfirmed
}

// isTerminal reports whether v is a terminal.
func isTerminal(v any) bool {
	f, ok := v.(*os.File)
	return ok && rolling.IsTerminal(f)
}

// finish prints the report, writes the JSON report and returns err.
func (f *rollingFlags) finish(cmd *cobra.Command, report plan.Report, err error) error {
	out := cmd.OutOrStdout()
	if report.Status != "" {
		fmt.Fprintln(out)
		report.WriteText(out)
		if f.jsonReport != "" {
			if jerr := rolling.WriteReportJSON(f.jsonReport, report); jerr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "rolling-update: writing %s: %v\n", f.jsonReport, jerr)
			}
		}
	}
	return err
}

// overrides are the resume/abort flags that replace the stored roll's.
func (f *rollingFlags) overrides(cmd *cobra.Command) rolling.Overrides {
	var o rolling.Overrides
	for name, dst := range map[string]**string{"control": &o.Control, "stop-cmd": &o.Stop, "start-cmd": &o.Start,
		"status-cmd": &o.Status, "install-cmd": &o.Install, "collector": &o.Collector} {
		if cmd.Flags().Changed(name) {
			v, _ := cmd.Flags().GetString(name)
			*dst = &v
		}
	}
	return o
}

// stored connects to a stored, unfinished roll and rebuilds its tools.
func (f *rollingFlags) stored(cmd *cobra.Command) (*rolling.Conn, rolling.NodeControl, rolling.Collector, func(), error) {
	w, err := f.where()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c, rec, err := rolling.ConnectStored(cmd.Context(), w)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	if rec.State.Status.Terminal() {
		c.Close()
		return nil, nil, nil, nil, fmt.Errorf("%w: %s", rolling.ErrRollEnded, rec.State.Status)
	}
	ctl, closeCtl, col, err := rolling.ToolsFor(rec, f.overrides(cmd), rolling.Tools{Credentials: w.Credentials})
	if err != nil {
		c.Close()
		return nil, nil, nil, nil, err
	}
	return c, ctl, col, func() { closeCtl(); c.Close() }, nil
}

func runRollResume(cmd *cobra.Command, f *rollingFlags) error {
	c, ctl, col, done, err := f.stored(cmd)
	if err != nil {
		return err
	}
	defer done()
	fmt.Fprintf(cmd.OutOrStdout(), "resuming the roll of %s\n", c.Name)
	report, remote, err := rolling.Resume(cmd.Context(), f.env(cmd, c, ctl, col), f.takeoverWait())
	if remote {
		fmt.Fprintln(cmd.OutOrStdout(), "the running orchestrator resumed the roll")
		return nil
	}
	return f.finish(cmd, report, err)
}

func runRollAbort(cmd *cobra.Command, f *rollingFlags) error {
	c, ctl, col, done, err := f.stored(cmd)
	if err != nil {
		return err
	}
	defer done()
	reason := f.reason
	if reason == "" {
		reason = "operator abort"
	}
	report, remote, err := rolling.Abort(cmd.Context(), f.env(cmd, c, ctl, col), reason, f.takeoverWait())
	if remote {
		fmt.Fprintln(cmd.OutOrStdout(), "the running orchestrator is aborting the roll and cleaning up; follow it with `pegasus rolling-update status`")
		return nil
	}
	if errors.Is(err, rolling.ErrRollAborted) {
		err = nil // what was asked for
	}
	return f.finish(cmd, report, err)
}

func runRollback(cmd *cobra.Command, f *rollingFlags) error {
	ctx := cmd.Context()
	w, err := f.where()
	if err != nil {
		return err
	}
	c, rec, err := rolling.ConnectStored(ctx, w)
	if err != nil {
		return err
	}
	defer c.Close()
	ctl, closeCtl, col, err := rolling.ToolsFor(rec, f.overrides(cmd), rolling.Tools{Credentials: w.Credentials})
	if err != nil {
		return err
	}
	defer closeCtl()
	reason := f.reason
	if reason == "" {
		reason = "operator rollback"
	}
	snap := func(ctx context.Context) (plan.Snapshot, error) {
		return rolling.RollbackSnapshot(ctx, c.Remote, col, ctl, rec, rolling.Tools{Credentials: w.Credentials})
	}
	report, remote, err := rolling.Rollback(ctx, f.env(cmd, c, ctl, col), reason, f.takeoverWait(), snap)
	if remote {
		fmt.Fprintln(cmd.OutOrStdout(), "the running orchestrator rolls back at its next node boundary; follow it with `pegasus rolling-update status`")
		return nil
	}
	if errors.Is(err, rolling.ErrRolledBack) {
		err = nil // what was asked for
	}
	return f.finish(cmd, report, err)
}

func runRollRequest(cmd *cobra.Command, f *rollingFlags, op rolling.RequestOp) error {
	w, err := f.where()
	if err != nil {
		return err
	}
	c, err := rolling.Connect(cmd.Context(), w, false)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := rolling.SendRequest(cmd.Context(), c.Store, op, f.reason); err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s acknowledged by the running orchestrator\n", op)
	return nil
}

func runRollStatus(cmd *cobra.Command, f *rollingFlags) error {
	w, err := f.where()
	if err != nil {
		return err
	}
	c, err := rolling.Connect(cmd.Context(), w, false)
	if err != nil {
		return err
	}
	defer c.Close()
	st, err := rolling.ReadStatus(cmd.Context(), c.Store, c.Name, time.Now())
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st.Progress)
	}
	st.WriteText(out)
	return nil
}
