package metatest

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func dial(t *testing.T, addr string) pb.MetaClient {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewMetaClient(cc)
}

// The fake over the wire: a table created, listed, queried and dropped;
// a follower forwarding; an injected failure; calls counted.
func TestFakeMeta(t *testing.T) {
	m, addr := Start(t)
	mc := dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Update(func(d *Data) {
		d.Nodes = []*pb.NodeInfo{{Address: "r1", Alive: true}, {Address: "r2", Alive: true}, {Address: "r3"}}
	})

	cr, err := mc.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 2})
	if err != nil || cr.GetError() != nil || cr.GetTable().GetAppId() != 1 {
		t.Fatalf("CreateTable: %v, %v", cr, err)
	}
	qc, err := mc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"})
	if err != nil || len(qc.GetPartitions()) != 4 {
		t.Fatalf("QueryConfig: %v, %v", qc, err)
	}
	for i, p := range qc.GetPartitions() {
		// Only alive nodes get replicas, the primaries spread over them.
		if want := []string{"r1", "r2"}[i%2]; p.GetPrimary() != want || len(p.GetSecondaries()) != 1 {
			t.Errorf("partition %d: %v, want primary %s and one secondary", i, p, want)
		}
	}
	if qc, _ := mc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t", PartitionIndices: []int32{2}}); len(qc.GetPartitions()) != 1 || qc.GetPartitions()[0].GetGpid().GetPartitionIndex() != 2 {
		t.Errorf("QueryConfig of partition 2: %v", qc)
	}
	if cr, _ := mc.CreateTable(ctx, &pb.CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 2}); cr.GetError().GetCode() != pb.ErrorCode_ERR_APP_EXIST {
		t.Errorf("second CreateTable: %v", cr)
	}
	m.AddTable("u", 7, 2, []string{"r1"})
	lt, err := mc.ListTables(ctx, &pb.ListTablesRequest{})
	if err != nil || len(lt.GetTables()) != 2 || lt.GetTables()[0].GetFullyHealthy() != 4 || lt.GetTables()[1].GetTable().GetAppId() != 7 {
		t.Fatalf("ListTables: %v, %v", lt, err)
	}
	if dr, _ := mc.DropTable(ctx, &pb.DropTableRequest{Name: "t"}); dr.GetError() != nil {
		t.Fatalf("DropTable: %v", dr)
	}
	if qc, _ := mc.QueryConfig(ctx, &pb.QueryConfigRequest{Table: "t"}); qc.GetError().GetCode() != pb.ErrorCode_ERR_APP_NOT_EXIST {
		t.Fatalf("QueryConfig after drop: %v", qc)
	}

	m.Update(func(d *Data) {
		d.Leader = "leader:1"
		d.Info.Metas = []*pb.MetaServerInfo{{Address: "leader:1", Leader: true}}
	})
	if ln, _ := mc.ListNodes(ctx, &pb.ListNodesRequest{}); ln.GetError().GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS || ln.GetError().GetPrimary() != "leader:1" {
		t.Errorf("follower ListNodes: %v", ln)
	}
	if ci, _ := mc.ClusterInfo(ctx, &pb.ClusterInfoRequest{}); ci.GetError().GetCode() != pb.ErrorCode_ERR_FORWARD_TO_OTHERS || ci.GetLeader() != "leader:1" || len(ci.GetMetas()) != 1 {
		t.Errorf("follower ClusterInfo: %v", ci)
	}
	m.Update(func(d *Data) {
		d.Leader = ""
		d.Fail[ListNodes] = &pb.Error{Code: pb.ErrorCode_ERR_BUSY}
	})
	if ln, _ := mc.ListNodes(ctx, &pb.ListNodesRequest{}); ln.GetError().GetCode() != pb.ErrorCode_ERR_BUSY {
		t.Errorf("ListNodes with a failure injected: %v", ln)
	}
	if m.Calls(ListNodes) != 2 || m.Calls(QueryConfig) != 3 || m.Calls(CreateTable) != 2 {
		t.Errorf("calls: ListNodes %d, QueryConfig %d, CreateTable %d", m.Calls(ListNodes), m.Calls(QueryConfig), m.Calls(CreateTable))
	}

	// Before changes the data as the fake is polled.
	m.Update(func(d *Data) {
		delete(d.Fail, ListNodes)
		d.Before = func(method string, d *Data) {
			if method == ListNodes {
				d.Nodes = append(d.Nodes, &pb.NodeInfo{Address: "new"})
			}
		}
	})
	if ln, _ := mc.ListNodes(ctx, &pb.ListNodesRequest{}); len(ln.GetNodes()) != 4 {
		t.Errorf("ListNodes after Before added a node: %v", ln)
	}

	// A delay ends with the call's context.
	m.Update(func(d *Data) { d.Delay = time.Minute })
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	if _, err := mc.ClusterInfo(short, &pb.ClusterInfoRequest{}); err == nil {
		t.Error("delayed ClusterInfo returned before the context ended")
	}
}
