package oneboxcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/bench/pegasustarget"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// requireNetNS skips t unless PEGASUS_NETNS_TEST=1 is set, the test runs
// as root and `ip netns` works: the test creates namespaces, veths and a
// bridge on the host.
func requireNetNS(t *testing.T) {
	t.Helper()
	if os.Getenv("PEGASUS_NETNS_TEST") != "1" {
		t.Skip("creates network namespaces on the host; set PEGASUS_NETNS_TEST=1 to run it (as root, with iproute2)")
	}
	if testing.Short() {
		t.Skip("starts a onebox of real processes; skipped with -short")
	}
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if out, err := exec.Command("ip", "netns", "list").CombinedOutput(); err != nil {
		t.Skipf("ip netns does not work here: %v %s", err, out)
	}
}

// TestNetNSPartitionPrimary cuts the replica server holding the most
// primaries off a netns onebox while it keeps running: it must notice its
// lease expire before the meta server's grace ends, every partition must
// get a primary on another node, and once healed the node must rejoin as
// a secondary. Stopping the onebox leaves no namespace, veth or bridge.
func TestNetNSPartitionPrimary(t *testing.T) {
	requireNetNS(t)
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, "etcd", "meta", "replica")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	dir := t.TempDir()
	progress := &logBuffer{}
	l, err := Launch(ctx, Setup{
		Dir:      dir,
		Binary:   bin,
		Metas:    1,
		Replicas: 3,
		Table:    pegasustarget.TableSpec{Name: "netns_e2e", PartitionCount: 8},
		Network:  onebox.NetworkNetNS,
		Tuning:   onebox.Tuning{Meta: oneboxtest.FastMeta, Replica: oneboxtest.FastReplica},
		Progress: progress,
	})
	if err != nil {
		t.Fatalf("launch: %v\n%s", err, progress.String())
	}
	closed := false
	defer func() {
		if !closed {
			l.Close()
		}
	}()
	defer func() {
		if t.Failed() {
			t.Logf("progress:\n%s", progress.String())
			testcluster.LogTails(t, dir, l.Onebox)
		}
	}()
	c := l.Cluster
	if _, err := c.CutMethod(); err != nil {
		t.Fatalf("a netns onebox cannot cut: %v", err)
	}
	tag := tagOf(t, l.Onebox)

	victim, n, err := c.Primary(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victimProc := processNamed(t, l.Onebox, victim)
	t.Logf("cutting %s (%s), primary of %d partitions", victim, victimProc.Address, n)

	if err := c.Cut(ctx, victim); err != nil {
		t.Fatal(err)
	}
	cutAt := time.Now()
	healed := false
	defer func() {
		if !healed {
			c.Heal(context.Background(), victim)
		}
	}()

	// Within grace + a few seconds the cut-off node notices its lease
	// expire, and every partition has a primary elsewhere.
	logPath := filepath.Join(dir, victimProc.LogFile)
	var leaseAt, failoverAt time.Duration
	bound := oneboxtest.FastGrace + 10*time.Second
	err = poll(ctx, bound, func(ctx context.Context) error {
		if leaseAt == 0 {
			if data, _ := os.ReadFile(logPath); strings.Contains(string(data), "lease expired") {
				leaseAt = time.Since(cutAt)
			}
		}
		if failoverAt == 0 {
			if err := everyPrimaryElsewhere(ctx, c, victimProc.Address); err != nil {
				return err
			}
			failoverAt = time.Since(cutAt)
		}
		if leaseAt == 0 {
			return fmt.Errorf("%s has not logged its lease expiry", victim)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("within %s of the cut: %v", bound, err)
	}
	t.Logf("%s noticed its lease expire %.1fs after the cut; every partition had a primary elsewhere after %.1fs",
		victim, leaseAt.Seconds(), failoverAt.Seconds())
	if leaseAt > failoverAt {
		t.Errorf("the cut-off primary noticed its lease expire (%.1fs) only after the failover (%.1fs)", leaseAt.Seconds(), failoverAt.Seconds())
	}
	if st := processNamed(t, l.Onebox, victim); !st.Alive || st.PID != victimProc.PID {
		t.Fatalf("%s did not keep running through the cut: %+v", victim, st)
	}

	// The new primaries serve writes while the old one is cut off.
	err = poll(ctx, 30*time.Second, func(ctx context.Context) error {
		return l.Connection.Target.Set(ctx, []byte("netns-key"), []byte("written during the cut"))
	})
	if err != nil {
		t.Fatalf("write during the cut: %v", err)
	}

	if err := c.Heal(ctx, victim); err != nil {
		t.Fatal(err)
	}
	healed = true
	err = poll(ctx, 60*time.Second, func(ctx context.Context) error {
		return rejoinedAsSecondary(ctx, c, victimProc.Address)
	})
	if err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	hctx, hcancel := context.WithTimeout(ctx, 60*time.Second)
	defer hcancel()
	if err := c.WaitHealthy(hctx); err != nil {
		t.Fatalf("after the heal: %v", err)
	}
	v, found, err := l.Connection.Target.Get(ctx, []byte("netns-key"))
	if err != nil || !found || string(v) != "written during the cut" {
		t.Errorf("read back after the heal: %q %v %v", v, found, err)
	}

	// Each replica server runs as itself (ip exec'd it) in its own
	// namespace, so the supervisor's signals reach it: a kill and a
	// restart work as on loopback.
	for _, p := range l.Onebox.Replicas() {
		st := processNamed(t, l.Onebox, p.Name)
		out, err := exec.Command("ip", "netns", "identify", fmt.Sprint(st.PID)).Output()
		if err != nil || strings.TrimSpace(string(out)) != p.Netns {
			t.Errorf("%s (pid %d) is in namespace %q (%v), want %s", p.Name, st.PID, strings.TrimSpace(string(out)), err, p.Netns)
		}
		if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", st.PID)); err != nil || exe != bin {
			t.Errorf("%s (pid %d) runs %q (%v), want %s", p.Name, st.PID, exe, err, bin)
		}
	}
	if err := c.Kill(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, victim); err != nil {
		t.Fatalf("restarting %s after a kill: %v", victim, err)
	}

	closed = true
	if err := l.Close(); err != nil {
		t.Errorf("closing the onebox: %v", err)
	}
	if left := leftovers(t, tag); len(left) > 0 {
		t.Errorf("left behind after stop: %s", strings.Join(left, ", "))
	}
}

// everyPrimaryElsewhere: every partition of the table has a primary, none
// of them at addr.
func everyPrimaryElsewhere(ctx context.Context, c *Cluster, addr string) error {
	parts, err := partitions(ctx, c)
	if err != nil {
		return err
	}
	for _, pc := range parts {
		if p := pc.GetPrimary(); p == "" || p == addr {
			return fmt.Errorf("partition %d primary %q", pc.GetGpid().GetPartitionIndex(), p)
		}
	}
	return nil
}

// rejoinedAsSecondary: addr is a secondary of some partition and primary
// of none.
func rejoinedAsSecondary(ctx context.Context, c *Cluster, addr string) error {
	parts, err := partitions(ctx, c)
	if err != nil {
		return err
	}
	secondary := false
	for _, pc := range parts {
		if pc.GetPrimary() == addr {
			return fmt.Errorf("%s is primary of partition %d again", addr, pc.GetGpid().GetPartitionIndex())
		}
		secondary = secondary || slices.Contains(pc.GetSecondaries(), addr)
	}
	if !secondary {
		return fmt.Errorf("%s is a secondary of no partition yet", addr)
	}
	return nil
}

func partitions(ctx context.Context, c *Cluster) ([]*pb.PartitionConfiguration, error) {
	resp, err := dial.CallMeta(ctx, c.conns, func(ctx context.Context, m pb.MetaClient) (*pb.QueryConfigResponse, error) {
		return m.QueryConfig(ctx, &pb.QueryConfigRequest{Table: c.table})
	})
	if err != nil {
		return nil, err
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return nil, fmt.Errorf("query config: %s %s", code, resp.GetError().GetMessage())
	}
	return resp.GetPartitions(), nil
}

// poll runs check every 200 ms until it passes or bound passes.
func poll(ctx context.Context, bound time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	for {
		cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
		err := check(cctx)
		ccancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func processNamed(t *testing.T, ob *onebox.Cluster, name string) onebox.ProcessStatus {
	t.Helper()
	procs, err := ob.Status()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if p.Name == name {
			return p
		}
	}
	t.Fatalf("no process %s", name)
	return onebox.ProcessStatus{}
}

// tagOf returns the directory hash every namespace and interface name of
// the onebox carries, read from its first replica server's namespace.
func tagOf(t *testing.T, ob *onebox.Cluster) string {
	t.Helper()
	p := processNamed(t, ob, "replica1")
	if !strings.HasPrefix(p.Netns, "pegasus-") || p.HostVeth == "" {
		t.Fatalf("replica1 is not in a namespace: %+v", p.Process)
	}
	return strings.TrimSuffix(strings.TrimPrefix(p.Netns, "pegasus-"), "-replica1")
}

// leftovers lists the namespaces and interfaces carrying tag.
func leftovers(t *testing.T, tag string) []string {
	t.Helper()
	var left []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("ip %s: %v %s", strings.Join(args, " "), err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, tag) {
				left = append(left, strings.Join(strings.Fields(line)[:2], " "))
			}
		}
	}
	return left
}
