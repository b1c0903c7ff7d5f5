package rolling

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

func (e *rollEnv) env(pid int) Env {
	return Env{Cluster: e.c, Control: e.c, Collector: fakeCollector{e.c}, Store: e.store,
		ClusterName: "fake", Holder: Holder{Host: "test", PID: pid}, Out: &e.out, Clock: e.clock}
}

func (e *rollEnv) plan(opts plan.Options) plan.Plan {
	e.t.Helper()
	snap, _, err := TakeSnapshot(context.Background(), e.c, fakeCollector{e.c}, e.c, "")
	if err != nil {
		e.t.Fatal(err)
	}
	p, err := plan.Build(snap, opts)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// interruptAt runs a new roll that dies right after op.
func (e *rollEnv) interruptAt(op string) {
	e.t.Helper()
	ctx, kill := context.WithCancel(context.Background())
	e.c.onCommand = func(o string) {
		if o == op {
			kill()
		}
	}
	_, err := Begin(ctx, e.env(1), RunSpec{Control: "fake"}, e.plan(plan.Options{Mode: plan.ModeHA}))
	e.c.onCommand = nil
	if !errors.Is(err, ErrInterrupted) {
		e.t.Fatalf("interrupted roll: %v", err)
	}
}

func TestBeginRefusesAnUnfinishedRollAndResumeFinishesIt(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	second := e.plan(plan.Options{Mode: plan.ModeHA})
	e.interruptAt("stop r2:34801")

	_, err := Begin(context.Background(), e.env(2), RunSpec{}, second)
	if !errors.Is(err, ErrUnfinishedRoll) || !strings.Contains(err.Error(), "stop replica-server r2:34801") {
		t.Fatalf("Begin over an unfinished roll: %v", err)
	}
	report, remote, err := Resume(context.Background(), e.env(3), time.Second)
	if err != nil || remote || report.Status != plan.StatusSucceeded {
		t.Fatalf("Resume = %s, %v, %v", report.Status, remote, err)
	}
	if got := e.restartsOf("r1:34801", "r2:34801", "r3:34801"); !slices.Equal(got, []int{1, 1, 1}) {
		t.Fatalf("restarts %v", got)
	}
	if _, _, err := Resume(context.Background(), e.env(4), time.Second); !errors.Is(err, ErrRollEnded) {
		t.Fatalf("Resume of an ended roll: %v", err)
	}
	// A finished roll does not block the next one.
	if _, err := Begin(context.Background(), e.env(5), RunSpec{}, e.plan(plan.Options{Mode: plan.ModeSimple})); err != nil {
		t.Fatal(err)
	}
}

func TestBeginRefusedWhileAnotherOrchestratorRuns(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	sess, err := e.store.Acquire(context.Background(), Holder{Host: "elsewhere", PID: 42})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Release(context.Background())
	_, err = Begin(context.Background(), e.env(2), RunSpec{}, e.plan(plan.Options{}))
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "pid 42 on elsewhere") {
		t.Fatalf("err = %v", err)
	}
	if len(e.c.ops) != 0 {
		t.Fatalf("ran %v", e.c.ops)
	}
	// Resume with a live holder only relays the request.
	_, remote, err := Resume(context.Background(), e.env(3), time.Second)
	if err != nil || !remote {
		t.Fatalf("Resume with a live holder = %v, %v", remote, err)
	}
	if r := <-sess.Requests(); r.Op != RequestResume || r.From.PID != 3 {
		t.Fatalf("request %+v", r)
	}
}

func TestAbortWithoutOrchestratorRunsTheCleanup(t *testing.T) {
	e := newRollEnv(t, 2, 3)
	e.interruptAt("stop r2:34801")
	if r := e.c.replica("r2:34801"); r.running {
		t.Fatal("r2 should be stopped")
	}
	report, remote, err := Abort(context.Background(), e.env(2), "maintenance cancelled", time.Second)
	if !errors.Is(err, ErrRollAborted) || remote || report.Status != plan.StatusAborted {
		t.Fatalf("Abort = %s, %v, %v", report.Status, remote, err)
	}
	if !e.c.replica("r2:34801").running {
		t.Fatal("cleanup did not start r2 again")
	}
	if len(e.c.knobs) != 0 || e.c.level != "lively" {
		t.Fatalf("knobs %v level %s", e.c.knobs, e.c.level)
	}
	if !strings.Contains(report.Reason, "maintenance cancelled") {
		t.Fatalf("reason %q", report.Reason)
	}
}
