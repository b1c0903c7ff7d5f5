package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/dial"
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
	pf.StringSliceVar(&f.metas, "meta", nil, "meta server addresses (default: <dir>/meta_servers of --control onebox:<dir>)")
	pf.StringSliceVar(&f.etcd, "etcd-endpoints", nil, "etcd endpoints holding the roll (default: those the meta server reports)")
	pf.StringVar(&f.clusterName, "cluster-name", "", "cluster name, the etcd key prefix (default: the one the meta server reports)")
	pf.StringVar(&f.collector, "collector", "", "collector base URL: availability gate, client error counts, progress page")
	pf.StringVar(&f.control, "control", "", "node control: onebox:<dir> or exec (with the --*-cmd templates)")
	pf.StringVar(&f.exec.Stop, "stop-cmd", "", "exec control: stop command, e.g. 'ssh {host} systemctl stop pegasus-{role}@{port}'")
	pf.StringVar(&f.exec.Start, "start-cmd", "", "exec control: start command")
	pf.StringVar(&f.exec.Status, "status-cmd", "", "exec control: status command, exit 0 running, 1-3 stopped (systemctl is-active)")
	pf.StringVar(&f.exec.Install, "install-cmd", "", "exec control: install command; has {binary} and {config_dir}")
	pf.StringVar(&f.jsonReport, "json-report", "", "write the per-node report as JSON to this file")
	pf.BoolVar(&f.yes, "yes", false, "do not ask for confirmation")
	pf.DurationVar(&f.lockTTL, "lock-ttl", rolling.DefaultLockTTL, "lease of the rolling lock: how long a dead orchestrator blocks the next")
	pf.DurationVar(&f.poll, "poll-interval", time.Second, "how often waits observe the cluster")
	pf.DurationVar(&f.takeover, "takeover", 0, "resume/abort: how long to wait for a dead orchestrator's lock (default lock-ttl + 5s)")
	clientFlags(pf, &f.creds)
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
	cmd.AddCommand(status, pause, resume, abort)
	root.AddCommand(cmd)
}

// rollConn is the cluster and the store a roll command talks to.
type rollConn struct {
	cluster *rolling.RemoteCluster
	info    rolling.ClusterInfo
	store   *rolling.EtcdStore
	name    string
	etcd    *clientv3.Client
	creds   dial.Credentials
}

func (c *rollConn) Close() {
	if c.cluster != nil {
		c.cluster.Close()
	}
	if c.etcd != nil {
		c.etcd.Close()
	}
}

// metaList returns the meta servers: --meta, else the onebox's list.
func (f *rollingFlags) metaList(fallback []string) ([]string, error) {
	if len(f.metas) > 0 {
		return f.metas, nil
	}
	if dir, ok := strings.CutPrefix(f.control, "onebox:"); ok {
		data, err := os.ReadFile(filepath.Join(dir, "meta_servers"))
		if err == nil {
			var out []string
			for _, m := range strings.Split(strings.TrimSpace(string(data)), ",") {
				if m = strings.TrimSpace(m); m != "" {
					out = append(out, m)
				}
			}
			return out, nil
		}
	}
	if len(fallback) > 0 {
		return fallback, nil
	}
	return nil, errors.New("rolling-update: --meta is required (or --control onebox:<dir>)")
}

// credentials are the roll's admin credentials: flags, environment, or
// those of the onebox of --control onebox:<dir>.
func (f *rollingFlags) credentials() (dial.Credentials, error) {
	dir, _ := strings.CutPrefix(f.control, "onebox:")
	if dir == f.control {
		dir = ""
	}
	return clientCredentials(f.creds, dir)
}

// connect reaches the cluster and the etcd holding its roll. The meta
// server supplies the cluster name and etcd endpoints unless given.
func (f *rollingFlags) connect(ctx context.Context, requireMeta bool) (*rollConn, error) {
	c := &rollConn{}
	creds, err := f.credentials()
	if err != nil {
		return nil, err
	}
	c.creds = creds
	metas, err := f.metaList(nil)
	if err != nil && (requireMeta || len(f.etcd) == 0 || f.clusterName == "") {
		return nil, err
	}
	if len(metas) > 0 {
		c.cluster = rolling.DialCluster(metas, creds)
		ictx, cancel := context.WithTimeout(ctx, 15*time.Second)
		c.info, err = c.cluster.Info(ictx)
		cancel()
		if err != nil && (requireMeta || len(f.etcd) == 0 || f.clusterName == "") {
			c.Close()
			return nil, fmt.Errorf("rolling-update: cluster_info: %w (name more meta servers with --meta, or the roll's etcd with --etcd-endpoints and --cluster-name)", err)
		}
	}
	endpoints := f.etcd
	if len(endpoints) == 0 {
		endpoints = c.info.EtcdEndpoints
	}
	c.name = f.clusterName
	if c.name == "" {
		c.name = c.info.Name
	}
	if len(endpoints) == 0 || c.name == "" {
		c.Close()
		return nil, errors.New("rolling-update: the meta server reports no etcd endpoints or cluster name; give --etcd-endpoints and --cluster-name")
	}
	c.etcd, err = clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(), TLS: creds.TLS})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("rolling-update: etcd %s: %w", strings.Join(endpoints, ","), err)
	}
	c.store = rolling.NewEtcdStore(c.etcd, c.name, f.lockTTL)
	return c, nil
}

// env assembles what the roll commands need.
func (f *rollingFlags) env(cmd *cobra.Command, c *rollConn, ctl rolling.NodeControl, col rolling.Collector) rolling.Env {
	out := cmd.OutOrStdout()
	return rolling.Env{Cluster: c.cluster, Control: ctl, Collector: col, Store: c.store,
		ClusterName: c.name, Holder: rolling.ThisProcess(time.Now()), Out: out,
		Live: isTerminal(out), PollInterval: f.poll}
}

func (f *rollingFlags) takeoverWait() time.Duration {
	if f.takeover > 0 {
		return f.takeover
	}
	return f.lockTTL + 5*time.Second
}

func (f *rollingFlags) planOptions() (plan.Options, error) {
	o := plan.Options{Mode: plan.Mode(f.mode), Nodes: f.nodes, Upgrade: f.binary != "" || f.configDir != "",
		MinAvailability: f.minAvail, MaintenanceWindow: f.window, ResendInterval: f.resend,
		AddSecondaryMaxCount: f.addSecondaries}
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

func (f *rollingFlags) newCollector() (rolling.Collector, error) {
	if f.collector == "" {
		return nil, nil
	}
	creds, err := f.credentials()
	if err != nil {
		return nil, err
	}
	return rolling.NewHTTPCollector(f.collector, creds)
}

func runNewRoll(cmd *cobra.Command, f *rollingFlags) error {
	ctx := cmd.Context()
	out := cmd.OutOrStdout()
	opts, err := f.planOptions()
	if err != nil {
		return err
	}
	if f.control == "" && !f.dryRun {
		return errors.New("rolling-update: --control is required (onebox:<dir> or exec)")
	}
	c, err := f.connect(ctx, true)
	if err != nil {
		return err
	}
	defer c.Close()

	// Refuse early, before planning, when a roll is unfinished or running.
	if h, held, err := c.store.Holder(ctx); err != nil {
		return err
	} else if held && !f.dryRun {
		return fmt.Errorf("%w; `pegasus rolling-update status` follows it, and if it died, `pegasus rolling-update resume` takes over once its lock expires",
			&rolling.LockedError{Holder: h})
	}
	if rec, err := c.store.Load(ctx); err == nil && !rec.State.Status.Terminal() {
		if !f.dryRun {
			return fmt.Errorf("%w: %s since %s; run `pegasus rolling-update resume` or `abort`",
				rolling.ErrUnfinishedRoll, rec.State.Status, rec.State.Started.Format(time.RFC3339))
		}
		fmt.Fprintf(out, "note: an unfinished roll is stored (%s); a real run would refuse\n\n", rec.State.Status)
	}

	// The record keeps absolute paths: `resume` may run from elsewhere.
	if dir, ok := strings.CutPrefix(f.control, "onebox:"); ok && dir != "" {
		if abs, err := filepath.Abs(dir); err == nil {
			f.control = "onebox:" + abs
		}
	}
	if f.configDir != "" {
		if abs, err := filepath.Abs(f.configDir); err == nil {
			f.configDir = abs
		}
	}
	newVersion, err := f.newVersion(ctx, c.info)
	if err != nil {
		return err
	}
	var ctl rolling.NodeControl
	if f.control != "" {
		var closeCtl func() error
		ctl, closeCtl, err = rolling.NewControl(f.control, f.exec, rolling.Artifacts{Binary: f.binary, ConfigDir: f.configDir})
		if err != nil {
			return err
		}
		defer closeCtl()
	}
	col, err := f.newCollector()
	if err != nil {
		return err
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	snap, _, err := rolling.TakeSnapshot(sctx, c.cluster, col, ctl, newVersion)
	cancel()
	if err != nil {
		return fmt.Errorf("rolling-update: reading the cluster: %w", err)
	}
	p, err := plan.Build(snap, opts)
	if err != nil {
		return fmt.Errorf("rolling-update: refusing to start: %w", err)
	}
	p.Print(out)
	fmt.Fprintln(out)
	if f.dryRun {
		return nil
	}
	if !f.yes {
		if err := confirm(cmd); err != nil {
			return err
		}
	}
	metas, _ := f.metaList(nil)
	run := rolling.RunSpec{Metas: metas, EtcdEndpoints: f.etcd, Collector: f.collector, Control: f.control,
		Exec: f.exec, Artifacts: rolling.Artifacts{Binary: f.binary, ConfigDir: f.configDir}}
	report, err := rolling.Begin(ctx, f.env(cmd, c, ctl, col), run, p)
	return f.finish(cmd, report, err)
}

// newVersion is the protocol version the roll installs: what the new
// binary prints, or for a configuration-only upgrade what the leader
// speaks (the binary stays). Empty for a restart.
func (f *rollingFlags) newVersion(ctx context.Context, info rolling.ClusterInfo) (string, error) {
	switch {
	case f.binary != "":
		abs, err := filepath.Abs(f.binary)
		if err != nil {
			return "", err
		}
		f.binary = abs
		vctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return rolling.BinaryVersion(vctx, f.binary)
	case f.configDir != "":
		for _, m := range info.Metas {
			if m.Leader {
				return m.Protocol, nil
			}
		}
	}
	return "", nil
}

// confirm asks on a terminal; without one it refuses.
func confirm(cmd *cobra.Command) error {
	in := cmd.InOrStdin()
	if !isTerminal(in) {
		return errors.New("rolling-update: not a terminal; review the plan above and run again with --yes")
	}
	fmt.Fprint(cmd.OutOrStdout(), "Start this roll? [y/N] ")
	line, _ := bufio.NewReader(in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("rolling-update: not confirmed")
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
			data, jerr := json.MarshalIndent(report, "", "  ")
			if jerr == nil {
				jerr = os.WriteFile(f.jsonReport, append(data, '\n'), 0o644)
			}
			if jerr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "rolling-update: writing %s: %v\n", f.jsonReport, jerr)
			}
		}
	}
	return err
}

// resumeTools rebuilds node control and the collector for a stored roll:
// from the record, unless flags override.
func (f *rollingFlags) resumeTools(cmd *cobra.Command, rec rolling.Record) (rolling.NodeControl, func() error, rolling.Collector, error) {
	spec, tmpl := rec.Run.Control, rec.Run.Exec
	if cmd.Flags().Changed("control") {
		spec = f.control
	}
	for name, v := range map[string]*string{"stop-cmd": &tmpl.Stop, "start-cmd": &tmpl.Start,
		"status-cmd": &tmpl.Status, "install-cmd": &tmpl.Install} {
		if cmd.Flags().Changed(name) {
			*v, _ = cmd.Flags().GetString(name)
		}
	}
	ctl, closeCtl, err := rolling.NewControl(spec, tmpl, rec.Run.Artifacts)
	if err != nil {
		return nil, nil, nil, err
	}
	if !cmd.Flags().Changed("collector") {
		f.collector = rec.Run.Collector
	}
	col, err := f.newCollector()
	if err != nil {
		closeCtl()
		return nil, nil, nil, err
	}
	return ctl, closeCtl, col, nil
}

// connectStored reaches the cluster of a stored roll: the control flag may
// name a onebox whose meta list is on disk; otherwise --meta.
func (f *rollingFlags) connectStored(cmd *cobra.Command) (*rollConn, rolling.Record, error) {
	c, err := f.connect(cmd.Context(), false)
	if err != nil {
		return nil, rolling.Record{}, err
	}
	rec, err := c.store.Load(cmd.Context())
	if err != nil {
		c.Close()
		return nil, rolling.Record{}, err
	}
	if c.cluster == nil {
		c.cluster = rolling.DialCluster(rec.Run.Metas, c.creds)
	}
	// Every meta server of the plan is watched, including one that was
	// down (and so unlisted) when cluster_info was read.
	c.cluster.AddMetas(rec.State.Plan.Metas...)
	return c, rec, nil
}

func runRollResume(cmd *cobra.Command, f *rollingFlags) error {
	c, rec, err := f.connectStored(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	if rec.State.Status.Terminal() {
		return fmt.Errorf("%w: %s", rolling.ErrRollEnded, rec.State.Status)
	}
	ctl, closeCtl, col, err := f.resumeTools(cmd, rec)
	if err != nil {
		return err
	}
	defer closeCtl()
	fmt.Fprintf(cmd.OutOrStdout(), "resuming the %s roll of %s\n", rec.State.Status, c.name)
	report, remote, err := rolling.Resume(cmd.Context(), f.env(cmd, c, ctl, col), f.takeoverWait())
	if remote {
		fmt.Fprintln(cmd.OutOrStdout(), "the running orchestrator resumed the roll")
		return nil
	}
	return f.finish(cmd, report, err)
}

func runRollAbort(cmd *cobra.Command, f *rollingFlags) error {
	c, rec, err := f.connectStored(cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	if rec.State.Status.Terminal() {
		return fmt.Errorf("%w: %s", rolling.ErrRollEnded, rec.State.Status)
	}
	ctl, closeCtl, col, err := f.resumeTools(cmd, rec)
	if err != nil {
		return err
	}
	defer closeCtl()
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

func runRollRequest(cmd *cobra.Command, f *rollingFlags, op rolling.RequestOp) error {
	c, err := f.connect(cmd.Context(), false)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
	defer cancel()
	err = c.store.Request(ctx, rolling.Request{Op: op, Reason: f.reason, From: rolling.ThisProcess(time.Now()), At: time.Now()})
	switch {
	case errors.Is(err, rolling.ErrNotRunning):
		return fmt.Errorf("%w; a stored roll continues only with `pegasus rolling-update resume`", err)
	case err != nil:
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s acknowledged by the running orchestrator\n", op)
	return nil
}

func runRollStatus(cmd *cobra.Command, f *rollingFlags) error {
	c, err := f.connect(cmd.Context(), false)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := cmd.Context()
	rec, err := c.store.Load(ctx)
	if err != nil {
		return err
	}
	m, err := plan.Restore(rec.State)
	if err != nil {
		return err
	}
	holder, held, err := c.store.Holder(ctx)
	if err != nil {
		return err
	}
	p := rolling.ProgressOf(c.name, m, time.Now())
	if held {
		p.Holder = &holder
	}
	out := cmd.OutOrStdout()
	if f.asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(p)
	}
	writeRollStatus(out, p, held, rec)
	return nil
}

func writeRollStatus(out io.Writer, p rolling.Progress, held bool, rec rolling.Record) {
	fmt.Fprintf(out, "cluster %s: roll %s", p.Cluster, p.Status)
	if !p.Started.IsZero() {
		fmt.Fprintf(out, ", started %s", p.Started.Local().Format(time.DateTime))
	}
	fmt.Fprintln(out)
	if p.Reason != "" {
		fmt.Fprintf(out, "reason: %s\n", p.Reason)
	}
	if p.StepIndex > 0 {
		fmt.Fprintf(out, "step %d of %d: %s\n", p.StepIndex, p.StepCount, p.Step)
		if p.Observed != "" {
			fmt.Fprintf(out, "  now: %s\n", p.Observed)
		}
	}
	switch {
	case held:
		fmt.Fprintf(out, "orchestrator: %s\n", p.Holder)
	case !p.Status.Terminal():
		fmt.Fprintf(out, "orchestrator: none running (last: %s, at %s); `pegasus rolling-update resume` continues\n",
			rec.Holder, rec.Updated.Local().Format(time.DateTime))
	}
	fmt.Fprintln(out)
	p.Report.WriteText(out)
}
