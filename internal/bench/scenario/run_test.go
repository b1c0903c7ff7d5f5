package scenario

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench"
)

// fastOptions keep a scenario run under a second or two: a short load at
// a modest open-loop rate, a short baseline, tail and downtime.
func fastOptions(t *testing.T) Options {
	return Options{
		Load: bench.Config{
			Workload:     bench.Workload{KeyCount: 10_000_000, Distribution: bench.Uniform, ReadRatio: 0.5, ValueSize: 32, Seed: 1},
			Workers:      4,
			Rate:         1000,
			Duration:     600 * time.Millisecond,
			CheckTimeout: 20 * time.Second,
			OutDir:       t.TempDir(),
		},
		Baseline:      200 * time.Millisecond,
		Tail:          100 * time.Millisecond,
		Downtime:      100 * time.Millisecond,
		HealthTimeout: 5 * time.Second,
	}
}

func mustLookup(t *testing.T, name string) Scenario {
	t.Helper()
	s, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func eventLabels(rep *Report) []string {
	var labels []string
	for _, e := range rep.Load.Events {
		labels = append(labels, e.Label)
	}
	return labels
}

func TestCatalogue(t *testing.T) {
	want := []string{"baseline", "rolling-ha", "rolling-simple", "kill-replica", "kill-meta-leader",
		"partition-primary", "torn-log", "staggered-outage", "staggered-outage-r3", "counter-restarts", "etcd-outage", "clock-step", "isolate-primary-migrate", "etcd-rolling"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("scenarios %v, want %v", got, want)
	}
	if _, err := Lookup("kill-everything"); !errors.Is(err, ErrUnknownScenario) {
		t.Errorf("unknown scenario: err %v", err)
	}
	// A cluster with no optional capability runs only the scenarios that
	// need none.
	bare := bareCluster{newFakeCluster()}
	for _, s := range All() {
		err := s.Supports(bare)
		needsMore := s.Name == "rolling-ha" || s.Name == "rolling-simple" || s.Name == "kill-meta-leader" || s.Name == "partition-primary" ||
			s.Name == "staggered-outage" || s.Name == "staggered-outage-r3" || s.Name == "clock-step" || s.Name == "counter-restarts" ||
			s.Name == "isolate-primary-migrate"
		if needsMore != errors.Is(err, ErrUnsupported) {
			t.Errorf("%s on a bare cluster: err %v", s.Name, err)
		}
		var full Cluster = fakeRoller{fakeCluster: newFakeCluster()}
		if s.Name == "isolate-primary-migrate" {
			full = fakeIsolator{fakeCutter: fakeCutter{fakeCluster: newFakeCluster()}}
		}
		if err := s.Supports(full); err != nil {
			t.Errorf("%s on the full fake: %v", s.Name, err)
		}
	}
	if _, err := Run(context.Background(), mustLookup(t, "rolling-ha"), bare, fakeTarget{}, fastOptions(t)); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Run on a cluster without a roller: err %v, want ErrUnsupported", err)
	}
}

func TestKillReplica(t *testing.T) {
	c := newFakeCluster()
	opts := fastOptions(t)
	rep, err := Run(context.Background(), mustLookup(t, "kill-replica"), c, fakeTarget{c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	// The node holding the primaries was hit, and brought back.
	if got, want := c.Actions(), []string{"kill replica2", "start replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if got, want := eventLabels(rep), []string{"kill -9 replica2", "replica2 down 100ms", "restart replica2", "wait fully healthy"}; !slices.Equal(got, want) {
		t.Errorf("timeline events %v, want %v", got, want)
	}
	ev := rep.Event
	if ev == nil || !ev.Healthy || ev.StartS < 0.19 || ev.RepairedS-ev.StartS < 0.1 || ev.EndS < ev.RepairedS {
		t.Fatalf("event %+v: want it to start after the 200ms baseline and last the 100ms downtime", ev)
	}
	// While the primary was down operations failed, charged to the event
	// window. (Windows place operations by when they were due, so one due
	// just before the kill but sent after it may fail in the baseline.)
	if rep.FailedOps == 0 || ev.Window.Failed == 0 || rep.Baseline.Failed >= ev.Window.Failed {
		t.Errorf("failed ops: total %d, event %d, baseline %d; want the failures in the event window",
			rep.FailedOps, ev.Window.Failed, rep.Baseline.Failed)
	}
	if rep.Baseline.EndS != ev.StartS || rep.Baseline.Ops == 0 {
		t.Errorf("baseline %+v: want it to end where the event starts (%.3f)", rep.Baseline, ev.StartS)
	}
	// Failing fast is not a lost write nor a violation, and not a problem
	// for a scenario that promises nothing about failures.
	if rep.Linearizability != bench.VerdictOK || rep.LostWrites != 0 || !rep.Passed() {
		t.Errorf("linearizability %s, lost %d, problems %v", rep.Linearizability, rep.LostWrites, rep.Problems)
	}
	// The load ran at least its minimum duration, ended by the scenario,
	// not by an interruption.
	if rep.Load.DurationS < 0.6 || rep.Load.Interrupted {
		t.Errorf("load %.3f s, interrupted %v", rep.Load.DurationS, rep.Load.Interrupted)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "replica2 holds 8 primaries") }) {
		t.Errorf("notes %q do not say which node was hit", rep.Notes)
	}
}

func TestLostWriteIsAProblem(t *testing.T) {
	c := newFakeCluster()
	c.loseOnKill = true
	rep, err := Run(context.Background(), mustLookup(t, "kill-replica"), c, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.LostWrites != 1 || rep.Passed() || !strings.Contains(strings.Join(rep.Problems, ";"), "1 acknowledged writes lost") {
		t.Errorf("lost %d, problems %v: the undone write must be reported", rep.LostWrites, rep.Problems)
	}
}

func TestRollingNoFailuresPromise(t *testing.T) {
	for _, tc := range []struct {
		scenario   string
		wantFailed bool
		wantPass   bool
	}{
		// HA moves primaries away first: no client sees a failure, which
		// is the promise rolling-ha is judged by.
		{"rolling-ha", false, true},
		// Simple mode stops the primary's node: failures are expected and
		// counted, not a broken promise.
		{"rolling-simple", true, true},
	} {
		c := newFakeCluster()
		r := fakeRoller{fakeCluster: c, pause: 50 * time.Millisecond}
		rep, err := Run(context.Background(), mustLookup(t, tc.scenario), r, fakeTarget{c}, fastOptions(t))
		if err != nil {
			t.Fatalf("%s: %v", tc.scenario, err)
		}
		if (rep.FailedOps > 0) != tc.wantFailed || rep.Passed() != tc.wantPass {
			t.Errorf("%s: failed ops %d, problems %v", tc.scenario, rep.FailedOps, rep.Problems)
		}
		if got := c.Actions(); len(got) < 6 {
			t.Errorf("%s: actions %v: every replica server should have been restarted", tc.scenario, got)
		}
	}

	// The promise is enforced: a rolling-ha that fails a request is a
	// problem even though nothing was lost.
	c := newFakeCluster()
	s := mustLookup(t, "rolling-ha")
	s.event = killReplica // a roll that fails requests
	rep, err := Run(context.Background(), s, fakeRoller{fakeCluster: c}, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if rep.FailedOps == 0 || rep.Passed() || !strings.Contains(strings.Join(rep.Problems, ";"), "operations failed where none may") {
		t.Errorf("failed %d, problems %v: want the broken promise reported", rep.FailedOps, rep.Problems)
	}
}

func TestKillMetaLeader(t *testing.T) {
	c := newFakeCluster()
	if _, err := Run(context.Background(), mustLookup(t, "kill-meta-leader"), c, fakeTarget{c}, fastOptions(t)); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Actions(), []string{"kill meta2", "start meta2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
}

func TestPartitionPrimary(t *testing.T) {
	c := newFakeCluster()
	rep, err := Run(context.Background(), mustLookup(t, "partition-primary"), c, fakeTarget{c}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Actions(), []string{"freeze replica2", "thaw replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "SIGSTOP") }) {
		t.Errorf("notes %q do not say the cut is a freeze", rep.Notes)
	}
}

func TestPartitionPrimaryCutsWhenItCan(t *testing.T) {
	c := fakeCutter{fakeCluster: newFakeCluster()}
	rep, err := Run(context.Background(), mustLookup(t, "partition-primary"), c, fakeTarget{c.fakeCluster}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Actions(), []string{"cut replica2", "heal replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "network cut: replica2") }) ||
		slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "SIGSTOP") }) {
		t.Errorf("notes %q do not say the fault is a network cut", rep.Notes)
	}

	// A cluster that offers the capability but cannot use it freezes,
	// and says why.
	c = fakeCutter{fakeCluster: newFakeCluster(), cannot: true}
	rep, err = Run(context.Background(), mustLookup(t, "partition-primary"), c, fakeTarget{c.fakeCluster}, fastOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Actions(), []string{"freeze replica2", "thaw replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "one shared network") }) {
		t.Errorf("notes %q do not say why there is no real cut", rep.Notes)
	}
}

func TestPartitionHealsCutWhenCancelled(t *testing.T) {
	c := fakeCutter{fakeCluster: newFakeCluster()}
	opts := fastOptions(t)
	opts.Downtime = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	if _, err := Run(ctx, mustLookup(t, "partition-primary"), c, fakeTarget{c.fakeCluster}, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want the cancellation", err)
	}
	if got, want := c.Actions(), []string{"cut replica2", "heal replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v: a cut node must not be left behind", got, want)
	}
}

func TestPartitionThawsWhenCancelled(t *testing.T) {
	c := newFakeCluster()
	opts := fastOptions(t)
	opts.Downtime = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(400*time.Millisecond, cancel)
	rep, err := Run(ctx, mustLookup(t, "partition-primary"), c, fakeTarget{c}, opts)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err %v, want the cancellation", err)
	}
	if got, want := c.Actions(), []string{"freeze replica2", "thaw replica2"}; !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v: a frozen node must not be left behind", got, want)
	}
	if rep == nil || !rep.Load.Interrupted || rep.Passed() {
		t.Errorf("report %+v: want an interrupted run reported as such", rep)
	}
}

func TestTornLogRounds(t *testing.T) {
	c := newFakeCluster()
	opts := fastOptions(t)
	rep, err := Run(context.Background(), mustLookup(t, "torn-log"), c, fakeTarget{c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"kill replica2", "start replica2", "kill replica2", "start replica2", "kill replica2", "start replica2"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	labels := strings.Join(eventLabels(rep), "|")
	if !strings.Contains(labels, "wait healthy (round 1)") || !strings.Contains(labels, "wait healthy (round 2)") {
		t.Errorf("timeline events %s: want a health wait between rounds", labels)
	}
	if rep.Load.Workload.ReadRatio != WriteHeavyReadRatio {
		t.Errorf("read ratio %v, want the write-heavy %v", rep.Load.Workload.ReadRatio, WriteHeavyReadRatio)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "instead of 0.50") }) {
		t.Errorf("notes %q do not say the read ratio was overridden", rep.Notes)
	}
}

func TestRestartEach(t *testing.T) {
	c := newFakeCluster()
	c.roles[RoleEtcd] = []string{"etcd1", "etcd2", "etcd3"}
	for _, n := range c.roles[RoleEtcd] {
		c.state[n] = running
	}
	// Drive the event directly: the etcd scenario's load goes to etcd,
	// which the fake does not model.
	s := mustLookup(t, "etcd-rolling")
	env := &Env{Cluster: c, annotate: func(string) func() { return func() {} }, progress: io.Discard}
	if err := s.event(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	want := []string{"stop etcd1", "start etcd1", "stop etcd2", "start etcd2", "stop etcd3", "start etcd3"}
	if got := c.Actions(); !slices.Equal(got, want) {
		t.Errorf("actions %v, want %v", got, want)
	}
	delete(c.roles, RoleEtcd)
	if err := s.event(context.Background(), env); !errors.Is(err, ErrNoNode) {
		t.Errorf("no etcd node: err %v, want ErrNoNode", err)
	}
}

func TestNotHealthyAfterEvent(t *testing.T) {
	c := newFakeCluster()
	c.unhealthy = true
	opts := fastOptions(t)
	opts.HealthTimeout = 200 * time.Millisecond
	rep, err := Run(context.Background(), mustLookup(t, "kill-replica"), c, fakeTarget{c}, opts)
	if !errors.Is(err, ErrNotHealthy) {
		t.Errorf("err %v, want ErrNotHealthy", err)
	}
	if rep == nil || rep.Event.Healthy || rep.Passed() {
		t.Fatalf("report %+v: want an unhealthy event reported as a problem", rep)
	}
}

func TestNotHealthyBeforeLoad(t *testing.T) {
	c := newFakeCluster()
	c.state["replica3"] = dead
	opts := fastOptions(t)
	opts.HealthTimeout = 100 * time.Millisecond
	if rep, err := Run(context.Background(), mustLookup(t, "baseline"), c, fakeTarget{c}, opts); !errors.Is(err, ErrNotHealthy) || rep != nil {
		t.Errorf("report %v, err %v: want no load on an unhealthy cluster", rep, err)
	}
}

func TestBaselineAndFiles(t *testing.T) {
	c := newFakeCluster()
	opts := fastOptions(t)
	rep, err := Run(context.Background(), mustLookup(t, "baseline"), c, fakeTarget{c}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Event != nil || len(c.Actions()) != 0 || rep.Baseline.Ops != rep.Load.Ops || rep.FailedOps != 0 || !rep.Passed() {
		t.Errorf("baseline: event %+v, actions %v, baseline ops %d of %d, problems %v",
			rep.Event, c.Actions(), rep.Baseline.Ops, rep.Load.Ops, rep.Problems)
	}

	dir := opts.Load.OutDir
	var back Report
	data, err := os.ReadFile(filepath.Join(dir, bench.ReportJSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.Scenario != "baseline" || back.Load == nil || back.Load.Ops != rep.Load.Ops || back.Problems == nil {
		t.Errorf("report.json holds %+v: want the scenario report with the load inside", back)
	}
	text, err := os.ReadFile(filepath.Join(dir, bench.ReportTextFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario baseline", "p99.9 (ms)", "linearizability: ok", "acknowledged writes lost: 0", "problems: none", "\nload:\n"} {
		if !strings.Contains(string(text), want) {
			t.Errorf("report.txt lacks %q:\n%s", want, text)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, bench.TimelineFile)); err != nil {
		t.Error(err)
	}
}
