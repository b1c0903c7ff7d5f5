package etcdcluster

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pegasus-go/pegasus/internal/bench"
	"github.com/pegasus-go/pegasus/internal/bench/etcdtarget"
	"github.com/pegasus-go/pegasus/internal/bench/scenario"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
)

func TestMain(m *testing.M) { oneboxtest.Main(m) }

func startCluster(t *testing.T) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts three etcd processes; skipped with -short")
	}
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, "etcd")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: t.TempDir(), Binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return c
}

func TestMembersStopStartKill(t *testing.T) {
	c := startCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if got := c.Nodes(scenario.RoleEtcd); !slices.Equal(got, []string{"etcd1", "etcd2", "etcd3"}) {
		t.Fatalf("members %v", got)
	}
	if got := c.Nodes(scenario.RoleReplica); got != nil {
		t.Errorf("replica servers of an etcd cluster: %v", got)
	}
	leader, err := c.Leader(ctx, scenario.RoleEtcd)
	if err != nil {
		t.Fatal(err)
	}

	// A stopped member makes the cluster unhealthy until it is back.
	if err := c.Stop(ctx, leader); err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	err = c.WaitHealthy(short)
	cancelShort()
	if !errors.Is(err, ErrNotHealthy) {
		t.Errorf("with %s stopped: WaitHealthy err %v, want ErrNotHealthy", leader, err)
	}
	if err := c.Start(ctx, leader); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	// A killed member comes back with its data.
	if err := c.Kill(ctx, "etcd2"); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, "etcd2"); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "etcd9"); !errors.Is(err, ErrUnknownMember) {
		t.Errorf("unknown member: err %v", err)
	}
}

// TestEtcdRollingUnderLoad runs the etcd-rolling scenario at a small size:
// every member restarted under load, nothing lost, linearizable.
func TestEtcdRollingUnderLoad(t *testing.T) {
	c := startCluster(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.Endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	s, err := scenario.Lookup("etcd-rolling")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := scenario.Run(ctx, s, c, etcdtarget.New(cli), scenario.Options{
		Load: bench.Config{
			Workload: bench.Workload{KeyCount: 500, ReadRatio: 0.5, ValueSize: 100, Seed: 9},
			Workers:  16,
			Rate:     200,
			Duration: 5 * time.Second,
		},
		Baseline: 2 * time.Second,
		Tail:     time.Second,
		Progress: io.Discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Passed() || rep.Linearizability != bench.VerdictOK {
		t.Errorf("problems %v, linearizability %s", rep.Problems, rep.Linearizability)
	}
	var restarts int
	for _, e := range rep.Load.Events {
		if strings.HasPrefix(e.Label, "start ") {
			restarts++
		}
	}
	if restarts != 3 || rep.Event == nil || !rep.Event.Healthy {
		t.Errorf("events %+v: want each of the 3 members restarted and the cluster healthy", rep.Load.Events)
	}
}
