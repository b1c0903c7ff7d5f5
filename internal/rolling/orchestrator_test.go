package rolling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// rollEnv is one fake cluster with its store and clock.
type rollEnv struct {
	t     *testing.T
	c     *fakeCluster
	store *memStore
	clock *fakeClock
	out   bytes.Buffer
	pid   int
}

func newRollEnv(t *testing.T, metas, replicas int) *rollEnv {
	return &rollEnv{t: t, c: newFakeCluster(metas, replicas, 4), store: &memStore{}, clock: newFakeClock()}
}

// build plans a roll from the fake cluster's snapshot.
func (e *rollEnv) build(opts plan.Options, newVersion string) *plan.Machine {
	e.t.Helper()
	snap, info, err := TakeSnapshot(context.Background(), e.c, fakeCollector{e.c}, e.c, newVersion)
	if err != nil {
		e.t.Fatal(err)
	}
	if info.Name != "fake" {
		e.t.Fatalf("cluster name %q", info.Name)
	}
	p, err := plan.Build(snap, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return plan.NewMachine(p)
}

// run takes the lock and drives m with a new orchestrator, as one
// `pegasus rolling-update` process would.
func (e *rollEnv) run(ctx context.Context, m *plan.Machine) (plan.Report, error) {
	e.t.Helper()
	e.pid++
	holder := Holder{Host: "test", PID: e.pid, Started: e.clock.Now()}
	sess, err := e.store.Acquire(ctx, holder)
	if err != nil {
		e.t.Fatal(err)
	}
	defer sess.Release(context.Background())
	o := NewOrchestrator(Config{
		Cluster: e.c, Control: e.c, Collector: fakeCollector{e.c}, Session: sess,
		ClusterName: "fake", Holder: holder, Clock: e.clock, Out: &e.out,
		Run: RunSpec{Metas: []string{"m1:34601"}, Control: "fake", Artifacts: Artifacts{Binary: "/new/pegasus"}},
	})
	return o.Run(ctx, m)
}

func (e *rollEnv) restartsOf(nodes ...string) []int {
	var out []int
	for _, n := range nodes {
		for _, r := range e.c.replicas {
			if r.node == n {
				out = append(out, r.restarts)
			}
		}
		for _, m := range e.c.metas {
			if m.node == n {
				out = append(out, m.restarts)
			}
		}
	}
	return out
}

func TestHARollRestartsEveryServerWithoutClientErrors(t *testing.T) {
	e := newRollEnv(t, 2, 5)
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	report, err := e.run(context.Background(), m)
	if err != nil {
		t.Fatalf("roll: %v\n%s", err, e.out.String())
	}
	if report.Status != plan.StatusSucceeded || report.ClientErrors != 0 {
		t.Fatalf("report %+v", report)
	}
	got := e.restartsOf("r1:34801", "r2:34801", "r3:34801", "r4:34801", "r5:34801", "m1:34601", "m2:34601")
	if !slices.Equal(got, []int{1, 1, 1, 1, 1, 1, 1}) {
		t.Fatalf("restarts %v", got)
	}
	if e.c.collector.restarts != 1 {
		t.Fatalf("collector restarts %d", e.c.collector.restarts)
	}
	// Every replica server was drained before it stopped, and the leader
	// meta server went last.
	var order []string
	for _, op := range e.c.ops {
		if strings.HasPrefix(op, "migrate_node") || strings.HasPrefix(op, "downgrade_node") ||
			strings.HasPrefix(op, "kill_partition") || strings.HasPrefix(op, "stop") {
			order = append(order, op)
		}
	}
	want := []string{}
	for _, r := range []string{"r1", "r2", "r3", "r4", "r5"} {
		n := r + ":34801"
		want = append(want, "migrate_node "+n, "downgrade_node "+n, "kill_partition "+n, "stop "+n)
	}
	want = append(want, "stop m2:34601", "stop m1:34601", "stop c1:34101")
	if !slices.Equal(order, want) {
		t.Fatalf("order\n got %q\nwant %q", order, want)
	}
	// Knobs and level are back as they were.
	if len(e.c.knobs) != 0 || e.c.level != "lively" {
		t.Fatalf("knobs %v level %s; log %v", e.c.knobs, e.c.level, e.c.knobLog)
	}
	// The stored record is the finished roll.
	rec := e.store.last()
	if rec.State.Status != plan.StatusSucceeded || rec.Holder.PID != 1 || rec.Run.Control != "fake" {
		t.Fatalf("stored %+v", rec.State.Status)
	}
	for _, n := range report.Nodes {
		if n.Result != "done" {
			t.Fatalf("node %s: %s", n.Node, n.Result)
		}
		if n.Role == plan.RoleReplica && (n.PrimariesMoved == 0 || n.Down <= 0) {
			t.Fatalf("node report %+v", n)
		}
	}
	// The collector's page saw the roll through to its end.
	if n := len(e.c.posted); n == 0 || e.c.posted[n-1].Status != plan.StatusSucceeded {
		t.Fatalf("%d progress posts, last %+v", n, e.c.posted[max(0, n-1):])
	}
	out := e.out.String()
	for _, want := range []string{"replica server r3:34801", "done", "migrate_node -n r1:34801 (4 primaries moved)", "roll succeeded"} {
		if !strings.Contains(out, want) {
			t.Fatalf("progress lacks %q:\n%s", want, out)
		}
	}
}

func TestSimpleRollCountsClientErrors(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	m := e.build(plan.Options{Mode: plan.ModeSimple, Nodes: []string{"r1:34801", "r2:34801", "r3:34801"}}, "")
	report, err := e.run(context.Background(), m)
	if err != nil {
		t.Fatalf("roll: %v\n%s", err, e.out.String())
	}
	// Each stop killed 4 primaries with no handover.
	if report.Status != plan.StatusSucceeded || report.ClientErrors == 0 {
		t.Fatalf("report %+v", report)
	}
	var perNode uint64
	for _, n := range report.Nodes {
		perNode += n.ClientErrors
		if n.ClientErrors == 0 {
			t.Fatalf("node %s reported no client errors: %+v", n.Node, n)
		}
	}
	if perNode != report.ClientErrors || report.ClientErrors != e.c.clientErrors {
		t.Fatalf("per node %d, total %d, collector %d", perNode, report.ClientErrors, e.c.clientErrors)
	}
	if !strings.Contains(report.Text(), "r2:34801") {
		t.Fatal(report.Text())
	}
}

func TestUpgradeInstallsBeforeStart(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	m := e.build(plan.Options{Mode: plan.ModeHA, Upgrade: true}, "1.1")
	if _, err := e.run(context.Background(), m); err != nil {
		t.Fatalf("roll: %v\n%s", err, e.out.String())
	}
	for _, r := range e.c.replicas {
		if r.version != "1.1" {
			t.Fatalf("%s runs %s", r.node, r.version)
		}
	}
	for _, m := range e.c.metas {
		if m.version != "1.1" {
			t.Fatalf("%s runs %s", m.node, m.version)
		}
	}
	i := slices.Index(e.c.ops, "install r1:34801 /new/pegasus")
	if i < 0 || e.c.ops[i-1] != "stop r1:34801" || e.c.ops[i+1] != "start r1:34801" {
		t.Fatalf("ops %q", e.c.ops)
	}
}

func TestNodeThatNeverStartsFailsTheRollAndRestoresKnobs(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	e.c.startFails["r2:34801"] = "exec: /broken/pegasus: no such file or directory"
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	report, err := e.run(context.Background(), m)
	if !errors.Is(err, ErrRollFailed) {
		t.Fatalf("err = %v\n%s", err, e.out.String())
	}
	if !strings.Contains(err.Error(), "start replica-server r2:34801") || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("reason does not name the step and the cause: %v", err)
	}
	if len(e.c.knobs) != 0 || e.c.level != "lively" {
		t.Fatalf("knobs not restored: %v level %s", e.c.knobs, e.c.level)
	}
	// r3 was never touched; r1 restarted once.
	if got := e.restartsOf("r1:34801", "r3:34801"); !slices.Equal(got, []int{1, 0}) {
		t.Fatalf("restarts %v", got)
	}
	if report.Status != plan.StatusFailed || len(report.KnobsChanged) != 0 {
		t.Fatalf("report %+v", report)
	}
	results := map[string]string{}
	for _, n := range report.Nodes {
		results[n.Node] = n.Result
	}
	if results["r1:34801"] != "done" || results["r2:34801"] != "failed" || results["r3:34801"] != "skipped" {
		t.Fatalf("results %v", results)
	}
	// Cleanup tried to start r2 again; it is still reported as left stopped.
	if !strings.Contains(report.Reason, "may still be stopped") {
		t.Fatalf("reason %q", report.Reason)
	}
}

func TestResumeAfterOrchestratorDies(t *testing.T) {
	e := newRollEnv(t, 2, 4)
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	ctx, kill := context.WithCancel(context.Background())
	e.c.onCommand = func(op string) {
		if op == "stop r3:34801" {
			kill() // the orchestrator dies right after stopping r3
		}
	}
	_, err := e.run(ctx, m)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v", err)
	}
	e.c.onCommand = nil
	e.store.kill()

	rec := e.store.last()
	if rec.State.Status.Terminal() || len(rec.State.Stopped) != 1 || rec.State.Stopped[0].Node != "r3:34801" {
		t.Fatalf("stored state: status %s, stopped %v", rec.State.Status, rec.State.Stopped)
	}
	resumed, err := plan.Restore(rec.State)
	if err != nil {
		t.Fatal(err)
	}
	report, err := e.run(context.Background(), resumed)
	if err != nil {
		t.Fatalf("resumed roll: %v\n%s", err, e.out.String())
	}
	if report.Status != plan.StatusSucceeded || report.ClientErrors != 0 {
		t.Fatalf("report %+v", report)
	}
	// Nothing restarted twice, and the stop was not lost.
	if got := e.restartsOf("r1:34801", "r2:34801", "r3:34801", "r4:34801"); !slices.Equal(got, []int{1, 1, 1, 1}) {
		t.Fatalf("restarts %v", got)
	}
	if len(e.c.knobs) != 0 || e.c.level != "lively" {
		t.Fatalf("knobs %v level %s", e.c.knobs, e.c.level)
	}
	if !strings.Contains(e.out.String(), "resuming a running roll") || !strings.Contains(e.out.String(), "is re-issued") {
		t.Fatalf("no resume line:\n%s", e.out.String())
	}
	if rec := e.store.last(); rec.Holder.PID != 2 {
		t.Fatalf("final record written by %v", rec.Holder)
	}
}

func TestStateIsStoredBeforeEveryCommand(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	var violations []string
	e.c.onCommand = func(op string) {
		rec := e.store.last()
		switch {
		case strings.HasPrefix(op, "stop "):
			node := strings.TrimPrefix(op, "stop ")
			if !slices.ContainsFunc(rec.State.Stopped, func(s plan.StoppedNode) bool { return s.Node == node }) {
				violations = append(violations, op+": stored state does not list the node as stopped")
			}
		case strings.HasPrefix(op, "remote_command ") && !strings.HasSuffix(op, " DEFAULT"):
			knob := strings.Fields(op)[1]
			if !slices.ContainsFunc(rec.State.Touched, func(k plan.KnobChange) bool { return k.Knob == knob }) {
				violations = append(violations, op+": stored state does not record the knob change")
			}
		}
	}
	if _, err := e.run(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if len(violations) > 0 {
		t.Fatal(strings.Join(violations, "\n"))
	}
}

func TestOperatorPauseResumeAbort(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	// No canary bake: the pause's node boundary is r2's first step.
	m := e.build(plan.Options{Mode: plan.ModeHA, SLO: plan.SLO{Off: true}}, "")
	from := Holder{Host: "ops", PID: 99}
	var sawPaused bool
	e.c.onCommand = func(op string) {
		switch op {
		case "start r1:34801":
			// Asked mid-node: the pause takes effect at r2's first step.
			if err := e.store.Request(context.Background(), Request{Op: RequestPause, Reason: "lunch", From: from}); err != nil {
				t.Error(err)
			}
		}
	}
	// Watch the stored state: once it is paused, resume, and abort at r2's
	// migrate.
	ctx := context.Background()
	done := make(chan struct{})
	var report plan.Report
	var err error
	go func() {
		defer close(done)
		report, err = e.run(ctx, m)
	}()
	deadline := time.After(10 * time.Second)
	for !sawPaused {
		select {
		case <-deadline:
			t.Fatal("never paused")
		case <-time.After(time.Millisecond):
		}
		if rec, lerr := e.store.Load(ctx); lerr == nil && rec.State.Status == plan.StatusPaused {
			sawPaused = true
			if n := rec.State.Current; rec.State.Plan.Steps[n].Node != "r2:34801" || !strings.Contains(rec.State.OperatorHold.Reason, "lunch") {
				t.Errorf("paused at step %d %+v", n, rec.State.Plan.Steps[n])
			}
		}
	}
	e.c.mu.Lock()
	e.c.onCommand = func(op string) {
		if op == "migrate_node r2:34801" {
			if err := e.store.Request(context.Background(), Request{Op: RequestAbort, Reason: "changed my mind", From: from}); err != nil {
				t.Error(err)
			}
		}
	}
	e.c.mu.Unlock()
	if err := e.store.Request(ctx, Request{Op: RequestResume, From: from}); err != nil {
		t.Fatal(err)
	}
	<-done
	if !errors.Is(err, ErrRollAborted) || report.Status != plan.StatusAborted {
		t.Fatalf("err %v status %s\n%s", err, report.Status, e.out.String())
	}
	if len(e.c.knobs) != 0 || e.c.level != "lively" {
		t.Fatalf("knobs %v level %s", e.c.knobs, e.c.level)
	}
	if got := e.restartsOf("r1:34801", "r2:34801", "r3:34801"); !slices.Equal(got, []int{1, 0, 0}) {
		t.Fatalf("restarts %v", got)
	}
	for _, want := range []string{"operator pause: lunch", "roll paused", "operator abort: changed my mind", "roll aborted"} {
		if !strings.Contains(e.out.String(), want) {
			t.Fatalf("progress lacks %q:\n%s", want, e.out.String())
		}
	}
}

func TestLostLockStopsTheRoll(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	e.c.onCommand = func(op string) {
		if op == "migrate_node r2:34801" {
			e.store.kill() // the lease expired under us
		}
	}
	_, err := e.run(context.Background(), m)
	if !errors.Is(err, ErrLockLost) {
		t.Fatalf("err = %v", err)
	}
	// Nothing ran after the lock was lost.
	if ops := e.c.ops; ops[len(ops)-1] != "migrate_node r2:34801" {
		t.Fatalf("ran after losing the lock: %q", ops[slices.Index(ops, "migrate_node r2:34801"):])
	}
}

func TestCommandErrorsBecomeOneBoundedLine(t *testing.T) {
	a := plan.Action{Kind: plan.ActStart, Step: 3, Attempt: 2}
	r := result(a, errors.New("process exited; last lines of log:\n==== starting\n  panic: boom\n"))
	if r.Step != 3 || r.Attempt != 2 || r.Err != "process exited; last lines of log: | ==== starting | panic: boom |" {
		t.Fatalf("result %+v", r)
	}
	r = result(a, errors.New(strings.Repeat("x", 5000)))
	if len(r.Err) != maxErrorText+3 {
		t.Fatalf("error of %d bytes kept", len(r.Err))
	}
	if r := result(a, nil); r.Err != "" {
		t.Fatalf("success %+v", r)
	}
}

// TestKnobsComeBackAsTheyWere: a knob the operator had overridden is put
// back to that override; a knob that had no override (the configuration
// file's value applied) ends with no override, not with the value it had
// written back as one, which would shadow the next configuration change.
func TestKnobsComeBackAsTheyWere(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	e.c.knobs[plan.KnobAddSecondaryMax] = "20"
	m := e.build(plan.Options{Mode: plan.ModeHA}, "")
	if _, err := e.run(context.Background(), m); err != nil {
		t.Fatalf("roll: %v\n%s", err, e.out.String())
	}
	want := map[string]string{plan.KnobAddSecondaryMax: "20"}
	if fmt.Sprint(e.c.knobs) != fmt.Sprint(want) {
		t.Fatalf("overrides after the roll %v, want %v; log %v", e.c.knobs, want, e.c.knobLog)
	}
}

// TestKnobOverridesCarryTheRollAndItsLease: every knob the roll sets is an
// override owned by the roll, with its lease, renewed while the roll runs;
// what it puts back carries no lease. An override left by an earlier roll
// is not taken for the value before: it ends deleted.
func TestKnobOverridesCarryTheRollAndItsLease(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	e.c.knobs[plan.KnobAssignDelay] = "3600000"
	e.c.owners[plan.KnobAssignDelay] = plan.OwnerPrefix + " roll-old"
	var sets []string
	e.c.onCommand = func(op string) {
		if strings.HasPrefix(op, "remote_command") || strings.HasPrefix(op, "set_meta_level") {
			e.c.mu.Lock()
			for _, k := range []string{plan.KnobAssignDelay, plan.KnobAddSecondaryMax} {
				if strings.Contains(op, k) {
					sets = append(sets, fmt.Sprintf("%s owner=%q lease=%v", op, e.c.owners[k], e.c.leases[k]))
				}
			}
			e.c.mu.Unlock()
		}
	}
	m := e.build(plan.Options{Mode: plan.ModeHA, RollID: "roll-7", KnobLease: 30 * time.Second}, "")
	if _, err := e.run(context.Background(), m); err != nil {
		t.Fatalf("roll: %v\n%s", err, e.out.String())
	}
	if len(e.c.knobs) != 0 {
		t.Fatalf("overrides left: %v", e.c.knobs)
	}
	renewals := 0
	for _, s := range sets {
		switch {
		case strings.HasSuffix(s, " DEFAULT owner=\"\" lease=0s"):
		case strings.HasSuffix(s, `owner="rolling-update roll-7" lease=30s`):
			if strings.Contains(s, "assign_delay_ms 3600000") {
				renewals++
			}
		default:
			t.Errorf("knob set without the roll's owner and lease: %s", s)
		}
	}
	// Set once, renewed every 10 s of the fake clock's waits.
	if renewals < 2 {
		t.Errorf("assign_delay_ms set %d times, never renewed:\n%s", renewals, strings.Join(sets, "\n"))
	}
}
