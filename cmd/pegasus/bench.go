package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/etcdcluster"
	"github.com/pegasus-go/pegasus/internal/bench/etcdtarget"
	"github.com/pegasus-go/pegasus/internal/bench/oneboxcluster"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/security"
)

// Exit status of a benchmark whose checks found an acknowledged write lost
// or a linearizability violation.
const exitSafetyViolation = exitCheckFailed

// Defaults of the bench flags that differ between commands.
const (
	// openLoopWorkers caps the operations in flight at a fixed rate: room
	// for a few seconds of stall at moderate rates before the schedule
	// queues (which the report then charges to the stall anyway).
	openLoopWorkers = 256
	// A scenario's load is sized for a onebox on a small machine: every
	// written key is read back after the load, and the in-flight cap is
	// lower so that during a stall the hottest zipfian key does not pile
	// up more concurrent operations than the linearizability search can
	// decide in its budget. Operations held back by the cap still count
	// from when they were due.
	scenarioRate    = 500
	scenarioKeys    = 10_000
	scenarioWorkers = 32
)

// loadDefaults are a command's defaults for the load flags.
type loadDefaults struct {
	rate        float64
	keys        uint64
	openWorkers int // in-flight cap with --rate when --workers is not given
}

const benchLong = `Load generator and fault scenarios, with an availability and correctness report.

Every run records each operation, then reads every written key back and checks
the whole history: acknowledged writes lost, and linearizability per key
(porcupine). Latency is measured from when an operation was due (open loop,
--rate) so a stall is charged for the requests it held back.

  load       load an existing cluster (Pegasus client)
               --meta list --table T [--create -p 8 -r 3]
               --duration D (--rate R | --workers W) --keys N --value-size S
               --read-ratio F [--delete-ratio F] [--distribution uniform|zipfian]
               [--out DIR]
  etcd-load  the same load against etcd (--endpoints list; without it, a local
             3-member cluster of 'pegasus etcd' processes is started)
  scenario   start a onebox (or, for etcd-rolling, an etcd cluster), load it,
             inject an event, wait for full health, and report failed ops, the
             longest stall, p99.9 during the event against the baseline, the
             time to full health, linearizability and lost writes
               <name> [--duration D] [--out DIR] [--replicas N] [--rate R]
               [--downtime D] [--baseline D] [--keep]
             names: ` + "%s" + `

A live line every second shows ops/s, errors and p99. Ctrl-C stops the load
and still checks and writes the report. Files written to --out:
report.json, report.txt, timeline.svg.

Exit status: 0 when the checks pass; 3 when an acknowledged write was lost or
linearizability was violated; 1 for any other error, including a scenario
whose cluster did not recover or that failed requests it promises not to fail
(rolling-ha).`

// loadFlags are the workload and run flags every bench command shares.
type loadFlags struct {
	duration     time.Duration
	rate         float64
	workers      int
	keys         uint64
	valueSize    int
	readRatio    float64
	deleteRatio  float64
	distribution string
	seed         uint64
	keyPrefix    string
	opTimeout    time.Duration
	checkTimeout time.Duration
	skipChecks   bool
	out          string

	openWorkers int
}

func (f *loadFlags) register(fs *pflag.FlagSet, d loadDefaults) {
	f.openWorkers = d.openWorkers
	fs.DurationVar(&f.duration, "duration", time.Minute, "how long to load (a scenario's minimum: it runs until the cluster has recovered)")
	fs.Float64Var(&f.rate, "rate", d.rate, "operations per second, open loop (0: closed loop, --workers back to back)")
	fs.IntVar(&f.workers, "workers", 0, fmt.Sprintf("concurrent clients in closed loop (default %d); the cap on operations in flight with --rate (default %d)", bench.DefaultWorkers, d.openWorkers))
	fs.Uint64Var(&f.keys, "keys", d.keys, "number of distinct keys")
	fs.IntVar(&f.valueSize, "value-size", bench.DefaultValueSize, "bytes per value (at least 8: a value identifies its write)")
	fs.Float64Var(&f.readRatio, "read-ratio", 0.5, "fraction of reads")
	fs.Float64Var(&f.deleteRatio, "delete-ratio", 0, "fraction of deletes; the rest are writes")
	fs.StringVar(&f.distribution, "distribution", string(bench.Zipfian), "key distribution: uniform or zipfian")
	fs.Uint64Var(&f.seed, "seed", 0, "seed of the operation sequence")
	fs.StringVar(&f.keyPrefix, "key-prefix", "", "key prefix (default: unique per run, so that the checks start from absent keys)")
	fs.DurationVar(&f.opTimeout, "op-timeout", bench.DefaultOpTimeout, "deadline of one operation; a write past it has an unknown outcome")
	fs.DurationVar(&f.checkTimeout, "check-timeout", bench.DefaultCheckTimeout, "bound on the linearizability check")
	fs.BoolVar(&f.skipChecks, "skip-checks", false, "skip the read-back and the linearizability check (throughput only)")
	fs.StringVar(&f.out, "out", "", "directory for report.json, report.txt and timeline.svg")
}

// config builds the bench configuration the flags describe.
func (f *loadFlags) config() bench.Config {
	workers := f.workers
	if workers == 0 && f.rate > 0 {
		workers = f.openWorkers
	}
	prefix := f.keyPrefix
	if prefix == "" {
		// A fresh key space: the checkers take every key to start absent,
		// and a table may hold an earlier run's values.
		prefix = bench.DefaultKeyPrefix + strconv.FormatInt(time.Now().UnixMilli(), 36) + "-"
	}
	return bench.Config{
		Workload: bench.Workload{
			KeyCount:     f.keys,
			KeyPrefix:    prefix,
			Distribution: bench.Distribution(f.distribution),
			ReadRatio:    f.readRatio,
			DeleteRatio:  f.deleteRatio,
			ValueSize:    f.valueSize,
			Seed:         f.seed,
		},
		Workers:             workers,
		Rate:                f.rate,
		Duration:            f.duration,
		OpTimeout:           f.opTimeout,
		CheckTimeout:        f.checkTimeout,
		SkipReadBack:        f.skipChecks,
		SkipLinearizability: f.skipChecks,
		OutDir:              f.out,
	}
}

// safetyError is a run whose checks found lost writes or a violation; main
// exits with its code.
type safetyError struct{ what string }

func (e safetyError) Error() string { return "bench: " + e.what }
func (e safetyError) ExitCode() int { return exitSafetyViolation }

// checkSafety returns a safetyError when the report shows lost writes or a
// linearizability violation.
func checkSafety(lostWrites int, lin bench.Verdict) error {
	var what []string
	if lostWrites > 0 {
		what = append(what, fmt.Sprintf("%d acknowledged writes lost", lostWrites))
	}
	if lin == bench.VerdictViolation {
		what = append(what, "linearizability violated")
	}
	if len(what) == 0 {
		return nil
	}
	return safetyError{strings.Join(what, "; ")}
}

// liveProgress prints one line per second from meter until stop is called.
func liveProgress(w io.Writer, meter *bench.Meter) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		start := time.Now()
		last := start
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				iv := meter.Interval()
				secs := now.Sub(last).Seconds()
				last = now
				fmt.Fprintf(w, "%6.0fs %9.0f ops/s  errors %d (total %d)  p99 %s\n",
					now.Sub(start).Seconds(), float64(iv.Ops)/secs, iv.Failed, iv.TotalFailed, formatLatency(iv.P99))
				if iv.LoadDone {
					fmt.Fprintf(w, "bench: load done after %d ops; reading every written key back and checking\n", iv.TotalOps)
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func formatLatency(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000)
}

// runLoad runs one load against target and prints the report.
func runLoad(ctx context.Context, cmd *cobra.Command, target bench.Target, cfg bench.Config) error {
	meter := bench.NewMeter()
	cfg.Meter = meter
	r, err := bench.NewRunner(target, cfg)
	if err != nil {
		return err
	}
	stderr := cmd.ErrOrStderr()
	mode := fmt.Sprintf("closed loop, %d workers", r.Config().Workers)
	if cfg.Rate > 0 {
		mode = fmt.Sprintf("open loop at %.0f ops/s", cfg.Rate)
	}
	fmt.Fprintf(stderr, "bench: loading for %s, %s; Ctrl-C stops early and still reports\n", cfg.Duration, mode)
	stop := liveProgress(stderr, meter)
	rep, runErr := r.Run(ctx)
	stop()
	if rep == nil {
		return runErr
	}
	if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
		return err
	}
	if cfg.OutDir != "" {
		fmt.Fprintf(stderr, "bench: report written to %s\n", cfg.OutDir)
	}
	if runErr != nil {
		return runErr
	}
	return checkSafety(rep.LostWrites, rep.Linearizability)
}

func init() {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load generator and fault scenarios with an availability and linearizability report",
		Long:  fmt.Sprintf(benchLong, strings.Join(scenario.Names(), ", ")),
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newBenchLoad(), newBenchEtcdLoad(), newBenchScenario())
	root.AddCommand(cmd)
}

func newBenchLoad() *cobra.Command {
	var (
		f          loadFlags
		endpoints  onebox.Endpoints
		table      pegasustarget.TableSpec
		create     bool
		clientWait time.Duration
		creds      security.ClientFiles
	)
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Load a Pegasus cluster and report throughput, latency, lost writes and linearizability",
		Long: `Loads one table of a running Pegasus cluster through the Go client. Keys are hash
keys with an empty sort key. With --create the table is created when missing
(-p partitions, -r replicas) and the load starts once it is fully healthy.

` + endpointsHelp,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			metas, from, err := endpoints.MetaServers()
			if err != nil {
				return err
			}
			if table.Name == "" {
				return fmt.Errorf("bench load: --table is required")
			}
			credentials, err := clientCredentials(creds, endpointsOnebox(endpoints, from))
			if err != nil {
				return err
			}
			setupCtx, cancel := context.WithTimeout(ctx, clientWait)
			conn, err := pegasustarget.Connect(setupCtx, pegasustarget.ConnectOptions{MetaServers: metas, Table: table, Create: create, Credentials: credentials})
			cancel()
			if err != nil {
				return err
			}
			defer conn.Close()
			if conn.Table != nil {
				verb := "using"
				if conn.Created {
					verb = "created"
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "bench: %s table %s: %d partitions, %d replicas\n",
					verb, conn.Table.GetName(), conn.Table.GetPartitionCount(), conn.Table.GetReplicaCount())
			}
			return runLoad(ctx, cmd, conn.Target, f.config())
		},
	}
	fs := cmd.Flags()
	addEndpointFlags(fs, &endpoints)
	fs.StringVar(&table.Name, "table", "", "table to load")
	fs.BoolVar(&create, "create", false, "create the table when missing, and wait until it is fully healthy")
	fs.IntVarP(&table.PartitionCount, "partitions", "p", pegasustarget.DefaultPartitionCount, "partition count of a created table")
	fs.IntVarP(&table.ReplicaCount, "replicas", "r", pegasustarget.DefaultReplicaCount, "replica count of a created table")
	fs.DurationVar(&clientWait, "setup-timeout", 2*time.Minute, "bound on connecting, creating the table and waiting for its health")
	clientFlags(fs, &creds)
	f.register(fs, loadDefaults{keys: bench.DefaultKeyCount, openWorkers: openLoopWorkers})
	return cmd
}

func newBenchEtcdLoad() *cobra.Command {
	var (
		f         loadFlags
		endpoints []string
		namespace string
	)
	cmd := &cobra.Command{
		Use:   "etcd-load",
		Short: "The same load against etcd, for comparison",
		Long: `Runs the load of 'pegasus bench load' against etcd through its Go client, with
linearizable reads, and the same checks. Keys live under <table>/. Without
--endpoints a local 3-member cluster of 'pegasus etcd' processes is started in
a temporary directory and removed afterwards.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if len(endpoints) == 0 {
				c, err := etcdcluster.Start(ctx, etcdcluster.Options{Progress: cmd.ErrOrStderr()})
				if err != nil {
					return err
				}
				defer c.Close()
				endpoints = c.Endpoints()
			}
			cli, err := newEtcdClient(endpoints)
			if err != nil {
				return err
			}
			defer cli.Close()
			cfg := f.config()
			cfg.Workload.KeyPrefix = namespace + "/" + cfg.Workload.KeyPrefix
			return runLoad(ctx, cmd, etcdtarget.New(cli), cfg)
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&endpoints, "endpoints", nil, "etcd client URLs, comma separated (default: start a local 3-member cluster)")
	fs.StringVar(&namespace, "table", "bench", "key namespace, the counterpart of a Pegasus table")
	f.register(fs, loadDefaults{keys: bench.DefaultKeyCount, openWorkers: openLoopWorkers})
	return cmd
}

// newEtcdClient connects the benchmark's etcd client. Its own retry logging
// is silenced: the report counts every error.
func newEtcdClient(endpoints []string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

func newBenchScenario() *cobra.Command {
	var (
		f          loadFlags
		replicas   int
		withTLS    bool
		partitions int
		downtime   time.Duration
		baseline   time.Duration
		tail       time.Duration
		keep       bool
		dir        string
		network    string
	)
	var list strings.Builder
	for _, s := range scenario.All() {
		fmt.Fprintf(&list, "  %-20s %s\n", s.Name, s.Summary)
		if s.Expected != "" {
			fmt.Fprintf(&list, "  %-20s (fails today: %s)\n", "", s.Expected)
		}
	}
	cmd := &cobra.Command{
		Use:   "scenario <name>",
		Short: "Run a fault scenario under load on a fresh local cluster and report",
		Long: `Starts a fresh onebox (etcd, 2 meta servers, --replicas replica servers) in a
temporary directory, creates a table (-p partitions, 3 replicas), loads it,
injects the scenario's event after the baseline, waits until every partition is
fully healthy again, keeps loading for the tail, stops, checks and reports:
failed ops, longest stall, p99.9 during the event against the baseline, time to
full health, linearizability and acknowledged writes lost.

Safety scenarios choose their own table and keys unless -p or --keys is given:
staggered-outage (-p 1 -r 2) and staggered-outage-r3 (-p 1 -r 3), 10 hot keys,
kill the partition's members one by one down to all of them and restart them in
every order (the first restarted runs alone for --downtime, 15s); etcd-outage
kills the onebox's etcd for --downtime (30s); clock-step starts the replica
servers with a test-only wall-clock hook and steps one server's clock +30s,
back, -30s, back, each held for --downtime (15s).

isolate-primary-migrate runs on --network netns (its default): the load's reads
go through a client inside the primary's network namespace, which keeps
reaching it while its veth is down; the writes come from outside. migrate_node
runs at once after the cut, so the meta server hands the primary role over
while the old primary still holds its lease; any read it answers with a value
older than an acknowledged write fails the linearizability check. The reads go
back outside once the old primary refuses one; the cut lasts --downtime (30s).

etcd-rolling starts a 3-member etcd cluster of 'pegasus etcd' processes instead
and restarts its members one at a time under the same load.

partition-primary cuts the replica server with the most primaries off the
network when the onebox runs with --network netns (Linux, root, iproute2): each
replica server has its own network namespace, and the cut sets its veth down,
so the server keeps running and its lease from the meta server expires. With
the default --network loopback every server shares 127.0.0.1, so the cut is a
freeze (SIGSTOP, then SIGCONT), which stops the server's own timers too. The
report says which fault was used.

Scenarios:
` + list.String(),
		Args:      cobra.ExactArgs(1),
		ValidArgs: scenario.Names(),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := scenario.Lookup(args[0])
			if err != nil {
				return err
			}
			if s.Keys > 0 && !cmd.Flags().Changed("keys") {
				f.keys = s.Keys
			}
			cfg := f.config()
			cfg.Meter = bench.NewMeter()
			if cfg.OutDir == "" {
				cfg.OutDir = filepath.Join("bench-results", s.Name)
			}
			opts := scenario.Options{
				Load:     cfg,
				Baseline: baseline,
				Tail:     tail,
				Downtime: downtime,
				Progress: cmd.ErrOrStderr(),
			}
			run := func(c scenario.Cluster, target bench.Target) error {
				return runScenario(cmd, s, c, target, opts)
			}
			if s.System == scenario.SystemEtcd {
				return runOnEtcd(cmd, dir, keep, run)
			}
			table := pegasustarget.TableSpec{Name: "bench", PartitionCount: partitions}
			if s.Table.Partitions > 0 && !cmd.Flags().Changed("partitions") {
				table.PartitionCount = s.Table.Partitions
			}
			if s.Table.Replicas > 0 {
				table.ReplicaCount = s.Table.Replicas
			}
			if s.Network != "" && !cmd.Flags().Changed("network") {
				network = s.Network
			}
			return runOnOnebox(cmd, oneboxcluster.Setup{
				Dir:           dir,
				Replicas:      replicas,
				Table:         table,
				Progress:      cmd.ErrOrStderr(),
				Network:       network,
				WallClockHook: s.WallClockHook,
				TLS:           withTLS,
				Tuning:        onebox.Tuning{Replica: s.ReplicaConfig, Meta: s.MetaConfig},
			}, keep, run)
		},
	}
	fs := cmd.Flags()
	fs.IntVar(&replicas, "replicas", 3, "replica servers of the onebox")
	fs.BoolVar(&withTLS, "tls", false, "run the onebox with mutual TLS on every listener")
	fs.IntVarP(&partitions, "partitions", "p", pegasustarget.DefaultPartitionCount, "partitions of the benchmark table")
	fs.DurationVar(&downtime, "downtime", 0, "how long a killed or frozen node stays down (default: the scenario's own)")
	fs.DurationVar(&baseline, "baseline", 0, "load before the event (default: a quarter of --duration, at least 5s)")
	fs.DurationVar(&tail, "tail", scenario.DefaultTail, "load after the cluster is fully healthy again")
	fs.BoolVar(&keep, "keep", false, "leave the cluster running and its directory in place afterwards")
	fs.StringVar(&dir, "dir", "", "directory for the cluster (default: a temporary directory, removed afterwards unless --keep)")
	fs.StringVar(&network, "network", onebox.NetworkLoopback,
		"network of the onebox: loopback, or netns (each replica server in its own network namespace, so partition-primary cuts it off for real; Linux, root, iproute2)")
	f.register(fs, loadDefaults{rate: scenarioRate, keys: scenarioKeys, openWorkers: scenarioWorkers})
	fs.Lookup("out").Usage = "directory for report.json, report.txt and timeline.svg (default bench-results/<name>)"
	return cmd
}

// runOnOnebox starts the onebox, runs the scenario on it and tears it down.
func runOnOnebox(cmd *cobra.Command, setup oneboxcluster.Setup, keep bool, run func(scenario.Cluster, bench.Target) error) error {
	if keep && setup.Dir == "" {
		dir, err := os.MkdirTemp("", "pegasus-bench-")
		if err != nil {
			return err
		}
		setup.Dir = dir
	}
	l, err := oneboxcluster.Launch(cmd.Context(), setup)
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Fprintf(cmd.ErrOrStderr(), "bench: the onebox keeps running in %s; stop it with 'pegasus onebox stop --dir %s'\n",
			l.Onebox.Dir(), l.Onebox.Dir())
	} else {
		defer l.Close()
	}
	return run(l.Cluster, l.Target)
}

// runOnEtcd starts the etcd cluster, runs the scenario on it and tears it
// down.
func runOnEtcd(cmd *cobra.Command, dir string, keep bool, run func(scenario.Cluster, bench.Target) error) error {
	if keep && dir == "" {
		d, err := os.MkdirTemp("", "pegasus-etcd-")
		if err != nil {
			return err
		}
		dir = d
	}
	c, err := etcdcluster.Start(cmd.Context(), etcdcluster.Options{Dir: dir, Progress: cmd.ErrOrStderr()})
	if err != nil {
		return err
	}
	if keep {
		defer fmt.Fprintf(cmd.ErrOrStderr(), "bench: the etcd members keep running at %s (data in %s)\n",
			strings.Join(c.Endpoints(), ","), dir)
	} else {
		defer c.Close()
	}
	cli, err := newEtcdClient(c.Endpoints())
	if err != nil {
		return err
	}
	defer cli.Close()
	return run(c, etcdtarget.New(cli))
}

// runScenario runs s and prints its report.
func runScenario(cmd *cobra.Command, s scenario.Scenario, c scenario.Cluster, target bench.Target, opts scenario.Options) error {
	stop := liveProgress(cmd.ErrOrStderr(), opts.Load.Meter)
	rep, runErr := scenario.Run(cmd.Context(), s, c, target, opts)
	stop()
	if rep == nil {
		return runErr
	}
	if err := rep.WriteText(cmd.OutOrStdout()); err != nil {
		return err
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "bench: report written to %s\n", opts.Load.OutDir)
	if err := checkSafety(rep.LostWrites, rep.Linearizability); err != nil {
		return err
	}
	if runErr != nil {
		return runErr
	}
	if !rep.Passed() {
		return fmt.Errorf("bench: scenario %s: %s", s.Name, strings.Join(rep.Problems, "; "))
	}
	return nil
}
