package pegasustarget

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/dial"
	"github.com/pegasus-go/pegasus/internal/meta/metatest"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

// startFakeMeta starts a fake meta server with three alive replica
// servers whose tables become healthy one partition per ListTables call,
// as a real cluster assigns replicas over a few rounds.
func startFakeMeta(t *testing.T) (*metatest.Meta, *dial.Conns) {
	t.Helper()
	m, addr := metatest.Start(t)
	healthy := map[string]int32{} // fully healthy partitions per table
	m.Update(func(d *metatest.Data) {
		for _, n := range []string{"r1:1", "r2:1", "r3:1"} {
			d.Nodes = append(d.Nodes, &pb.NodeInfo{Address: n, Alive: true})
		}
		d.Before = func(method string, d *metatest.Data) {
			if method != metatest.CreateTable && method != metatest.ListTables {
				return
			}
			// Partitions past the healthy count have no primary yet.
			for name, tbl := range d.Tables {
				if method == metatest.ListTables {
					healthy[name] = min(healthy[name]+1, tbl.GetTable().GetPartitionCount())
				}
				for _, p := range tbl.GetPartitions() {
					if p.GetGpid().GetPartitionIndex() >= healthy[name] && p.GetPrimary() != "" {
						p.Secondaries = append(p.Secondaries, p.Primary)
						p.Primary = ""
					} else if p.GetGpid().GetPartitionIndex() < healthy[name] && p.GetPrimary() == "" {
						p.Primary, p.Secondaries = p.Secondaries[0], p.Secondaries[1:]
					}
				}
			}
		}
	})
	conns := dial.New([]string{addr}, dial.Options{})
	t.Cleanup(func() { conns.Close() })
	return m, conns
}

// fullyHealthy is the fake's count of fully healthy partitions of table.
func fullyHealthy(t *testing.T, m *metatest.Meta, table string) int32 {
	t.Helper()
	var n int32
	m.Update(func(d *metatest.Data) {
		for _, p := range d.Tables[table].GetPartitions() {
			if p.GetPrimary() != "" {
				n++
			}
		}
	})
	return n
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
	if got := fullyHealthy(t, m, "bench"); got != 4 {
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
	m.Update(func(d *metatest.Data) {
		d.Fail[metatest.CreateTable] = &pb.Error{Code: pb.ErrorCode_ERR_INVALID_PARAMETERS, Message: "no"}
	})
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
