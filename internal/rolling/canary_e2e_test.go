package rolling

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// buildFaulty builds pegasus with the faultinject tag and returns a
// wrapper that runs it with env set: a "new binary" that is bad the way a
// regression is (slow), for the SLO gate to catch.
func buildFaulty(t *testing.T, env string) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "pegasus-faultinject")
	cmd := exec.Command("go", "build", "-tags", "faultinject", "-o", bin, "./cmd/pegasus")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(gomod)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the faultinject binary: %v\n%s", err, out)
	}
	wrapper := filepath.Join(dir, "pegasus-slow")
	script := fmt.Sprintf("#!/bin/sh\n%s exec %s \"$@\"\n", env, bin)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper
}

// TestE2EBadCanaryIsRolledBack: under load, an upgrade to a binary whose
// replica servers answer their peers 100 ms late (every write through a
// secondary on the canary waits for it). The SLO gate, baselined before
// the roll, halts during the canary's bake; with --auto-rollback the roll
// takes the canary back to the old binary and ends rolled back: every
// node runs the old binary, nothing else was touched, no acknowledged
// write is lost, primaries and knobs are as before.
func TestE2EBadCanaryIsRolledBack(t *testing.T) {
	e := startE2E(t, 4)
	if e.collectorURL == "" {
		t.Skip("the binary has no collector role: no SLO gate")
	}
	slow := buildFaulty(t, "PEGASUS_FAULT_PEER_DELAY=100ms")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	before := e.pids()
	primariesBefore := e.primaryCounts(ctx)

	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 8, 25*time.Millisecond)
	time.Sleep(2 * time.Second) // traffic for the baseline
	out, report, err := e.roll(ctx, "--mode", "ha", "--binary", slow, "--auto-rollback",
		"--baseline-window", "10s", "--slo-sustain", "5s", "--canary-bake", "2m")
	stopLoad()
	wg.Wait()
	t.Logf("load during the roll: %s", l.summary())
	var exit *exec.ExitError
	if !errors.As(err, &exit) || report.Status != plan.StatusRolledBack {
		t.Fatalf("roll: %v, status %s (%s); want rolled back\n%s", err, report.Status, report.Reason, out)
	}
	if !strings.Contains(report.Reason, "SLO breached") {
		t.Errorf("reason %q does not name the SLO breach", report.Reason)
	}
	// Every node runs the old binary again; only the canary was restarted
	// (forward and back).
	procs, err := e.ob.Status()
	if err != nil {
		t.Fatal(err)
	}
	canary := report.Nodes[0].Node
	after := e.pids()
	for _, p := range procs {
		if p.Binary != e.bin {
			t.Errorf("%s runs %s after the rollback", p.Name, p.Binary)
		}
		if p.Role == onebox.RoleReplica && p.Address != canary && after[p.Name] != before[p.Name] {
			t.Errorf("%s was restarted, only the canary %s should have been", p.Name, canary)
		}
	}
	if report.Nodes[0].Result != "rolled back" {
		t.Errorf("canary's result %q", report.Nodes[0].Result)
	}
	if l.lost.Load() != 0 {
		t.Fatalf("acknowledged writes lost: %s", l.summary())
	}
	l.verify(t, ctx)
	e.requireDefaultKnobs(ctx)
	if got := e.primaryCounts(ctx); fmt.Sprint(got) != fmt.Sprint(primariesBefore) {
		t.Errorf("primaries per node after the rollback %v, before %v", got, primariesBefore)
	}
}
