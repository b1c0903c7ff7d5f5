package meta

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
	"github.com/pegasus-go/pegasus/internal/version"
)

// TestClusterIDFixedAtBootstrap: the first meta server of a cluster writes
// a UUID to etcd; every later meta server of the cluster (and the same one
// restarted) reads the same id; another namespace gets another id. The id
// is in ClusterInfo, the HTTP API and /metrics.
func TestClusterIDFixedAtBootstrap(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m1 := startMeta(t, endpoints, cluster, f)
	if _, err := uuid.Parse(m1.clusterID()); err != nil {
		t.Fatalf("cluster id %q: %v", m1.clusterID(), err)
	}
	m2 := startMeta(t, endpoints, cluster, f)
	if m2.clusterID() != m1.clusterID() {
		t.Fatalf("second meta server of the cluster has id %s, first %s", m2.clusterID(), m1.clusterID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m1.Stop(ctx)
	m3 := startMeta(t, endpoints, cluster, f)
	if m3.clusterID() != m2.clusterID() {
		t.Fatalf("restarted meta server has id %s, want %s", m3.clusterID(), m2.clusterID())
	}
	other := startMeta(t, endpoints, clusterName(t)+"-other", f)
	if other.clusterID() == m2.clusterID() {
		t.Fatal("two namespaces share one cluster id")
	}

	info, err := f.client(m2.Addr()).ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	if err != nil || info.GetClusterId() != m2.clusterID() {
		t.Fatalf("ClusterInfo: %q %v", info.GetClusterId(), err)
	}
	leader, _ := leaderAmong(t, m2, m3)
	var page clusterJSON
	getJSON(t, "http://"+leader.httpAddr+"/api/cluster", &page)
	if page.ClusterID != m2.clusterID() {
		t.Fatalf("/api/cluster cluster_id %q, want %s", page.ClusterID, m2.clusterID())
	}
	if v := metricValue(t, leader.metrics.ClusterInfo.WithLabelValues(m2.clusterID(), cluster)); v != 1 {
		t.Fatalf("pegasus_meta_cluster_info = %v", v)
	}
}

// TestForeignBeaconsAndProposalsRefused: the meta server refuses a beacon
// and a proposal carrying another cluster's id without recording the
// node, and refuses a beacon without an id from a node that holds replicas
// of tables this cluster never had, listing them. A node that joined no
// cluster and holds nothing unknown is answered with the id to join.
func TestForeignBeaconsAndProposalsRefused(t *testing.T) {
	endpoints, cluster := testEtcd(t), clusterName(t)
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m := startMeta(t, endpoints, cluster, f)
	leaderAmong(t, m)
	cl := f.client(m.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	started := time.Now().UnixMilli() // one process per node: a new start time is a restart
	beacon := func(node, id string, reports ...*pb.ReplicaReport) *pb.BeaconResponse {
		t.Helper()
		resp, err := cl.Beacon(ctx, &pb.BeaconRequest{Node: node, ProtocolVersion: version.Current().String(),
			StartTimeMs: started, ClusterId: id, Replicas: reports})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}

	resp := beacon("x1:1", "8d0e5c1e-0000-4000-8000-000000000000")
	if resp.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH || resp.GetAllowed() || resp.GetLeaseMs() != 0 {
		t.Fatalf("foreign beacon answered %v", resp)
	}
	if resp.GetClusterId() != m.clusterID() {
		t.Fatalf("refusal names cluster %q, want %s", resp.GetClusterId(), m.clusterID())
	}
	nodes, err := m.ctl.ListNodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Address == "x1:1" {
			t.Fatal("a node of another cluster was recorded")
		}
	}

	// Joined no cluster, holds a replica of app 77 that this cluster never had.
	resp = beacon("x2:1", "", &pb.ReplicaReport{Gpid: &pb.Gpid{AppId: 77, PartitionIndex: 3}, Ballot: 4})
	if resp.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH || resp.GetAllowed() ||
		len(resp.GetUnknown()) != 1 || resp.GetUnknown()[0].GetAppId() != 77 || len(resp.GetRemove()) != 0 {
		t.Fatalf("beacon with unknown data answered %v", resp)
	}

	// Joined no cluster, holds nothing: answered, with the id to join.
	resp = beacon("x3:1", "")
	if resp.GetError() != nil || !resp.GetAllowed() || resp.GetClusterId() != m.clusterID() {
		t.Fatalf("new node's beacon answered %v", resp)
	}
	resp = beacon("x3:1", m.clusterID())
	if resp.GetError() != nil || !resp.GetAllowed() || resp.GetLeaseMs() == 0 {
		t.Fatalf("joined node's beacon answered %v", resp)
	}

	p, err := cl.ProposeConfig(ctx, &pb.ProposeConfigRequest{Node: "x1:1", ClusterId: "8d0e5c1e-0000-4000-8000-000000000000",
		Proposals: []*pb.ConfigProposal{{Gpid: &pb.Gpid{AppId: 1}, Type: pb.ConfigType_CT_DOWNGRADE_TO_INACTIVE, Node: "x3:1", Ballot: 1}}})
	if err != nil || p.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH || len(p.GetConfigs()) != 0 {
		t.Fatalf("foreign proposal answered %v %v", p, err)
	}
	q, err := cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t", ClusterId: "8d0e5c1e-0000-4000-8000-000000000000"})
	if err != nil || q.GetError().GetCode() != pb.ErrorCode_ERR_CLUSTER_ID_MISMATCH {
		t.Fatalf("foreign query answered %v %v", q, err)
	}
	if v := metricValue(t, m.metrics.ClusterRefusals.WithLabelValues("beacon")); v != 2 {
		t.Fatalf("beacon refusals counted %v, want 2", v)
	}
}

func getJSON(t *testing.T, url string, v any) {
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

func metricValue(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// TestMessagesWaitForTheClusterID: a meta server whose etcd does not
// answer serves RPCs without its cluster id, and neither refuses nor
// admits a message that carries one: the caller is sent on as by a
// follower (ERR_FORWARD_TO_OTHERS), nothing is counted as another
// cluster's, and ClusterInfo reports no id.
func TestMessagesWaitForTheClusterID(t *testing.T) {
	f := newFleet(t, nil, fastFD().BeaconInterval)
	m := startMetaServer(t, []string{"127.0.0.1:1"}, clusterName(t), f, nil, nil)
	cl := f.client(m.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const someID = "8d0e5c1e-0000-4000-8000-000000000000"
	b, err := cl.Beacon(ctx, &pb.BeaconRequest{Node: "x1:1", ProtocolVersion: version.Current().String(),
		StartTimeMs: time.Now().UnixMilli(), ClusterId: someID})
	if err != nil || b.GetError().GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS || b.GetAllowed() || b.GetClusterId() != "" {
		t.Fatalf("beacon before the cluster id answered %v %v", b, err)
	}
	p, err := cl.ProposeConfig(ctx, &pb.ProposeConfigRequest{Node: "x1:1", ClusterId: someID,
		Proposals: []*pb.ConfigProposal{{Gpid: &pb.Gpid{AppId: 1}, Type: pb.ConfigType_CT_DOWNGRADE_TO_INACTIVE, Node: "x1:1", Ballot: 1}}})
	if err != nil || p.GetError().GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
		t.Fatalf("proposal before the cluster id answered %v %v", p, err)
	}
	q, err := cl.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t", ClusterId: someID})
	if err != nil || q.GetError().GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS {
		t.Fatalf("query before the cluster id answered %v %v", q, err)
	}
	for _, kind := range []string{"beacon", "propose", "query_config"} {
		if v := metricValue(t, m.metrics.ClusterRefusals.WithLabelValues(kind)); v != 0 {
			t.Fatalf("%s refusals counted %v before the cluster id was known", kind, v)
		}
	}
	info, err := cl.ClusterInfo(ctx, &pb.ClusterInfoRequest{})
	if err != nil || info.GetClusterId() != "" {
		t.Fatalf("ClusterInfo before the cluster id: %q %v", info.GetClusterId(), err)
	}
	m.ctl.mu.Lock()
	senders := len(m.ctl.senders)
	m.ctl.mu.Unlock()
	if senders != 0 {
		t.Fatalf("%d beacon senders recorded before the cluster id was known", senders)
	}
}

// serverFor wraps a controller driven alone in a Server whose cluster id
// is read, for tests that call the gRPC service directly. Messages without
// an id pass the cluster check, as they do on a real server.
func serverFor(ctl *Controller) *Server {
	s := &Server{ctl: ctl}
	id := "8d0e5c1e-0000-4000-8000-00000000c1d0"
	s.clusterIDValue.Store(&id)
	return s
}
