package rolling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rolling/plan"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// fakeMetaServer answers the Meta calls the orchestrator makes. A follower
// answers cluster_info for itself and forwards everything else.
type fakeMetaServer struct {
	pb.UnimplementedMetaServer
	addr, leader string
	beacons      int32
	// etcd is the endpoints cluster_info reports ("" for two made-up ones).
	etcd string
	// others are meta servers this one lists besides itself.
	others []string

	mu     sync.Mutex
	knobs  map[string]string
	leases []string // every knob set: "<knob> <owner> <lease>"
	level  string
	drains []string
}

func (s *fakeMetaServer) forward() *pb.Error {
	if s.addr == s.leader {
		return nil
	}
	return &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS, Primary: s.leader}
}

func (s *fakeMetaServer) ClusterInfo(ctx context.Context, _ *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	etcd := s.etcd
	if etcd == "" {
		etcd = "http://127.0.0.1:2379, http://127.0.0.2:2379"
	}
	return &pb.ClusterInfoResponse{Leader: s.leader, MetaFunctionLevel: "fl_" + s.level,
		EtcdEndpoints: etcd, ClusterName: "c1",
		Metas: append([]*pb.MetaServerInfo{{Address: s.addr, Leader: s.addr == s.leader, ProtocolVersion: "1.0", BeaconsReceivedFrom: s.beacons}},
			s.otherInfos()...)}, nil // s.mu held: others may change
}

func (s *fakeMetaServer) otherInfos() []*pb.MetaServerInfo {
	var out []*pb.MetaServerInfo
	for _, o := range s.others {
		out = append(out, &pb.MetaServerInfo{Address: o, ProtocolVersion: "1.0"})
	}
	return out
}

func (s *fakeMetaServer) ListNodes(ctx context.Context, _ *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	if e := s.forward(); e != nil {
		return &pb.ListNodesResponse{Error: e}, nil
	}
	return &pb.ListNodesResponse{Nodes: []*pb.NodeInfo{
		{Address: "r1:34801", Alive: true, PrimaryCount: 3, SecondaryCount: 5, ProtocolVersion: "1.0"},
		{Address: "r2:34801", Alive: false, ProtocolVersion: "1.1"},
	}}, nil
}

func (s *fakeMetaServer) ListTables(ctx context.Context, _ *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	if e := s.forward(); e != nil {
		return &pb.ListTablesResponse{Error: e}, nil
	}
	return &pb.ListTablesResponse{Tables: []*pb.TableHealth{
		{Table: &pb.TableInfo{Name: "temp", AppId: 1, PartitionCount: 8, Status: pb.TableStatus_AS_AVAILABLE}, FullyHealthy: 6, Unhealthy: 2, WriteUnhealthy: 1},
		{Table: &pb.TableInfo{Name: "old", AppId: 2, PartitionCount: 4, Status: pb.TableStatus_AS_DROPPING}},
	}}, nil
}

func (s *fakeMetaServer) MetaLevel(ctx context.Context, r *pb.MetaLevelRequest) (*pb.MetaLevelResponse, error) {
	if e := s.forward(); e != nil {
		return &pb.MetaLevelResponse{Error: e}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.level
	if r.GetLevel() != "" {
		s.level = r.GetLevel()
	}
	return &pb.MetaLevelResponse{OldLevel: old, Level: s.level}, nil
}

func (s *fakeMetaServer) RemoteCommand(ctx context.Context, r *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	if e := s.forward(); e != nil {
		return &pb.RemoteCommandResponse{Error: e}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !strings.HasPrefix(r.GetCommand(), "meta.lb.") {
		return &pb.RemoteCommandResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "unknown command " + r.GetCommand()}}, nil
	}
	if len(r.GetArgs()) == 1 {
		s.knobs[r.GetCommand()] = r.GetArgs()[0]
		s.leases = append(s.leases, fmt.Sprintf("%s %s %dms", r.GetCommand(), r.GetOwner(), r.GetLeaseMs()))
		return &pb.RemoteCommandResponse{Output: "OK"}, nil
	}
	return &pb.RemoteCommandResponse{Output: `{"error":"ok","` + r.GetCommand() + `":"` + s.knobs[r.GetCommand()] + `"}`}, nil
}

func (s *fakeMetaServer) MigrateNode(ctx context.Context, r *pb.DrainNodeRequest) (*pb.DrainNodeResponse, error) {
	if e := s.forward(); e != nil {
		return &pb.DrainNodeResponse{Error: e}, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drains = append(s.drains, "migrate "+r.GetNode())
	return &pb.DrainNodeResponse{Proposals: []string{"1.0 move primary"}}, nil
}

type fakeReplicaAdmin struct {
	pb.UnimplementedReplicaAdminServer
	mu     sync.Mutex
	killed bool
}

func (r *fakeReplicaAdmin) Status(ctx context.Context, _ *pb.ReplicaServerStatusRequest) (*pb.ReplicaServerStatusResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.killed {
		return &pb.ReplicaServerStatusResponse{}, nil
	}
	return &pb.ReplicaServerStatusResponse{TotalReplicas: 7, OpeningReplicas: 1, ClosingReplicas: 2,
		Replicas: []*pb.ReplicaReport{{Status: pb.PartitionStatus_PS_PRIMARY}, {Status: pb.PartitionStatus_PS_SECONDARY}}}, nil
}

func (r *fakeReplicaAdmin) RemoteCommand(ctx context.Context, req *pb.RemoteCommandRequest) (*pb.RemoteCommandResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.GetCommand() != "replica.kill_partition" {
		return &pb.RemoteCommandResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS}}, nil
	}
	r.killed = true
	return &pb.RemoteCommandResponse{Output: "closing 7 replicas"}, nil
}

// serve starts a gRPC server on a loopback port; register adds services.
func serve(t *testing.T, register func(s *grpc.Server, addr string)) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	register(s, l.Addr().String())
	go s.Serve(l)
	t.Cleanup(s.Stop)
	return l.Addr().String(), s.Stop
}

func TestRemoteClusterFollowsTheLeaderAndMapsAnswers(t *testing.T) {
	leaderL, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leaderAddr := leaderL.Addr().String()
	leader := &fakeMetaServer{addr: leaderAddr, leader: leaderAddr, beacons: 5, knobs: map[string]string{}, level: "lively"}
	ls := grpc.NewServer(rpc.ServerOptions()...)
	pb.RegisterMetaServer(ls, leader)
	go ls.Serve(leaderL)
	t.Cleanup(ls.Stop)
	followerAddr, stopFollower := serve(t, func(s *grpc.Server, addr string) {
		pb.RegisterMetaServer(s, &fakeMetaServer{addr: addr, leader: leaderAddr, beacons: 4})
	})
	leader.mu.Lock()
	leader.others = []string{followerAddr} // the follower is registered
	leader.mu.Unlock()
	replica := &fakeReplicaAdmin{}
	replicaAddr, _ := serve(t, func(s *grpc.Server, _ string) { pb.RegisterReplicaAdminServer(s, replica) })

	// Only the follower is given: every admin call must find the leader.
	c := DialCluster([]string{followerAddr}, dial.Credentials{})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "c1" || info.Leader != leaderAddr || info.MetaLevel != "fl_lively" ||
		strings.Join(info.EtcdEndpoints, ",") != "http://127.0.0.1:2379,http://127.0.0.2:2379" {
		t.Fatalf("info %+v", info)
	}
	if len(info.Replicas) != 2 || info.Replicas[1].Protocol != "1.1" {
		t.Fatalf("replicas %+v", info.Replicas)
	}

	v, err := c.View(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Nodes) != 2 || v.Nodes[0] != (plan.NodeStatus{Node: "r1:34801", Alive: true, Primaries: 3, Secondaries: 5}) {
		t.Fatalf("nodes %+v", v.Nodes)
	}
	if len(v.Tables) != 1 || v.Tables[0].FullyHealthy != 6 || v.Tables[0].PartitionCount != 8 {
		t.Fatalf("tables %+v (a table being dropped has no health to wait for)", v.Tables)
	}

	// Each meta server speaks for itself: the leader learned from
	// cluster_info is asked too.
	metas, err := c.Metas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]plan.MetaStatus{}
	for _, m := range metas {
		byNode[m.Node] = m
	}
	if m := byNode[leaderAddr]; !m.Alive || !m.Leader || m.BeaconsFrom != 5 {
		t.Fatalf("leader %+v", m)
	}
	if m := byNode[followerAddr]; !m.Alive || m.Leader || m.BeaconsFrom != 4 || !m.Registered || m.Cluster != "c1" {
		t.Fatalf("follower %+v", m)
	}
	if m := byNode[leaderAddr]; !m.Registered {
		t.Fatalf("leader not registered: %+v", m)
	}
	// A meta server the leader does not list answers, but is not
	// registered: it cannot take over.
	leader.mu.Lock()
	leader.others = nil
	leader.mu.Unlock()
	metas, err = c.Metas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.Node == followerAddr && (!m.Alive || m.Registered) {
			t.Fatalf("unlisted follower %+v", m)
		}
	}

	if err := c.SetKnob(ctx, plan.KnobAssignDelay, "3600000", KnobLease{Owner: "rolling-update r", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	if want := []string{plan.KnobAssignDelay + " rolling-update r 60000ms"}; !slices.Equal(leader.leases, want) {
		t.Fatalf("knob lease sent %q, want %q", leader.leases, want)
	}
	if v, err := c.Knob(ctx, plan.KnobAssignDelay); err != nil || v != "3600000" {
		t.Fatalf("Knob = %q, %v", v, err)
	}
	err = c.SetKnob(ctx, "no.such.knob", "1", KnobLease{})
	if !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "ERR_INVALID_PARAMETERS") || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("bad knob: %v", err)
	}
	if err := c.SetMetaLevel(ctx, "steady", KnobLease{}); err != nil || leader.level != "steady" {
		t.Fatalf("SetMetaLevel: %v, level %s", err, leader.level)
	}
	if err := c.MigrateNode(ctx, "r1:34801"); err != nil || len(leader.drains) != 1 {
		t.Fatalf("MigrateNode: %v %v", err, leader.drains)
	}

	st, err := c.ReplicaStatus(ctx, replicaAddr)
	if err != nil || st != (plan.ReplicaStatus{Node: replicaAddr, Total: 7, Opening: 1, Closing: 2, Primaries: 1}) {
		t.Fatalf("ReplicaStatus = %+v, %v", st, err)
	}
	if err := c.KillPartitions(ctx, replicaAddr); err != nil || !replica.killed {
		t.Fatalf("KillPartitions: %v", err)
	}

	// A meta server that registers later (it was down when cluster_info
	// was read) is watched as soon as one lists it; one that does not
	// answer is reported down.
	leader.mu.Lock()
	leader.others = []string{"127.0.0.1:1"}
	leader.mu.Unlock()
	for range 2 {
		if metas, err = c.Metas(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(metas) != 3 || metas[2].Node != "127.0.0.1:1" || metas[2].Alive {
		t.Fatalf("metas after a new one registered: %+v", metas)
	}

	// A meta server that stops answering is reported down, not dropped.
	stopFollower()
	metas, err = c.Metas(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range metas {
		if m.Node == followerAddr && m.Alive {
			t.Fatalf("stopped follower reported alive: %+v", m)
		}
	}
}

func TestKnobValue(t *testing.T) {
	for _, tc := range []struct {
		out, want string
		err       bool
	}{
		{`{"error":"ok","meta.lb.assign_delay_ms":"300000"}`, "300000", false},
		{`{"error":"ok","meta.lb.assign_delay_ms":300000}`, "300000", false},
		{"300000\n", "300000", false},
		{`{"error":"ERR: unknown command"}`, "", true},
		{`{"error":"ok"}`, "", true},
		{`{not json`, "", true},
	} {
		got, err := knobValue("meta.lb.assign_delay_ms", tc.out)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("knobValue(%q) = %q, %v", tc.out, got, err)
		}
	}
}
