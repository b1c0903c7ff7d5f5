package onebox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// The whole cluster: start, kill and restart a replica server, wait for a
// table to be healthy again, stop everything. It runs once the binary has
// the meta and replica roles.
func TestClusterEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a whole cluster")
	}
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, "meta", "replica")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	dir := t.TempDir()
	c, err := Start(ctx, Options{
		Dir: dir, Binary: bin, Metas: 2, Replicas: 3,
		Tuning: Tuning{
			Meta:    oneboxtest.FastMeta,
			Replica: func(r *config.Replica) { oneboxtest.FastReplica(r); r.LogSync = false },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.StopAll(); c.Close() })

	data, err := os.ReadFile(filepath.Join(dir, metaServersFile))
	if err != nil || strings.TrimSpace(string(data)) != strings.Join(c.MetaAddrs(), ",") {
		t.Fatalf("meta_servers = %q (%v), want %q", data, err, strings.Join(c.MetaAddrs(), ","))
	}
	if len(c.Replicas()) != 3 {
		t.Fatalf("replicas %v", c.Replicas())
	}

	conns := dial.New(c.MetaAddrs(), dial.Options{Credentials: c.Credentials()})
	defer conns.Close()
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: "onebox_e2e", PartitionCount: 4, ReplicaCount: 3})
	})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", resp.GetError(), err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	checkAdminNeedsCredential(ctx, t, c, "onebox_e2e")
	checkPrivateFiles(t, filepath.Join(dir, c.Replicas()[0].Dir))
	checkPrivateFiles(t, filepath.Join(dir, c.metaProcesses()[0].Dir))

	victim := c.Replicas()[1]
	if err := c.Kill(victim.Name); err != nil {
		t.Fatal(err)
	}
	if statusByName(t, c)[victim.Name].Alive {
		t.Fatalf("%s alive after Kill", victim.Name)
	}
	if err := c.Restart(ctx, victim.Address); err != nil {
		t.Fatal(err)
	}
	if err := c.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}

	procs, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StopAll(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if !gone(p.PID) {
			t.Errorf("%s (pid %d) left after StopAll", p.Name, p.PID)
		}
	}
}

// etcd and meta servers only: the meta servers read the configuration the
// onebox writes, elect a leader, and one restarted meta server serves
// again. It runs once the binary has the meta role.
func TestMetaServersOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("starts meta servers")
	}
	bin := oneboxtest.Binary(t)
	oneboxtest.RequireRoles(t, bin, "meta")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	dir := t.TempDir()
	st, err := newState(dir, layout{clusterName: "metas", metas: 2, binary: bin})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	c, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.StopAll(); c.Close() })

	conns := dial.New(c.MetaAddrs(), dial.Options{Credentials: c.Credentials()})
	defer conns.Close()
	info, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil || info.GetClusterName() != "metas" {
		t.Fatalf("cluster_info: %v %v", info, err)
	}
	leader := info.GetLeader()
	if err := c.Restart(ctx, leader); err != nil {
		t.Fatal(err)
	}
	var again string
	if err := waitFor(ctx, "a meta leader after restart", metaLeaderReady(c.conns, c.MetaAddrs(), &again), nil); err != nil {
		t.Fatal(err)
	}

	procs, err := c.Status()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.StopAll(); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if !p.Alive || !gone(p.PID) {
			t.Errorf("%s (pid %d, alive %v before StopAll) left after StopAll", p.Name, p.PID, p.Alive)
		}
	}
}
