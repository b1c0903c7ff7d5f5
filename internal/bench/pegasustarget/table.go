package pegasustarget

import (
	"context"
	"fmt"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// Defaults of TableSpec, the layout Pegasus' own benchmarks use on a small
// cluster.
const (
	DefaultPartitionCount = 8
	DefaultReplicaCount   = 3
)

// healthPoll paces the wait for a table to become fully healthy.
const healthPoll = 200 * time.Millisecond

// TableSpec describes the table a benchmark writes to.
type TableSpec struct {
	Name string
	// PartitionCount and ReplicaCount apply when the table is created
	// (0: the defaults above).
	PartitionCount int
	ReplicaCount   int
}

// EnsureTable creates the table unless it exists, then waits until every
// partition of it is fully healthy (a primary and all its secondaries), so
// that a benchmark does not start by measuring partition assignment. It
// returns the table as the meta server describes it and whether this call
// created it. An existing table is used whatever its layout.
func EnsureTable(ctx context.Context, conns *dial.Conns, spec TableSpec) (*pb.TableInfo, bool, error) {
	if spec.PartitionCount == 0 {
		spec.PartitionCount = DefaultPartitionCount
	}
	if spec.ReplicaCount == 0 {
		spec.ReplicaCount = DefaultReplicaCount
	}
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.CreateTableResponse, error) {
		return m.CreateTable(ctx, &pb.CreateTableRequest{
			Name:           spec.Name,
			PartitionCount: int32(spec.PartitionCount),
			ReplicaCount:   int32(spec.ReplicaCount),
		})
	})
	if err != nil {
		return nil, false, fmt.Errorf("%w %q: %w", ErrCreateTable, spec.Name, err)
	}
	var created bool
	switch code := resp.GetError().GetCode(); code {
	case pb.ErrorCode_ERR_OK:
		created = true
	case pb.ErrorCode_ERR_APP_EXIST:
	default:
		return nil, false, fmt.Errorf("%w %q: %s %s", ErrCreateTable, spec.Name, code, resp.GetError().GetMessage())
	}
	info, err := WaitTableHealthy(ctx, conns, spec.Name)
	return info, created, err
}

// WaitTableHealthy polls the meta leader until every partition of the
// named table is fully healthy, or ctx ends.
func WaitTableHealthy(ctx context.Context, conns *dial.Conns, name string) (*pb.TableInfo, error) {
	var last string
	for {
		info, state, err := tableHealth(ctx, conns, name)
		if err == nil && info != nil && state == "" {
			return info, nil
		}
		switch {
		case err != nil:
			last = err.Error()
		case info == nil:
			last = "not listed by the meta server"
		default:
			last = state
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %q: %w (last: %s)", ErrTableNotReady, name, ctx.Err(), last)
		case <-time.After(healthPoll):
		}
	}
}

// tableHealth looks the table up in ListTables. state is empty when the
// table is available and fully healthy, else it says what is missing.
func tableHealth(ctx context.Context, conns *dial.Conns, name string) (*pb.TableInfo, string, error) {
	resp, err := dial.CallMeta(ctx, conns, func(ctx context.Context, m pb.MetaClient) (*pb.ListTablesResponse, error) {
		return m.ListTables(ctx, &pb.ListTablesRequest{})
	})
	if err != nil {
		return nil, "", err
	}
	if code := resp.GetError().GetCode(); code != pb.ErrorCode_ERR_OK {
		return nil, "", fmt.Errorf("list tables: %s %s", code, resp.GetError().GetMessage())
	}
	for _, th := range resp.GetTables() {
		t := th.GetTable()
		if t.GetName() != name {
			continue
		}
		switch {
		case t.GetStatus() != pb.TableStatus_AS_AVAILABLE:
			return t, fmt.Sprintf("status %s", t.GetStatus()), nil
		case th.GetFullyHealthy() != t.GetPartitionCount():
			return t, fmt.Sprintf("%d of %d partitions fully healthy", th.GetFullyHealthy(), t.GetPartitionCount()), nil
		}
		return t, "", nil
	}
	return nil, "", nil
}
