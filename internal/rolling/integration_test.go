package rolling

// End-to-end rolls over a real onebox: every server its own process of a
// pegasus binary built from this module, the orchestrator run as
// `pegasus rolling-update` in its own process, as an operator would.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

func TestMain(m *testing.M) { oneboxtest.MainNoLeaks(m) }

// testTable is the table every end-to-end roll runs under load.
const testTable = "rolling_test"

// e2e is one onebox cluster under test.
type e2e struct {
	t     *testing.T
	bin   string
	dir   string
	ob    *onebox.Cluster
	conns *dial.Conns
	// collectorURL is empty when the cluster runs no collector.
	collectorURL string
}

// startE2E starts a onebox of 2 meta servers and replicas replica servers,
// with a collector when the binary has the role, and a table of 16
// partitions with 3 replicas. The failure detector runs at 1 s beacons so
// that waits are short; everything else is the defaults.
func startE2E(t *testing.T, replicas int) *e2e {
	t.Helper()
	return startE2EWith(t, e2eOptions{replicas: replicas, partitions: 16})
}

// e2eOptions shape the onebox of an end-to-end test.
type e2eOptions struct {
	replicas   int
	partitions int
	// zones labels the replica servers in order (empty: no zones).
	zones []string
}

func startE2EWith(t *testing.T, o e2eOptions) *e2e {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a onebox cluster; skipped with -short")
	}
	bin := oneboxtest.Binary(t)
	withCollector := oneboxtest.HasRole(bin, "collector")
	dir := t.TempDir()
	replica := 0
	ob := testcluster.Start(t, onebox.Options{
		Dir: dir, Metas: 2, Replicas: o.replicas, Collector: withCollector, Binary: bin,
		Tuning: onebox.Tuning{
			Meta: oneboxtest.FastMeta,
			Replica: func(c *config.Replica) {
				oneboxtest.FastReplica(c)
				if replica < len(o.zones) {
					c.Zone = o.zones[replica]
				}
				replica++
			},
			// Traffic per table every second: the SLO gate sees a change
			// within seconds.
			Collector: func(c *config.Collector) { c.ScrapeIntervalSeconds = 1 },
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	e := &e2e{t: t, bin: bin, dir: dir, ob: ob, conns: dial.New(ob.MetaAddrs(), dial.Options{Credentials: ob.Credentials()})}
	t.Cleanup(func() { _ = e.conns.Close() })
	if withCollector {
		procs, err := ob.Status()
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range procs {
			if p.Role == onebox.RoleCollector {
				e.collectorURL = "http://" + p.HTTPAddress
			}
		}
	}
	if _, _, err := pegasustarget.EnsureTable(ctx, e.conns, pegasustarget.TableSpec{
		Name: testTable, PartitionCount: o.partitions, ReplicaCount: 3}); err != nil {
		t.Fatalf("table: %v", err)
	}
	return e
}

// pids returns every process's PID by name.
func (e *e2e) pids() map[string]int {
	e.t.Helper()
	procs, err := e.ob.Status()
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]int)
	for _, p := range procs {
		out[p.Name] = p.PID
	}
	return out
}

// rollCmd returns `pegasus rolling-update args...` against this onebox,
// polling every 300 ms. A new roll re-issues a command that failed after
// 3 s rather than 10: a meta leader refuses drains for its first seconds
// (its failure detector settles), which a just-started onebox hits.
func (e *e2e) rollCmd(ctx context.Context, bin string, args ...string) *exec.Cmd {
	all := append([]string{"rolling-update"}, args...)
	all = append(all, "--control", "onebox:"+e.dir, "--poll-interval", "300ms", "--lock-ttl", "3s")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		all = append(all, "--resend-interval", "3s")
	}
	return exec.CommandContext(ctx, bin, all...)
}

// roll runs the orchestrator to its end and returns its output and the
// JSON report.
func (e *e2e) roll(ctx context.Context, args ...string) (string, plan.Report, error) {
	e.t.Helper()
	reportFile := filepath.Join(e.t.TempDir(), "report.json")
	args = append(args, "--yes", "--json-report", reportFile)
	if e.collectorURL != "" {
		args = append(args, "--collector", e.collectorURL)
		// The SLO gate runs in every roll, on short windows unless the
		// test sets its own.
		for _, flag := range []string{"--baseline-window", "--canary-bake"} {
			if !slices.Contains(args, flag) {
				args = append(args, flag, "5s")
			}
		}
	}
	var out bytes.Buffer
	cmd := e.rollCmd(ctx, e.bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	e.t.Logf("rolling-update %s: %v after %v\n%s", strings.Join(args, " "), err, time.Since(start).Round(time.Second), out.String())
	var report plan.Report
	if data, rerr := os.ReadFile(reportFile); rerr == nil {
		if jerr := json.Unmarshal(data, &report); jerr != nil {
			e.t.Fatalf("report: %v", jerr)
		}
	}
	return out.String(), report, err
}

// knobs reads the meta server's knobs the roll changes, and its level.
func (e *e2e) knobs(ctx context.Context) map[string]string {
	e.t.Helper()
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	out := make(map[string]string)
	for _, k := range []string{plan.KnobAssignDelay, plan.KnobAddSecondaryMax} {
		v, err := c.Knob(ctx, k)
		if err != nil {
			e.t.Fatalf("reading %s: %v", k, err)
		}
		out[k] = v
	}
	info, err := c.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out[plan.KnobMetaLevel] = strings.TrimPrefix(info.MetaLevel, "fl_")
	return out
}

// requireDefaultKnobs checks the knobs hold their configured defaults.
func (e *e2e) requireDefaultKnobs(ctx context.Context) {
	e.t.Helper()
	def := config.DefaultMeta()
	want := map[string]string{
		plan.KnobAssignDelay:     fmt.Sprint(def.ReplicaAssignDelayMsForDropouts),
		plan.KnobAddSecondaryMax: fmt.Sprint(def.AddSecondaryMaxCountForOneNode),
		plan.KnobMetaLevel:       def.MetaFunctionLevelOnStart,
	}
	if got := e.knobs(ctx); fmt.Sprint(got) != fmt.Sprint(want) {
		e.t.Fatalf("knobs after the roll: %v, want %v", got, want)
	}
	// Back to the configuration's values, not overridden with them.
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(info.Overrides) != 0 {
		e.t.Fatalf("knob overrides left after the roll: %v", info.Overrides)
	}
}

// primaryCounts is `nodes -d`'s primary count per replica server.
func (e *e2e) primaryCounts(ctx context.Context) map[string]int {
	e.t.Helper()
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	v, err := c.View(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]int)
	for _, n := range v.Nodes {
		out[n.Node] = n.Primaries
	}
	return out
}

// requireAllRestarted checks every process of the roll's scope got a new PID.
func requireAllRestarted(t *testing.T, before, after map[string]int, names ...string) {
	t.Helper()
	for _, n := range names {
		if before[n] == after[n] {
			t.Errorf("%s was not restarted (pid %d)", n, after[n])
		}
	}
}

// load is a steady client load: workers each alternate a write of a fresh
// key and a read of a key already acknowledged, at a bounded pace. Every
// failed operation is counted; every acknowledged write is remembered and
// must read back with its value, during and after the roll.
type load struct {
	tbl    *client.Table
	mu     sync.Mutex
	acked  map[string]string
	errs   []string
	ops    atomic.Int64
	failed atomic.Int64
	lost   atomic.Int64
	seq    atomic.Int64
}

func newLoad(t *testing.T, ctx context.Context, metas []string) (*load, func()) {
	c, err := client.New(ctx, client.Config{MetaServers: metas})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := c.Open(ctx, testTable)
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	return &load{tbl: tbl, acked: make(map[string]string)}, func() { c.Close() }
}

func (l *load) fail(format string, args ...any) {
	l.failed.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 10 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

// run drives workers until ctx ends; each pauses pace between operations.
func (l *load) run(ctx context.Context, workers int, pace time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(w), 7))
			for ctx.Err() == nil {
				l.step(ctx, rnd)
				select {
				case <-ctx.Done():
				case <-time.After(pace):
				}
			}
		})
	}
	return &wg
}

func (l *load) step(ctx context.Context, rnd *rand.Rand) {
	// Operations get their own deadline: the load's end must not fail an
	// operation already under way.
	opCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rnd.IntN(2) == 0 {
		key := fmt.Sprintf("k%07d", l.seq.Add(1))
		value := fmt.Sprintf("v%d", rnd.Uint64())
		l.ops.Add(1)
		if err := l.tbl.Set(opCtx, []byte(key), nil, []byte(value), 0); err != nil {
			l.fail("set %s: %v", key, err)
			return
		}
		l.mu.Lock()
		l.acked[key] = value
		l.mu.Unlock()
		return
	}
	l.mu.Lock()
	var key, want string
	if n := len(l.acked); n > 0 {
		// Any acknowledged key will do; map order is random enough.
		for k, v := range l.acked {
			key, want = k, v
			break
		}
	}
	l.mu.Unlock()
	if key == "" {
		return
	}
	l.ops.Add(1)
	got, found, err := l.tbl.Get(opCtx, []byte(key), nil)
	switch {
	case err != nil:
		l.fail("get %s: %v", key, err)
	case !found || string(got) != want:
		l.lost.Add(1)
		l.fail("get %s: found=%v value %q, want %q (an acknowledged write is missing)", key, found, got, want)
	}
}

// verify reads back every acknowledged write.
func (l *load) verify(t *testing.T, ctx context.Context) {
	t.Helper()
	l.mu.Lock()
	acked := make(map[string]string, len(l.acked))
	for k, v := range l.acked {
		acked[k] = v
	}
	l.mu.Unlock()
	missing := 0
	for k, want := range acked {
		got, found, err := l.tbl.Get(ctx, []byte(k), nil)
		if err != nil || !found || string(got) != want {
			missing++
			if missing <= 5 {
				t.Errorf("acknowledged write %s: found=%v value %q err %v, want %q", k, found, got, err, want)
			}
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged writes not readable after the roll", missing, len(acked))
	}
	t.Logf("all %d acknowledged writes read back", len(acked))
}

func (l *load) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d operations, %d failed, %d lost; first errors: %s",
		l.ops.Load(), l.failed.Load(), l.lost.Load(), strings.Join(l.errs, "; "))
}

// TestE2EHARollUnderLoadFailsNoRequest is the headline: a full HA roll of
// 2 meta servers and 5 replica servers (and the collector), under a steady
// mixed load, with no failed client operation and every acknowledged write
// readable afterwards.
func TestE2EHARollUnderLoadFailsNoRequest(t *testing.T) {
	e := startE2E(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	before := e.pids()
	primariesBefore := e.primaryCounts(ctx)

	// 8 workers pausing 25 ms: about 300 operations a second, half writes.
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 8, 25*time.Millisecond)
	time.Sleep(2 * time.Second) // some data before the first node goes
	start := time.Now()
	out, report, err := e.roll(ctx, "--mode", "ha")
	rollTime := time.Since(start)
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	t.Logf("load: %s; roll took %v (%.0f ops/s)", l.summary(), rollTime.Round(time.Second),
		float64(l.ops.Load())/(rollTime+3*time.Second).Seconds())
	if err != nil {
		t.Fatalf("roll failed: %v", err)
	}
	if report.Status != plan.StatusSucceeded {
		t.Fatalf("report status %s: %s", report.Status, report.Reason)
	}
	if l.failed.Load() != 0 {
		t.Errorf("client operations failed during the HA roll: %s", l.summary())
	}
	l.verify(t, ctx)

	names := []string{"meta1", "meta2", "replica1", "replica2", "replica3", "replica4", "replica5"}
	if e.collectorURL != "" {
		names = append(names, "collector")
	}
	requireAllRestarted(t, before, e.pids(), names...)
	for _, n := range report.Nodes {
		if n.Result != "done" {
			t.Errorf("node %s %s: %s", n.Role, n.Node, n.Result)
		}
		if n.Role == plan.RoleReplica && n.ClientErrors != 0 {
			t.Errorf("collector counted %d client errors while %s rolled", n.ClientErrors, n.Node)
		}
	}
	e.requireDefaultKnobs(ctx)
	if got := e.primaryCounts(ctx); fmt.Sprint(got) != fmt.Sprint(primariesBefore) {
		t.Errorf("primaries per node after the roll %v, before %v", got, primariesBefore)
	}
	if !strings.Contains(out, "roll succeeded") {
		t.Errorf("no final status line in the output")
	}
	if e.collectorURL != "" {
		// The collector's page shows how the roll ended.
		var view struct {
			Progress *struct {
				Status    string `json:"status"`
				StepCount int    `json:"step_count"`
			} `json:"progress"`
		}
		resp, err := http.Get(e.collectorURL + "/api/rolling")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(&view); err != nil {
			t.Fatal(err)
		}
		if view.Progress == nil || view.Progress.Status != "succeeded" || view.Progress.StepCount == 0 {
			t.Errorf("collector's rolling progress: %+v", view.Progress)
		}
	}
}

// TestE2ESimpleRollCompletes: the simplified procedure restarts every
// replica server too; the client failures it costs (no handover, the
// failure detector's grace) are counted and reported, not hidden.
func TestE2ESimpleRollCompletes(t *testing.T) {
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	before := e.pids()
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 4, 25*time.Millisecond)
	replicas := strings.Join(addrsOf(e.ob.Replicas()), ",")
	_, report, err := e.roll(ctx, "--mode", "simple", "--nodes", replicas)
	stopLoad()
	wg.Wait()
	t.Logf("simple roll under load: %s; collector counted %d client errors", l.summary(), report.ClientErrors)
	if err != nil || report.Status != plan.StatusSucceeded {
		t.Fatalf("roll: %v, status %s: %s", err, report.Status, report.Reason)
	}
	requireAllRestarted(t, before, e.pids(), "replica1", "replica2", "replica3")
	if l.lost.Load() != 0 {
		t.Errorf("acknowledged writes lost: %s", l.summary())
	}
	l.verify(t, ctx)
	e.requireDefaultKnobs(ctx)
}

func addrsOf(procs []onebox.Process) []string {
	var out []string
	for _, p := range procs {
		out = append(out, p.Address)
	}
	return out
}

// TestE2EResumeAfterKill9: the orchestrator process is killed with SIGKILL
// while a replica server is stopped; `rolling-update resume` takes over
// once the dead orchestrator's lease expires and finishes the roll.
func TestE2EResumeAfterKill9(t *testing.T) {
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := e.pids()
	store, closeStore := e.store(ctx)
	defer closeStore()

	var out bytes.Buffer
	first := e.rollCmd(ctx, e.bin, "--mode", "ha", "--yes", "--nodes", strings.Join(addrsOf(e.ob.Replicas()), ","))
	first.Stdout, first.Stderr = &out, &out
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	// From another terminal: pause it, look, resume it.
	cli := func(args ...string) string {
		t.Helper()
		out, err := e.rollCmd(ctx, e.bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("rolling-update %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	for {
		if rec, err := store.Load(ctx); err == nil && rec.State.Status == plan.StatusRunning {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := cli("pause", "--reason", "look at the graphs"); !strings.Contains(got, "acknowledged") {
		t.Fatalf("pause: %s", got)
	}
	for {
		rec, err := store.Load(ctx)
		if err == nil && rec.State.Status == plan.StatusPaused {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("never paused:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := cli("status"); !strings.Contains(got, "roll paused") || !strings.Contains(got, "look at the graphs") ||
		!strings.Contains(got, fmt.Sprintf("orchestrator: pid %d", first.Process.Pid)) {
		t.Fatalf("status of a paused roll:\n%s", got)
	}
	if got := cli("resume"); !strings.Contains(got, "the running orchestrator resumed the roll") {
		t.Fatalf("resume: %s", got)
	}

	// Kill it once the second replica server of the plan is down.
	var killedAt string
	for killedAt == "" {
		if ctx.Err() != nil {
			t.Fatalf("the roll never stopped its second replica server:\n%s", out.String())
		}
		time.Sleep(100 * time.Millisecond)
		rec, err := store.Load(ctx)
		if err != nil {
			continue
		}
		second := rec.State.Plan.Replicas[1]
		for _, s := range rec.State.Stopped {
			if s.Node == second {
				killedAt = fmt.Sprintf("step %d of %d", rec.State.Current+1, len(rec.State.Steps))
			}
		}
		if rec.State.Status.Terminal() {
			t.Fatalf("roll ended before the kill: %s", rec.State.Status)
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	t.Logf("orchestrator killed at %s:\n%s", killedAt, out.String())

	// A new roll is refused while the old one is unfinished.
	refused, _, err := e.roll(ctx, "--mode", "ha")
	if err == nil || !strings.Contains(refused, "`pegasus rolling-update resume`") {
		t.Fatalf("a second roll was not refused: %v", err)
	}

	var resumed bytes.Buffer
	cmd := e.rollCmd(ctx, e.bin, "resume")
	cmd.Stdout, cmd.Stderr = &resumed, &resumed
	err = cmd.Run()
	t.Logf("resume: %v\n%s", err, resumed.String())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := store.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State.Status != plan.StatusSucceeded || len(rec.State.Stopped) != 0 {
		t.Fatalf("after resume: %s, stopped %v", rec.State.Status, rec.State.Stopped)
	}
	requireAllRestarted(t, before, e.pids(), "replica1", "replica2", "replica3")
	e.requireDefaultKnobs(ctx)
}

// store opens the cluster's rolling store as the orchestrator does.
func (e *e2e) store(ctx context.Context) (*EtcdStore, func()) {
	e.t.Helper()
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: info.EtcdEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		e.t.Fatal(err)
	}
	return NewEtcdStore(cli, info.Name, 0), func() { cli.Close() }
}

// TestE2ENodeThatNeverComesBackStopsTheRoll: the new binary of a replica
// server does not start; the roll fails at that node's start with the
// reason, restarts nothing further and puts every knob back.
func TestE2ENodeThatNeverComesBackStopsTheRoll(t *testing.T) {
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// A build that reports a compatible protocol but cannot serve.
	broken := filepath.Join(t.TempDir(), "pegasus-broken")
	script := "#!/bin/sh\nif [ \"$1\" = version ]; then echo 'protocol: 1.0'; exit 0; fi\necho 'pegasus: corrupted build, cannot start' >&2\nexit 1\n"
	if err := os.WriteFile(broken, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	before := e.pids()
	out, report, err := e.roll(ctx, "--mode", "ha", "--binary", broken,
		"--nodes", strings.Join(addrsOf(e.ob.Replicas()), ","), "--timeout", "start=15s",
		// The cleanup's final check that the cluster is whole again
		// cannot pass with the node down: it need not wait long.
		"--timeout", "wait-healthy=20s")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("roll with a broken binary: %v", err)
	}
	// The first replica server of the plan failed; the others were never
	// touched.
	if len(report.Nodes) != 3 || report.Nodes[0].Result != "failed" ||
		report.Nodes[1].Result != "skipped" || report.Nodes[2].Result != "skipped" {
		t.Fatalf("report nodes %+v", report.Nodes)
	}
	failed := report.Nodes[0].Node
	if report.Status != plan.StatusFailed || !strings.Contains(report.Reason, "start replica-server "+failed) {
		t.Fatalf("status %s, reason %q", report.Status, report.Reason)
	}
	if !strings.Contains(out, "exited") {
		t.Errorf("the output does not say the process exited")
	}
	after := e.pids()
	var failedName string
	for _, r := range e.ob.Replicas() {
		if r.Address == failed {
			failedName = r.Name
		} else if before[r.Name] != after[r.Name] {
			t.Errorf("the roll went on past the failed node: %s restarted", r.Name)
		}
	}
	e.requireDefaultKnobs(ctx)

	// The operator fixes the binary; the node comes back.
	if err := e.ob.SetBinary(failedName, e.bin); err != nil {
		t.Fatal(err)
	}
	if err := e.ob.StartNode(ctx, failedName); err != nil {
		t.Fatal(err)
	}
	if err := e.ob.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
}

// buildVersion builds pegasus with a different protocol version.
func buildVersion(t *testing.T, variable, value string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "pegasus-"+variable+"-"+value)
	cmd := exec.Command("go", "build", "-o", bin, "-ldflags",
		"-X github.com/pegasus-go/pegasus/internal/version."+variable+"="+value, "./cmd/pegasus")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building %s=%s: %v\n%s", variable, value, err, out)
	}
	return bin
}

// TestE2EUpgrade: a major protocol bump is refused before anything is
// touched; a minor bump rolls, and every server reports it afterwards.
func TestE2EUpgrade(t *testing.T) {
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cur := version.Current()
	major := buildVersion(t, "protocolMajor", fmt.Sprint(cur.Major+1))
	next := version.Protocol{Major: cur.Major, Minor: cur.Minor + 1}
	minor := buildVersion(t, "protocolMinor", fmt.Sprint(next.Minor))
	before := e.pids()

	out, _, err := e.roll(ctx, "--mode", "ha", "--binary", major)
	if err == nil || !strings.Contains(out, "incompatible protocol") || !strings.Contains(out, fmt.Sprintf("%d.%d", cur.Major+1, cur.Minor)) {
		t.Fatalf("major upgrade not refused: %v", err)
	}
	if after := e.pids(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused upgrade restarted servers: %v -> %v", before, after)
	}
	store, closeStore := e.store(ctx)
	defer closeStore()
	if _, err := store.Load(ctx); !errors.Is(err, ErrNoRoll) {
		t.Fatalf("a refused upgrade stored a roll: %v", err)
	}

	_, report, err := e.roll(ctx, "--mode", "ha", "--binary", minor)
	if err != nil || report.Status != plan.StatusSucceeded {
		t.Fatalf("minor upgrade: %v, %s: %s", err, report.Status, report.Reason)
	}
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range info.Metas {
		if m.Protocol != next.String() {
			t.Errorf("meta server %s speaks %q after the upgrade", m.Node, m.Protocol)
		}
	}
	for _, r := range info.Replicas {
		if r.Protocol != next.String() {
			t.Errorf("replica server %s speaks %q after the upgrade", r.Node, r.Protocol)
		}
	}
	// And over the wire, each replica server says so itself.
	for _, r := range e.ob.Replicas() {
		resp, err := dial.CallServer(ctx, e.conns, r.Address, (*dial.Conns).ReplicaAdmin,
			func(ctx context.Context, c pb.ReplicaAdminClient) (*pb.ReplicaServerStatusResponse, error) {
				return c.Status(ctx, &pb.ReplicaServerStatusRequest{})
			})
		if err != nil || resp.GetProtocolVersion() != next.String() {
			t.Errorf("%s status: protocol %q, %v", r.Address, resp.GetProtocolVersion(), err)
		}
	}
	e.requireDefaultKnobs(ctx)
}
