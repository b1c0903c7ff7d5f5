package rolling

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// TestE2EDrainWaitsForARepairElsewhere: while the roll drains a replica
// server, another one crashes (kill -9) and stays down past the drain's
// timeout. The meta server refuses to take the drained server out of the
// partitions the crashed one left short; the roll waits for the cluster
// to repair them, naming the partition, instead of failing, and succeeds
// once the crashed server is back. No acknowledged write is lost.
//
// It runs a roll of a minute with a crash, so it is one of the fault
// tests behind PEGASUS_ROLLING_FAULTS=1 (docs/rolling-update.md).
func TestE2EDrainWaitsForARepairElsewhere(t *testing.T) {
	if os.Getenv("PEGASUS_ROLLING_FAULTS") == "" {
		t.Skip("a fault test: set PEGASUS_ROLLING_FAULTS=1")
	}
	e := startE2E(t, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	replicas := e.ob.Replicas()
	first, other, crashed := replicas[0], replicas[1], replicas[3]
	store, closeStore := e.store(ctx)
	defer closeStore()

	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 4, 25*time.Millisecond)
	defer func() { stopLoad(); wg.Wait() }()

	var out bytes.Buffer
	roll := e.rollCmd(ctx, e.bin, "--mode", "ha", "--yes", "--no-slo",
		"--nodes", first.Address+","+other.Address, "--timeout", "downgrade-secondaries=10s")
	roll.Stdout, roll.Stderr = &out, &out
	if err := roll.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- roll.Wait() }()
	cli := func(args ...string) {
		t.Helper()
		if got, err := e.rollCmd(ctx, e.bin, args...).CombinedOutput(); err != nil {
			t.Fatalf("rolling-update %s: %v\n%s", strings.Join(args, " "), err, got)
		}
	}
	waitState := func(what string, ok func(Record) bool) Record {
		t.Helper()
		for {
			if rec, err := store.Load(ctx); err == nil && ok(rec) {
				return rec
			}
			if ctx.Err() != nil {
				t.Fatalf("never %s:\n%s", what, out.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A pause asked while the first server is stopped holds at the
	// second server's first step: nothing of it is touched yet.
	rec := waitState("stopped the first server", func(r Record) bool { return len(r.State.Stopped) > 0 })
	var drained []string // in the plan's order
	for _, step := range rec.State.Plan.Steps {
		if step.Kind == plan.KindDowngrade {
			drained = append(drained, step.Node)
		}
	}
	second := drained[1]
	cli("pause", "--reason", "crash another server")
	waitState("paused", func(r Record) bool { return r.State.Status == plan.StatusPaused })
	if err := e.ob.Kill(crashed.Name); err != nil {
		t.Fatal(err)
	}
	// Resume once the meta server knows: a drain before its failure
	// detector noticed would take a replica out beside a dead one.
	for dead := false; !dead; {
		c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
		v, err := c.View(ctx)
		c.Close()
		if err == nil {
			for _, n := range v.Nodes {
				dead = dead || (n.Node == crashed.Address && !n.Alive)
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("the meta server never saw %s dead", crashed.Address)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cli("resume")

	// The second server's downgrade waits for the repair, and goes on
	// waiting past its own 10 s timeout.
	blocked := waitState("blocked the downgrade on a repair", func(r Record) bool {
		i := r.State.Current
		if i >= len(r.State.Plan.Steps) {
			return false
		}
		step, st := r.State.Plan.Steps[i], r.State.Steps[i]
		return step.Kind == plan.KindDowngrade && step.Node == second && st.Blocked != "" &&
			time.Since(st.AttemptStarted) > step.Timeout+2*time.Second
	})
	t.Logf("blocked: %s", blocked.State.Steps[blocked.State.Current].Blocked)
	if blocked.State.Status != plan.StatusRunning {
		t.Fatalf("roll %s while the crashed server is down", blocked.State.Status)
	}
	if err := e.ob.StartNode(ctx, crashed.Name); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("roll: %v\n%s", err, out.String())
	}
	t.Logf("roll:\n%s", out.String())
	rec = waitState("ended", func(r Record) bool { return r.State.Status.Terminal() })
	if rec.State.Status != plan.StatusSucceeded {
		t.Fatalf("roll %s: %s", rec.State.Status, rec.State.Reason)
	}
	if !strings.Contains(out.String(), "waiting for the cluster to repair it") {
		t.Errorf("the output never said the drain waited for a repair")
	}
	stopLoad()
	wg.Wait()
	if l.lost.Load() != 0 {
		t.Fatalf("acknowledged writes lost: %s", l.summary())
	}
	l.verify(t, ctx)
	e.requireDefaultKnobs(ctx)
}
