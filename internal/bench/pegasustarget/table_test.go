package pegasustarget

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// fakeMeta is a meta server whose tables become healthy one partition per
// ListTables call, as a real cluster assigns replicas over a few rounds.
type fakeMeta struct {
	pb.UnimplementedMetaServer
	mu      sync.Mutex
	tables  map[string]*pb.TableHealth
	creates int
	refuse  pb.ErrorCode // answer CreateTable with this code when set
}

func (m *fakeMeta) CreateTable(_ context.Context, req *pb.CreateTableRequest) (*pb.CreateTableResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.creates++
	if m.refuse != pb.ErrorCode_ERR_OK {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: m.refuse, Message: "no"}}, nil
	}
	if th, ok := m.tables[req.GetName()]; ok {
		return &pb.CreateTableResponse{Error: &pb.Error{Code: pb.ErrorCode_ERR_APP_EXIST}, Table: th.GetTable()}, nil
	}
	info := &pb.TableInfo{Name: req.GetName(), AppId: 1, PartitionCount: req.GetPartitionCount(),
		ReplicaCount: req.GetReplicaCount(), Status: pb.TableStatus_AS_AVAILABLE}
	m.tables[req.GetName()] = &pb.TableHealth{Table: info}
	return &pb.CreateTableResponse{Error: &pb.Error{}, Table: info}, nil
}

func (m *fakeMeta) ListTables(context.Context, *pb.ListTablesRequest) (*pb.ListTablesResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	resp := &pb.ListTablesResponse{Error: &pb.Error{}}
	for _, th := range m.tables {
		if th.FullyHealthy < th.GetTable().GetPartitionCount() {
			th.FullyHealthy++
		}
		resp.Tables = append(resp.Tables, &pb.TableHealth{Table: th.GetTable(), FullyHealthy: th.GetFullyHealthy()})
	}
	return resp, nil
}

func startFakeMeta(t *testing.T) (*fakeMeta, *dial.Conns) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m := &fakeMeta{tables: make(map[string]*pb.TableHealth)}
	srv := grpc.NewServer(rpc.ServerOptions()...)
	pb.RegisterMetaServer(srv, m)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conns := dial.New([]string{lis.Addr().String()}, dial.Options{})
	t.Cleanup(func() { conns.Close() })
	return m, conns
}

func TestEnsureTableCreatesAndWaitsForHealth(t *testing.T) {
	m, conns := startFakeMeta(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	info, created, err := EnsureTable(ctx, conns, TableSpec{Name: "bench", PartitionCount: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !created || info.GetPartitionCount() != 4 || info.GetReplicaCount() != DefaultReplicaCount {
		t.Errorf("created %v, table %v; want a new table of 4 partitions and %d replicas", created, info, DefaultReplicaCount)
	}
	// Health came one partition per poll: EnsureTable waited for all four.
	if got := m.tables["bench"].GetFullyHealthy(); got != 4 {
		t.Errorf("returned with %d of 4 partitions healthy", got)
	}

	// A second call finds the table and does not recreate it.
	info, created, err = EnsureTable(ctx, conns, TableSpec{Name: "bench", PartitionCount: 16})
	if err != nil || created || info.GetPartitionCount() != 4 {
		t.Errorf("second call: table %v created %v err %v; want the existing 4-partition table", info, created, err)
	}
}

func TestEnsureTableErrors(t *testing.T) {
	m, conns := startFakeMeta(t)
	m.refuse = pb.ErrorCode_ERR_INVALID_PARAMETERS
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := EnsureTable(ctx, conns, TableSpec{Name: "bench"}); !errors.Is(err, ErrCreateTable) {
		t.Errorf("refused create: err %v, want ErrCreateTable", err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := WaitTableHealthy(short, conns, "missing"); !errors.Is(err, ErrTableNotReady) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("missing table: err %v, want ErrTableNotReady wrapping the deadline", err)
	}
}
