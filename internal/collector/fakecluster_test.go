package collector

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/metrics"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// fakeCluster is an in-process cluster for the collector's tests: one fake
// meta server and fake replica servers on loopback gRPC listeners, speaking
// the real contract (QueryConfig, CreateTable, ListNodes, ListTables,
// ClusterInfo, the Data stream). Each replica server also serves a real
// metrics.Replica registry over HTTP, updated by the requests it serves.
// Tests take a partition's primary away and give it back, or make a
// partition acknowledge writes it then forgets.
type fakeCluster struct {
	t        *testing.T
	metaAddr string
	replicas []*fakeReplica

	mu      sync.Mutex
	tables  map[string]*fakeTable
	nextApp int32
	data    map[string][]byte // by table/partition/hash key/sort key
	creates int
}

type fakeTable struct {
	name     string
	appID    int32
	replicas int32
	// primaries[i] is partition i's primary, "" while it has none.
	primaries []string
	ballots   []int64
	// forgetful[i]: partition i acknowledges writes and does not keep them.
	forgetful []bool
}

type fakeReplica struct {
	pb.UnimplementedReplicaClientServer
	fc      *fakeCluster
	addr    string
	http    string
	metrics *metrics.Replica
	alive   bool
}

func newFakeCluster(t *testing.T, replicas int) *fakeCluster {
	t.Helper()
	fc := &fakeCluster{t: t, tables: map[string]*fakeTable{}, nextApp: 1, data: map[string][]byte{}}
	fc.metaAddr = serveGRPC(t, func(s *grpc.Server) { pb.RegisterMetaServer(s, &fakeMeta{fc: fc}) })
	for range replicas {
		r := &fakeReplica{fc: fc, metrics: metrics.NewReplica(), alive: true}
		r.addr = serveGRPC(t, func(s *grpc.Server) { pb.RegisterReplicaClientServer(s, r) })
		hs := httptest.NewServer(r.metrics.Handler())
		t.Cleanup(hs.Close)
		r.http = hs.Listener.Addr().String()
		fc.replicas = append(fc.replicas, r)
	}
	return fc
}

func serveGRPC(t *testing.T, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(rpc.ServerOptions()...)
	register(s)
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

// createTable places primaries round-robin over the replica servers.
func (fc *fakeCluster) createTable(name string, partitions, replicas int32) *fakeTable {
	ft := &fakeTable{name: name, appID: fc.nextApp, replicas: replicas}
	fc.nextApp++
	for i := range partitions {
		ft.primaries = append(ft.primaries, fc.replicas[int(i)%len(fc.replicas)].addr)
		ft.ballots = append(ft.ballots, 1)
		ft.forgetful = append(ft.forgetful, false)
	}
	fc.tables[name] = ft
	return ft
}

// setPrimary gives partition pidx of table a new primary ("" for none) at
// the next ballot, as a reconfiguration would.
func (fc *fakeCluster) setPrimary(table string, pidx int, primary string) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	ft := fc.tables[table]
	ft.primaries[pidx] = primary
	ft.ballots[pidx]++
}

func (fc *fakeCluster) setForgetful(table string, pidx int, forget bool) {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fc.tables[table].forgetful[pidx] = forget
}

// partitionCount returns a table's partition count, 0 when it does not exist.
func (fc *fakeCluster) partitionCount(name string) int {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	if ft := fc.tables[name]; ft != nil {
		return len(ft.primaries)
	}
	return 0
}

// newCollector builds a collector over the cluster with fast probes;
// mutate adjusts the options first.
func (fc *fakeCluster) newCollector(mutate func(*Options)) *Collector {
	fc.t.Helper()
	opts := Options{
		MetaServers:          []string{fc.metaAddr},
		HTTPListen:           "127.0.0.1:0",
		DetectTable:          "detect",
		DetectPartitionCount: 4,
		DetectReplicaCount:   3,
		DetectInterval:       time.Second,
		DetectTimeout:        200 * time.Millisecond,
		ScrapeInterval:       time.Second,
		Logger:               slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mutate != nil {
		mutate(&opts)
	}
	c, err := New(opts)
	if err != nil {
		fc.t.Fatal(err)
	}
	fc.t.Cleanup(func() {
		c.detector.Wait()
		c.detector.mu.Lock()
		if c.detector.closeFn != nil {
			c.detector.closeFn()
		}
		c.detector.mu.Unlock()
		c.metas.Close()
	})
	return c
}

type fakeMeta struct {
	pb.UnimplementedMetaServer
	fc *fakeCluster
}

var errOK = &pb.Error{Code: pb.ErrorCode_ERR_OK}

func (m *fakeMeta) QueryConfig(_ context.Context, req *pb.QueryConfigRequest) (*pb.QueryConfigResponse, error) {
	m.fc.mu.Lock()
	defer m.fc.mu.Unlock()
	ft := m.fc.tables[req.GetTable()]
	if ft == nil {
		return &pb.QueryConfigResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_NOT_EXIST}}, nil
	}
	resp := &pb.QueryConfigResponse{Error: errOK, Table: ft.info()}
	for i, p := range ft.primaries {
		resp.Partitions = append(resp.Partitions, &pb.PartitionConfiguration{
			Gpid: &pb.Gpid{AppId: ft.appID, PartitionIndex: int32(i)}, Ballot: ft.ballots[i], Primary: p,
		})
	}
	return resp, nil
}

func (ft *fakeTable) info() *pb.TableInfo {
	return &pb.TableInfo{Name: ft.name, AppId: ft.appID, PartitionCount: int32(len(ft.primaries)),
		ReplicaCount: ft.replicas, Status: pb.TableStatus_AS_AVAILABLE}
}

func (m *fakeMeta) CreateTable(_ context.Context, req *pb.CreateTableRequest) (*pb.CreateTableResponse, error) {
	m.fc.mu.Lock()
	defer m.fc.mu.Unlock()
	m.fc.creates++
	if m.fc.tables[req.GetName()] != nil {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_EXIST}}, nil
	}
	ft := m.fc.createTable(req.GetName(), req.GetPartitionCount(), req.GetReplicaCount())
	return &pb.CreateTableResponse{Error: errOK, Table: ft.info()}, nil
}

func (m *fakeMeta) ListNodes(context.Context, *pb.ListNodesRequest) (*pb.ListNodesResponse, error) {
	m.fc.mu.Lock()
	defer m.fc.mu.Unlock()
	resp := &pb.ListNodesResponse{Error: errOK}
	for _, r := range m.fc.replicas {
		n := &pb.NodeInfo{Address: r.addr, Alive: r.alive, HttpAddress: r.http, BinaryVersion: "test"}
		for _, ft := range m.fc.tables {
			for _, p := range ft.primaries {
				if p == r.addr {
					n.PrimaryCount++
				}
			}
		}
		n.ReplicaCount = n.PrimaryCount
		resp.Nodes = append(resp.Nodes, n)
	}
	return resp, nil
}

func (m *fakeMeta) ListTables(context.Context, *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	m.fc.mu.Lock()
	defer m.fc.mu.Unlock()
	resp := &pb.ListTablesResponse{Error: errOK}
	for _, ft := range m.fc.tables {
		th := &pb.TableHealth{Table: ft.info()}
		for _, p := range ft.primaries {
			if p != "" {
				th.FullyHealthy++
			} else {
				th.Unhealthy++
				th.WriteUnhealthy++
				th.ReadUnhealthy++
			}
		}
		resp.Tables = append(resp.Tables, th)
	}
	sort.Slice(resp.Tables, func(i, j int) bool { return resp.Tables[i].Table.AppId < resp.Tables[j].Table.AppId })
	return resp, nil
}

func (m *fakeMeta) ClusterInfo(context.Context, *pb.ClusterInfoRequest) (*pb.ClusterInfoResponse, error) {
	return &pb.ClusterInfoResponse{Error: errOK, Leader: m.fc.metaAddr, ClusterName: "fakebox", MetaFunctionLevel: "steady",
		KnobOverrides: []*pb.KnobOverride{{Knob: "meta.lb.add_secondary_max_count_for_one_node", Value: "0",
			Owner: "rolling-update roll-9", ExpiresMs: 1}}}, nil
}

// Data serves one client stream, one request at a time.
func (r *fakeReplica) Data(stream pb.ReplicaClient_DataServer) error {
	for {
		req, err := stream.Recv()
		if err != nil {
			return err
		}
		start := time.Now()
		resp := r.fc.serve(r.addr, req)
		op := "get"
		if req.GetSet() != nil {
			op = "set"
		}
		app := strconv.Itoa(int(req.GetGpid().GetAppId()))
		r.metrics.Requests.WithLabelValues(app, "", op).Inc()
		r.metrics.Latency.WithLabelValues(app, "", op).Observe(time.Since(start).Seconds())
		if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
			r.metrics.Errors.WithLabelValues(app, "", op, code.String()).Inc()
		}
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

func (fc *fakeCluster) serve(addr string, req *pb.ClientRequest) *pb.ClientResponse {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	fail := func(code pb.ErrorCode) *pb.ClientResponse {
		return &pb.ClientResponse{Id: req.GetId(), Error: &pb.Error{Code: code}}
	}
	var ft *fakeTable
	for _, t := range fc.tables {
		if t.appID == req.GetGpid().GetAppId() {
			ft = t
		}
	}
	pidx := int(req.GetGpid().GetPartitionIndex())
	if ft == nil || pidx < 0 || pidx >= len(ft.primaries) || ft.primaries[pidx] != addr {
		// Not (or no longer) this server's partition: the client asks the
		// meta server again, which may name no primary at all.
		return fail(pb.ErrorCode_ERR_OBJECT_NOT_FOUND)
	}
	// The collector chose the hash key to land here: check it does.
	if req.GetPartitionHash()%uint64(len(ft.primaries)) != uint64(pidx) {
		return fail(pb.ErrorCode_ERR_INVALID_PARAMETERS)
	}
	key := func(hk, sk []byte) string { return fmt.Sprintf("%s/%d/%q/%q", ft.name, pidx, hk, sk) }
	switch op := req.GetOp().(type) {
	case *pb.ClientRequest_Set:
		if !ft.forgetful[pidx] {
			fc.data[key(op.Set.GetHashKey(), op.Set.GetSortKey())] = append([]byte(nil), op.Set.GetValue()...)
		}
		return &pb.ClientResponse{Id: req.GetId(), Error: errOK, Result: &pb.ClientResponse_Write{Write: &pb.WriteResponse{Decree: 1}}}
	case *pb.ClientRequest_Get:
		v, ok := fc.data[key(op.Get.GetHashKey(), op.Get.GetSortKey())]
		return &pb.ClientResponse{Id: req.GetId(), Error: errOK, Result: &pb.ClientResponse_Get{Get: &pb.GetResponse{Found: ok, Value: v}}}
	}
	return fail(pb.ErrorCode_ERR_INVALID_PARAMETERS)
}
