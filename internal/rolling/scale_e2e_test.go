package rolling

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
)

// opCmd is `pegasus <op> args...` against this onebox, as rollCmd is for
// rolling-update: polling every 300 ms, short lock lease and resend.
func (e *e2e) opCmd(ctx context.Context, op string, args ...string) *exec.Cmd {
	all := append([]string{op}, args...)
	all = append(all, "--control", "onebox:"+e.dir, "--poll-interval", "300ms", "--lock-ttl", "3s")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		all = append(all, "--resend-interval", "3s", "--yes")
	}
	return exec.CommandContext(ctx, e.bin, all...)
}

// op runs `pegasus <op>` to its end and returns its output and report.
func (e *e2e) op(ctx context.Context, op string, args ...string) (string, plan.Report, error) {
	e.t.Helper()
	reportFile := filepath.Join(e.t.TempDir(), "report.json")
	args = append(args, "--json-report", reportFile)
	var out bytes.Buffer
	cmd := e.opCmd(ctx, op, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	e.t.Logf("%s %s: %v after %v\n%s", op, strings.Join(args, " "), err, time.Since(start).Round(time.Second), out.String())
	var report plan.Report
	if data, rerr := os.ReadFile(reportFile); rerr == nil {
		if jerr := json.Unmarshal(data, &report); jerr != nil {
			e.t.Fatalf("report: %v", jerr)
		}
	}
	return out.String(), report, err
}

// replicaCounts is `nodes -d`: each listed replica server's replicas and
// whether it is alive; and `ls -d`'s partition count over every table, all
// of which must be fully healthy.
func (e *e2e) replicaCounts(ctx context.Context) (map[string]plan.NodeStatus, int) {
	e.t.Helper()
	c := DialCluster(e.ob.MetaAddrs(), e.ob.Credentials())
	defer c.Close()
	v, err := c.View(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	out := make(map[string]plan.NodeStatus)
	for _, n := range v.Nodes {
		out[n.Node] = n
	}
	partitions := 0
	for _, tb := range v.Tables {
		if tb.FullyHealthy != tb.PartitionCount {
			e.t.Fatalf("table %s: %d of %d partitions fully healthy", tb.Name, tb.FullyHealthy, tb.PartitionCount)
		}
		partitions += tb.PartitionCount
	}
	return out, partitions
}

// TestE2EScaleOutAndIn is issue 18's scale-out and scale-in on a real
// onebox under a steady client load: two replica servers join a cluster
// of three (pegasus onebox add-replica) and pegasus balance spreads
// replicas and primaries onto them; then pegasus scale-in takes the same
// two out again, copying each of their replicas to the remaining three
// before it goes. No client operation fails, every acknowledged write
// reads back, and the cluster ends with three replica servers, all
// partitions fully healthy, the meta level as it was.
func TestE2EScaleOutAndIn(t *testing.T) {
	// About 90-110 s: with it the package's tests come near go test's
	// 10-minute limit on a busy 2-core machine, so it runs on request.
	if os.Getenv("PEGASUS_ROLLING_LONG") == "" {
		t.Skip("a long end-to-end test: set PEGASUS_ROLLING_LONG=1")
	}
	e := startE2E(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	l, closeLoad := newLoad(t, ctx, e.ob.MetaAddrs())
	defer closeLoad()
	loadCtx, stopLoad := context.WithCancel(ctx)
	wg := l.run(loadCtx, 8, 25*time.Millisecond)
	defer func() { stopLoad(); wg.Wait() }()
	time.Sleep(2 * time.Second) // some data before the cluster changes
	start := time.Now()

	// Scale out: 3 -> 5.
	var added []onebox.Process
	for range 2 {
		p, err := e.ob.AddReplica(ctx)
		if err != nil {
			t.Fatal(err)
		}
		added = append(added, p)
	}
	newNodes := addrsOf(added)
	out, report, err := e.op(ctx, "balance")
	outTime := time.Since(start)
	if err != nil || report.Status != plan.StatusSucceeded || report.Operation != plan.OpBalance {
		t.Fatalf("balance: %v, %s: %s", err, report.Status, report.Reason)
	}
	if !strings.Contains(out, "balance succeeded") || !strings.Contains(out, "balanced: primary stddev") {
		t.Errorf("balance output lacks its end")
	}
	counts, partitions := e.replicaCounts(ctx)
	if len(counts) != 5 {
		t.Fatalf("nodes -d after the scale-out: %v", counts)
	}
	for _, n := range newNodes {
		// 3 replicas of every partition over 5 servers, primaries too:
		// the new ones hold their share, within one of even.
		if c := counts[n]; !c.Alive || c.Primaries+c.Secondaries < 3*partitions/5-1 || c.Primaries < partitions/5-1 {
			t.Errorf("new replica server %s after balance: %+v (%d partitions)", n, c, partitions)
		}
	}
	t.Logf("after the scale-out (%v): %v; load so far: %s", outTime.Round(time.Second), counts, l.summary())

	// Scale in: 5 -> 3, the two new servers leave again.
	mid := time.Now()
	out, report, err = e.op(ctx, "scale-in", "--node", strings.Join(newNodes, ","), "--max-copies", "4")
	inTime := time.Since(mid)
	if err != nil || report.Status != plan.StatusSucceeded || report.Operation != plan.OpScaleIn {
		t.Fatalf("scale-in: %v, %s: %s", err, report.Status, report.Reason)
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	total := time.Since(start)
	t.Logf("load: %s; scale-out %v, scale-in %v, %v in all (%.0f ops/s)", l.summary(), outTime.Round(time.Second),
		inTime.Round(time.Second), total.Round(time.Second), float64(l.ops.Load())/total.Seconds())
	if l.failed.Load() != 0 || l.lost.Load() != 0 {
		t.Errorf("client operations failed or writes lost while scaling: %s", l.summary())
	}
	l.verify(t, ctx)

	for _, n := range report.Nodes {
		if n.Result != "done" || n.SecondariesCopied == 0 {
			t.Errorf("scale-in of %s: %+v", n.Node, n)
		}
	}
	if !strings.Contains(out, "scale-in succeeded") {
		t.Errorf("scale-in output lacks its end")
	}
	counts, partitions = e.replicaCounts(ctx)
	if len(counts) != 3 {
		t.Fatalf("nodes -d after the scale-in still lists %d servers: %v", len(counts), counts)
	}
	for n, c := range counts {
		// Three servers, three replicas: each holds every partition.
		if slices.Contains(newNodes, n) || !c.Alive || c.Primaries+c.Secondaries != partitions {
			t.Errorf("after the scale-in %s: %+v (%d partitions)", n, c, partitions)
		}
	}
	procs, err := e.ob.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if slices.Contains(newNodes, p.Address) && p.Alive {
			t.Errorf("%s still runs after the scale-in", p.Name)
		}
	}
	e.requireDefaultKnobs(ctx)
}
