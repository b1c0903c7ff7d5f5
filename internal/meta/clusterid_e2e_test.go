package meta_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/client"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/metrics/metricstest"
	"github.com/pegasus-go/pegasus/internal/onebox"
	"github.com/pegasus-go/pegasus/internal/onebox/oneboxtest"
	"github.com/pegasus-go/pegasus/internal/onebox/testcluster"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// TestE2EReplicaPointedAtAnotherCluster is the security review's finding:
// two oneboxes, both named "onebox", each with its own etcd; replica3 of
// the first is restarted with the second's meta server in meta_servers.
// Before cluster ids it deleted all its partitions within seconds. Now
// the second meta server refuses its beacons and it refuses the second
// meta server: it keeps every replica (none moved aside), records no
// other cluster, and once pointed back it serves its own cluster again
// with every write readable.
func TestE2EReplicaPointedAtAnotherCluster(t *testing.T) {
	tuning := onebox.Tuning{Meta: oneboxtest.FastMeta, Replica: oneboxtest.FastReplica}
	a := testcluster.Start(t, onebox.Options{Metas: 1, Replicas: 3, Tuning: tuning})
	b := testcluster.Start(t, onebox.Options{Metas: 1, Replicas: 1, Tuning: tuning})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	connsA := dial.New(a.MetaAddrs(), dial.Options{Credentials: a.Credentials()})
	defer connsA.Close()
	connsB := dial.New(b.MetaAddrs(), dial.Options{Credentials: b.Credentials()})
	defer connsB.Close()
	idA, idB := clusterIDOf(ctx, t, connsA), clusterIDOf(ctx, t, connsB)
	if idA == "" || idA == idB {
		t.Fatalf("cluster ids %q and %q", idA, idB)
	}

	created, err := dial.CallMeta(ctx, connsA, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{Name: "foreign", PartitionCount: 8, ReplicaCount: 3})
	})
	if err != nil || created.GetError().GetCode() != pb.ErrorCode_ERR_OK {
		t.Fatalf("create table: %v %v", created.GetError(), err)
	}
	if err := a.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	cl, err := client.New(ctx, client.Config{MetaServers: a.MetaAddrs()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	table, err := cl.Open(ctx, "foreign")
	if err != nil {
		t.Fatal(err)
	}
	const keys = 64
	for i := range keys {
		k := fmt.Sprintf("k%03d", i)
		if err := table.Set(ctx, []byte(k), []byte("s"), []byte("v"+k), 0); err != nil {
			t.Fatal(err)
		}
	}

	r3 := a.Replicas()[2]
	before := replicaStatus(ctx, t, connsA, r3.Address)
	if before.GetClusterId() != idA || before.GetTotalReplicas() == 0 {
		t.Fatalf("%s before: cluster %q, %d replicas", r3.Name, before.GetClusterId(), before.GetTotalReplicas())
	}
	cfgPath := filepath.Join(a.Dir(), r3.ConfigFile)
	original, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	pointed := strings.ReplaceAll(string(original), a.MetaAddrs()[0], b.MetaAddrs()[0])
	if pointed == string(original) {
		t.Fatalf("meta address %s not in %s", a.MetaAddrs()[0], cfgPath)
	}
	if err := a.Stop(r3.Name); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, []byte(pointed), 0o644); err != nil {
		t.Fatal(err)
	}
	// StartNode waits for the first cluster's meta server to list the
	// node alive, which it never will; the process runs on regardless.
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	_ = a.StartNode(sctx, r3.Name)
	scancel()

	// Several beacon rounds at the fast failure detector's pace.
	deadline := time.Now().Add(time.Minute)
	for {
		refused := metricstest.Sample(metricstest.Scrape(t, "http://"+r3.HTTPAddress+"/metrics"),
			"pegasus_replica_foreign_cluster_refusals_total", "kind", "beacon")
		if refused >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s refused %v beacons of the other cluster in a minute", r3.Name, refused)
		}
		time.Sleep(200 * time.Millisecond)
	}
	during := replicaStatus(ctx, t, connsA, r3.Address)
	if during.GetClusterId() != idA || during.GetTotalReplicas() != before.GetTotalReplicas() || during.GetLeaseValid() {
		t.Fatalf("%s pointed at the other cluster: cluster %q, %d of %d replicas, lease %v", r3.Name,
			during.GetClusterId(), during.GetTotalReplicas(), before.GetTotalReplicas(), during.GetLeaseValid())
	}
	ents, err := os.ReadDir(filepath.Join(a.Dir(), r3.Dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".gar") {
			t.Fatalf("%s moved %s aside on the other cluster's word", r3.Name, e.Name())
		}
	}
	nodesB, err := dial.CallMeta(ctx, connsB, func(ctx context.Context, m pb.MetaClient) (*pb.ListNodesResponse, error) {
		return m.ListNodes(ctx, &pb.ListNodesRequest{})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodesB.GetNodes() {
		if n.GetAddress() == r3.Address {
			t.Fatalf("the other cluster's meta server recorded %s", r3.Address)
		}
	}

	if err := a.Stop(r3.Name); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgPath, original, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := a.StartNode(ctx, r3.Name); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		k := fmt.Sprintf("k%03d", i)
		v, found, err := table.Get(ctx, []byte(k), []byte("s"))
		if err != nil || !found || string(v) != "v"+k {
			t.Fatalf("get %s: %q %v %v", k, v, found, err)
		}
	}
}

func clusterIDOf(ctx context.Context, t *testing.T, conns *dial.Conns) string {
	t.Helper()
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ClusterInfoResponse, error) {
		return m.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetClusterId()
}

func replicaStatus(ctx context.Context, t *testing.T, conns *dial.Conns, addr string) *pb.ReplicaServerStatusResponse {
	t.Helper()
	resp, err := dial.CallServer(ctx, conns, addr, (*dial.Conns).ReplicaAdmin,
		func(ctx context.Context, r pb.ReplicaAdminClient) (*pb.ReplicaServerStatusResponse, error) {
			return r.Status(ctx, &pb.ReplicaServerStatusRequest{})
		})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
