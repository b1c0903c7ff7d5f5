package replica

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pegasus-go/pegasus/internal/config"
	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// dataDirEntries lists the names in a server's data_dir.
func dataDirEntries(t testing.TB, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func joinedID(dir string) string {
	data, err := os.ReadFile(filepath.Join(dir, clusterIDFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// writeKeys writes n keys through the client and returns the partition's
// store contents afterwards.
func writeKeys(t *testing.T, c *testCluster, n int) []string {
	t.Helper()
	table := openTable(t, c.meta.addr)
	for i := range n {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := table.Set(ctx, []byte{'k', byte('a' + i)}, []byte("s"), []byte("v"), 0)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	return storeContents(t, c.replica(0, 1, 0))
}

// TestForeignMetaDeletesNothing is issue 16's finding 4 on one server: a
// replica server pointed at a meta server of another cluster, which does
// not place the server's partition and lists it for removal, keeps its data
// (no removal, no .gar), gets no lease, counts and logs the refusals, and
// serves its own cluster again once pointed back. Before cluster ids the
// server deleted the replica on the first beacon answer.
func TestForeignMetaDeletesNothing(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{})
	c.meta.setClusterID("cluster-a")
	c.meta.createTable("test", 1, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(1, 0) })
	dir := c.servers[0].dir
	c.waitFor(10*time.Second, "joined cluster-a", func() bool { return joinedID(dir) == "cluster-a" })
	before := writeKeys(t, c, 5)

	foreign := newFakeMeta(t, 3000)
	foreign.setClusterID("cluster-b")
	foreign.createTable("test", 1, [][]string{{"127.0.0.1:1"}})
	foreign.setRemoves(&pb.Gpid{AppId: 1, PartitionIndex: 0})
	c.stop(0)
	c.servers[0].metaAddrs = []string{foreign.addr}
	c.start(0)
	srv := c.servers[0].srv
	refusals := srv.opts.Metrics.ClusterRefusals.WithLabelValues("beacon")
	c.waitFor(20*time.Second, "three refused beacons", func() bool { return value(refusals) >= 3 })
	if srv.leaseValid() {
		t.Fatal("a meta server of another cluster granted a lease")
	}
	if c.replica(0, 1, 0) == nil {
		t.Fatal("the replica was closed on a foreign meta server's word")
	}
	for _, n := range dataDirEntries(t, dir) {
		if strings.HasSuffix(n, garbageSuffix) {
			t.Fatalf("replica moved aside on a foreign meta server's word: %v", dataDirEntries(t, dir))
		}
	}
	if got := joinedID(dir); got != "cluster-a" {
		t.Fatalf("cluster_id is %q after a foreign meta server, want cluster-a", got)
	}

	// A push of the foreign meta server is refused too.
	cc, err := dial.Options{}.NewClient(c.addr(0))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := pb.NewReplicaAdminClient(cc).UpdateConfig(ctx, &pb.ConfigUpdateRequest{ClusterId: "cluster-b",
		Configs: []*pb.PartitionConfiguration{{Gpid: &pb.Gpid{AppId: 1}, Ballot: 99, Primary: "127.0.0.1:1", MaxReplicaCount: 1}}})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH {
		t.Fatalf("foreign push: %v %v", resp.GetError(), err)
	}
	// So is a push without an id, once the server has joined.
	resp, err = pb.NewReplicaAdminClient(cc).UpdateConfig(ctx, &pb.ConfigUpdateRequest{})
	if err != nil || resp.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH {
		t.Fatalf("push without a cluster id: %v %v", resp.GetError(), err)
	}
	// A peer stream of another cluster is refused when it opens.
	st, err := pb.NewReplicaPeerClient(cc).Replicate(rpc.WithClusterID(ctx, "cluster-b"))
	if err == nil {
		_, err = st.Recv()
	}
	if err == nil || !strings.Contains(err.Error(), "another cluster") {
		t.Fatalf("foreign peer stream: %v", err)
	}

	c.stop(0)
	c.servers[0].metaAddrs = nil
	c.start(0)
	c.waitFor(20*time.Second, "healthy again", func() bool { return c.healthy(1, 0) })
	if diff, ok := sameLines(storeContents(t, c.replica(0, 1, 0)), before); !ok {
		t.Fatalf("data changed across the foreign meta server: %s", diff)
	}
}

// TestLegacyDataDirJoinsOnlyAMetaThatKnowsIt: a data_dir from before
// cluster ids (served by a meta server without one) is adopted by a meta
// server with an id only if that meta server knows its tables. A meta
// server with an empty namespace is refused and nothing is deleted.
func TestLegacyDataDirJoinsOnlyAMetaThatKnowsIt(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{})
	c.meta.createTable("test", 1, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "healthy under a meta server without a cluster id", func() bool { return c.healthy(1, 0) })
	dir := c.servers[0].dir
	if id := joinedID(dir); id != "" {
		t.Fatalf("joined %q from a meta server without an id", id)
	}
	before := writeKeys(t, c, 3)

	// The meta server is upgraded, but points at an empty namespace.
	saved := c.meta.config(0)
	c.meta.dropTable()
	c.meta.setClusterID("cluster-new")
	c.meta.setRemoves(&pb.Gpid{AppId: 1, PartitionIndex: 0})
	srv := c.servers[0].srv
	refusals := srv.opts.Metrics.ClusterRefusals.WithLabelValues("beacon")
	c.waitFor(20*time.Second, "refused joins", func() bool { return value(refusals) >= 2 })
	if id := joinedID(dir); id != "" {
		t.Fatalf("joined %q, a meta server that does not know the data", id)
	}
	if c.replica(0, 1, 0) == nil {
		t.Fatal("replica closed by a meta server that does not know it")
	}

	// The right namespace: the server joins, and serves.
	c.meta.setRemoves()
	c.meta.createTable("test", 1, [][]string{{c.addr(0)}})
	c.meta.change(0, "restore ballot", func(p *pb.PartitionConfiguration) { p.Ballot = saved.Ballot })
	c.waitFor(20*time.Second, "joined cluster-new", func() bool { return joinedID(dir) == "cluster-new" })
	c.waitFor(20*time.Second, "healthy", func() bool { return c.healthy(1, 0) })
	if diff, ok := sameLines(storeContents(t, c.replica(0, 1, 0)), before); !ok {
		t.Fatalf("data changed: %s", diff)
	}
}

// TestDisownedReplicaGoesToGarbage: a replica the meta server removes is
// moved to a <gpid>.<ts>.gar directory (listed in /status and counted),
// deleted only after gc_disk_garbage_replica_interval_seconds, and a later
// configuration naming the partition again gets a fresh empty replica.
func TestDisownedReplicaGoesToGarbage(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{config: func(cfg *config.Replica) {
		cfg.GCDiskGarbageReplicaIntervalSeconds = 3
		cfg.DiskStatIntervalSeconds = 1
	}})
	c.meta.setClusterID("cluster-a")
	c.meta.createTable("test", 1, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "healthy", func() bool { return c.healthy(1, 0) })
	writeKeys(t, c, 3)
	dir := c.servers[0].dir
	srv := c.servers[0].srv

	c.meta.dropTable()
	c.meta.setRemoves(&pb.Gpid{AppId: 1, PartitionIndex: 0})
	m := srv.opts.Metrics
	c.waitFor(20*time.Second, "replica moved aside", func() bool { return value(m.GarbageMoved) == 1 })
	var gar string
	c.waitFor(time.Second, "a .gar directory", func() bool {
		for _, n := range dataDirEntries(t, dir) {
			if strings.HasSuffix(n, garbageSuffix) {
				gar = n
			}
		}
		return gar != ""
	})
	if !strings.HasPrefix(gar, "1.0.") {
		t.Fatalf(".gar directory %q is not named after its gpid", gar)
	}
	if _, err := os.Stat(filepath.Join(dir, "1.0")); !os.IsNotExist(err) {
		t.Fatalf("replica directory still there: %v", err)
	}
	if value(m.GarbageMoved) != 1 || value(m.GarbageMovedBytes) <= 0 || value(m.GarbageReplicas) != 1 {
		t.Fatalf("garbage metrics: moved %v bytes %v current %v", value(m.GarbageMoved),
			value(m.GarbageMovedBytes), value(m.GarbageReplicas))
	}
	var page statusPage
	httpGetJSON(t, "http://"+srv.httpAddr+"/status", &page)
	if len(page.Garbage) != 1 || page.Garbage[0].Name != gar || page.Garbage[0].Bytes <= 0 || page.ClusterID != "cluster-a" {
		t.Fatalf("/status: cluster %q garbage %+v", page.ClusterID, page.Garbage)
	}

	// Named again: a fresh, empty replica, the .gar copy left alone.
	c.meta.setRemoves()
	c.meta.createTable("test", 1, [][]string{{c.addr(0)}})
	c.waitFor(10*time.Second, "fresh replica", func() bool { return c.healthy(1, 0) })
	if got := storeContents(t, c.replica(0, 1, 0)); len(got) != 0 {
		t.Fatalf("the partition named again was revived from garbage: %v", got)
	}

	c.waitFor(20*time.Second, "garbage collected after the retention", func() bool {
		return value(m.GarbageCollected) == 1 && value(m.GarbageReplicas) == 0
	})
	if _, err := os.Stat(filepath.Join(dir, gar)); !os.IsNotExist(err) {
		t.Fatalf("%s counted as collected but still there: %v", gar, err)
	}
	if moved := time.Since(page.Garbage[0].MovedAt); moved < 3*time.Second {
		t.Fatalf("garbage deleted %v after it was moved, before the 3 s retention", moved)
	}
	if value(m.GarbageCollected) != 1 || value(m.GarbageReplicas) != 0 {
		t.Fatalf("collected %v, current %v", value(m.GarbageCollected), value(m.GarbageReplicas))
	}
}

// TestGarbageSurvivesRestart: a .gar directory is kept across a restart
// until its retention passes (it used to be deleted at start).
func TestGarbageSurvivesRestart(t *testing.T) {
	c := newTestCluster(t, 1, clusterOptions{})
	dir := c.servers[0].dir
	name := garbageName(gpid{app: 7, index: 1}, time.Now())
	if err := os.MkdirAll(filepath.Join(dir, name, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name, "data", "f"), []byte("12345"), 0o644); err != nil {
		t.Fatal(err)
	}
	c.stop(0)
	c.start(0)
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Fatalf("garbage within its retention deleted at start: %v", err)
	}
	if l := c.servers[0].srv.garbageList(); len(l) != 1 || l[0].Gpid != "7.1" || l[0].Bytes != 5 {
		t.Fatalf("garbage list %+v", l)
	}
}

func httpGetJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// value reads one counter or gauge.
func value(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		return -1
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}
