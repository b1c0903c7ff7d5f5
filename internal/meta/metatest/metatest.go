// Package metatest is the fake meta server of the tests: the Meta gRPC
// service answering from data the test sets (tables with their partition
// configurations, replica servers, meta servers), on a real loopback
// listener or registered on the test's own gRPC server beside a fake
// replica server. It plays a follower naming a leader, as the real meta
// server does (ERR_FORWARD_TO_OTHERS with the leader in Error.primary),
// counts its calls and can fail or delay any method.
//
// It answers the calls clients and tools make: QueryConfig, CreateTable,
// DropTable, ListTables, ListNodes and ClusterInfo. A test that needs the
// meta server's side of replication (beacons, proposals) fakes that part
// itself.
package metatest

import (
	"context"
	"net"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Method names, for Data.Fail and Meta.Calls.
const (
	QueryConfig = "QueryConfig"
	CreateTable = "CreateTable"
	DropTable   = "DropTable"
	ListTables  = "ListTables"
	ListNodes   = "ListNodes"
	ClusterInfo = "ClusterInfo"
)

// Data is what the fake answers from. Tests change it with Meta.Update.
type Data struct {
	// Tables are QueryConfig's answers by table name.
	Tables map[string]*pb.QueryConfigResponse
	// Nodes are ListNodes' answer; CreateTable places replicas on them.
	Nodes []*pb.NodeInfo
	// Info is ClusterInfo's answer (its error is the fake's own).
	Info *pb.ClusterInfoResponse
	// Leader, when set, makes the fake a follower naming this leader:
	// every call answers ERR_FORWARD_TO_OTHERS (ClusterInfo still says
	// what it knows, as the real one does).
	Leader string
	// Fail answers a method with this error instead of serving it.
	Fail map[string]*pb.Error
	// Delay holds every answer back this long (or until the call's
	// context ends).
	Delay time.Duration
	// Before, when set, runs at the start of every call, under the
	// fake's lock, and may change the data: a cluster that changes as it
	// is polled (a table becoming healthy a partition per ListTables).
	Before func(method string, d *Data)
}

// Meta is the fake Meta service.
type Meta struct {
	pb.UnimplementedMetaServer

	mu     sync.Mutex
	data   Data
	calls  map[string]int
	nextID int32
}

// New returns a fake with no tables, nodes or meta servers, leading.
func New() *Meta {
	return &Meta{
		data:   Data{Tables: map[string]*pb.QueryConfigResponse{}, Info: &pb.ClusterInfoResponse{}, Fail: map[string]*pb.Error{}},
		calls:  map[string]int{},
		nextID: 1,
	}
}

// Start serves a new fake on a loopback port until the test ends and
// returns it with its address.
func Start(t testing.TB) (*Meta, string) {
	t.Helper()
	m := New()
	return m, Serve(t, m.Register)
}

// Register adds the fake's Meta service to s.
func (m *Meta) Register(s *grpc.Server) { pb.RegisterMetaServer(s, m) }

// Serve starts a gRPC server on a loopback port with the services register
// adds, stops it when the test ends, and returns its address.
func Serve(t testing.TB, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// Update changes the fake's data under its lock.
func (m *Meta) Update(fn func(d *Data)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fn(&m.data)
}

// Calls returns how many times method was called.
func (m *Meta) Calls(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[method]
}

// AddTable sets a table of the given partitions over replicas: partition
// i's primary is replicas[i%len(replicas)], the others its secondaries, at
// ballot 3+i with last committed decree 100+i.
func (m *Meta) AddTable(name string, appID, partitions int32, replicas []string) {
	resp := &pb.QueryConfigResponse{Table: &pb.TableInfo{
		Name: name, AppId: appID, PartitionCount: partitions, ReplicaCount: int32(len(replicas)), Status: pb.TableStatus_AS_AVAILABLE,
	}}
	for i := range partitions {
		pc := &pb.PartitionConfiguration{
			Gpid: &pb.Gpid{AppId: appID, PartitionIndex: i}, Ballot: int64(3 + i), MaxReplicaCount: int32(len(replicas)),
			LastCommittedDecree: int64(100 + i),
		}
		for j := range replicas {
			addr := replicas[(int(i)+j)%len(replicas)]
			if j == 0 {
				pc.Primary = addr
			} else {
				pc.Secondaries = append(pc.Secondaries, addr)
			}
		}
		resp.Partitions = append(resp.Partitions, pc)
	}
	m.Update(func(d *Data) { d.Tables[name] = resp })
}

// begin counts a call, waits out the delay and says how the call ends
// without being served: the follower's forward or an injected failure.
func (m *Meta) begin(ctx context.Context, method string) (*pb.Error, error) {
	m.mu.Lock()
	m.calls[method]++
	if m.data.Before != nil {
		m.data.Before(method, &m.data)
	}
	delay, leader, fail := m.data.Delay, m.data.Leader, m.data.Fail[method]
	m.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != nil {
		return proto.Clone(fail).(*pb.Error), nil
	}
	if leader != "" {
		return &pb.Error{Code: pb.ErrorCode_ERR_FORWARD_TO_OTHERS, Primary: leader}, nil
	}
	return nil, nil
}

func (m *Meta) QueryConfig(ctx context.Context, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	if e, err := m.begin(ctx, QueryConfig); e != nil || err != nil {
		return &pb.QueryConfigResponse{Error: e}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.data.Tables[req.GetTable()]
	if t == nil {
		return &pb.QueryConfigResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST, Message: "meta: table not found"}}, nil
	}
	resp := proto.Clone(t).(*pb.QueryConfigResponse)
	if idx := req.GetPartitionIndices(); len(idx) > 0 {
		var parts []*pb.PartitionConfiguration
		for _, p := range resp.Partitions {
			for _, i := range idx {
				if p.GetGpid().GetPartitionIndex() == i {
					parts = append(parts, p)
				}
			}
		}
		resp.Partitions = parts
	}
	return resp, nil
}

// CreateTable adds the table, its partitions' primaries spread over the
// alive nodes (none: no primary), with the next unused app id.
func (m *Meta) CreateTable(ctx context.Context, req *pb.CreateTableRequest) (*pb.CreateTableResponse, error) {
	if e, err := m.begin(ctx, CreateTable); e != nil || err != nil {
		return &pb.CreateTableResponse{Error: e}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if t := m.data.Tables[req.GetName()]; t != nil {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_EXIST, Message: "meta: table exists"}, Table: t.Table}, nil
	}
	if req.GetPartitionCount() <= 0 || req.GetReplicaCount() <= 0 {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "meta: partition and replica counts must be positive"}}, nil
	}
	for _, t := range m.data.Tables {
		m.nextID = max(m.nextID, t.GetTable().GetAppId()+1)
	}
	var alive []string
	for _, n := range m.data.Nodes {
		if n.GetAlive() {
			alive = append(alive, n.GetAddress())
		}
	}
	info := &pb.TableInfo{Name: req.GetName(), AppId: m.nextID, PartitionCount: req.GetPartitionCount(),
		ReplicaCount: req.GetReplicaCount(), Status: pb.TableStatus_AS_AVAILABLE, Envs: req.GetEnvs()}
	m.nextID++
	resp := &pb.QueryConfigResponse{Table: info}
	for i := range req.GetPartitionCount() {
		pc := &pb.PartitionConfiguration{Gpid: &pb.Gpid{AppId: info.AppId, PartitionIndex: i}, Ballot: 1, MaxReplicaCount: info.ReplicaCount}
		for j := range min(int(info.ReplicaCount), len(alive)) {
			addr := alive[(int(i)+j)%len(alive)]
			if j == 0 {
				pc.Primary = addr
			} else {
				pc.Secondaries = append(pc.Secondaries, addr)
			}
		}
		resp.Partitions = append(resp.Partitions, pc)
	}
	m.data.Tables[req.GetName()] = resp
	return &pb.CreateTableResponse{Table: proto.Clone(info).(*pb.TableInfo)}, nil
}

func (m *Meta) DropTable(ctx context.Context, req *pb.DropTableRequest) (*pb.DropTableResponse, error) {
	if e, err := m.begin(ctx, DropTable); e != nil || err != nil {
		return &pb.DropTableResponse{Error: e}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data.Tables[req.GetName()] == nil {
		return &pb.DropTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST, Message: "meta: table not found"}}, nil
	}
	delete(m.data.Tables, req.GetName())
	return &pb.DropTableResponse{}, nil
}

// ListTables lists the tables by name, each counted fully healthy when
// every partition has a primary and its replica count of members.
func (m *Meta) ListTables(ctx context.Context, _ *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	if e, err := m.begin(ctx, ListTables); e != nil || err != nil {
		return &pb.ListTablesResponse{Error: e}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &pb.ListTablesResponse{}
	for _, t := range m.data.Tables {
		h := &pb.TableHealth{Table: proto.Clone(t.GetTable()).(*pb.TableInfo)}
		for _, p := range t.GetPartitions() {
			switch {
			case p.GetPrimary() == "":
				h.Unhealthy++
				h.WriteUnhealthy++
				h.ReadUnhealthy++
			case int32(1+len(p.GetSecondaries())) < t.GetTable().GetReplicaCount():
				h.Unhealthy++
			default:
				h.FullyHealthy++
			}
		}
		resp.Tables = append(resp.Tables, h)
	}
	sort.Slice(resp.Tables, func(i, j int) bool { return resp.Tables[i].Table.Name < resp.Tables[j].Table.Name })
	return resp, nil
}

func (m *Meta) ListNodes(ctx context.Context, _ *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	if e, err := m.begin(ctx, ListNodes); e != nil || err != nil {
		return &pb.ListNodesResponse{Error: e}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &pb.ListNodesResponse{}
	for _, n := range m.data.Nodes {
		resp.Nodes = append(resp.Nodes, proto.Clone(n).(*pb.NodeInfo))
	}
	return resp, nil
}

// ClusterInfo answers Data.Info; a follower also says what it knows, with
// the forward as its error.
func (m *Meta) ClusterInfo(ctx context.Context, _ *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	e, err := m.begin(ctx, ClusterInfo)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := proto.Clone(m.data.Info).(*pb.ClusterInfoResponse)
	resp.Error = e
	if m.data.Leader != "" && resp.Leader == "" {
		resp.Leader = m.data.Leader
	}
	return resp, nil
}
