package meta

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
	"github.com/pegasus-go/pegasus/internal/rpc/pb"
)

func TestCreateTableValidation(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.steps(1)
	ctx := context.Background()
	cases := []struct {
		req  CreateTableRequest
		want error
		code pb.ErrorCode
	}{
		{CreateTableRequest{Name: "t", PartitionCount: 6, ReplicaCount: 3}, ErrPartitionCountNotPowerOfTwo, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{CreateTableRequest{Name: "t", PartitionCount: 0, ReplicaCount: 3}, ErrPartitionCountNotPowerOfTwo, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{CreateTableRequest{Name: "t", PartitionCount: 1 << 17, ReplicaCount: 3}, ErrInvalidArgument, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 4}, ErrInvalidReplicaCount, pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER},
		{CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 0}, ErrInvalidReplicaCount, pb.ErrorCode_ERR_NOT_ENOUGH_MEMBER},
		{CreateTableRequest{Name: "a/b", PartitionCount: 4, ReplicaCount: 3}, ErrInvalidTableName, pb.ErrorCode_ERR_INVALID_PARAMETERS},
		{CreateTableRequest{Name: "", PartitionCount: 4, ReplicaCount: 3}, ErrInvalidTableName, pb.ErrorCode_ERR_INVALID_PARAMETERS},
	}
	for _, tc := range cases {
		_, err := s.ctl.CreateTable(ctx, tc.req)
		if !errors.Is(err, tc.want) || wireCode(err) != tc.code {
			t.Errorf("%+v: %v (%s), want %v (%s)", tc.req, err, wireCode(err), tc.want, tc.code)
		}
	}
	if tables, _ := s.ctl.ListTables(); len(tables) != 0 {
		t.Fatalf("refused creations left tables: %+v", tables)
	}
	s.createTable("t", 4, 3)
	if _, err := s.ctl.CreateTable(ctx, CreateTableRequest{Name: "t", PartitionCount: 4, ReplicaCount: 3}); !errors.Is(err, ErrTableExists) {
		t.Fatalf("second create: %v, want ErrTableExists", err)
	}
}

func TestCreateTablePlacesEvenlyAndPushes(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1", "n4:1")
	s.steps(1)
	tb := s.createTable("t", 8, 3)
	if tb.AppID != 1 || tb.Status != TableAvailable {
		t.Fatalf("table %+v", tb)
	}
	prim := map[string]int{}
	repl := map[string]int{}
	for _, c := range configsByGpid(t, s.ctl, "t") {
		if c.Ballot != 1 || c.MaxReplicaCount != 3 || c.ReplicaCount() != 3 {
			t.Fatalf("new partition %s", c)
		}
		prim[c.Primary]++
		for _, m := range members(c) {
			repl[m]++
		}
	}
	for _, n := range []string{"n1:1", "n2:1", "n3:1", "n4:1"} {
		if prim[n] != 2 || repl[n] != 6 {
			t.Fatalf("uneven placement: primaries %v, replicas %v", prim, repl)
		}
		// Every member was pushed its configurations at creation.
		s.admin.mu.Lock()
		got := len(s.admin.nodes[n].reps)
		s.admin.mu.Unlock()
		if got != repl[n] {
			t.Fatalf("%s holds %d replicas after creation, want %d", n, got, repl[n])
		}
	}
	snap, _ := s.store.Load(context.Background())
	if len(snap.Partitions) != 8 || len(snap.Tables) != 1 || snap.Tables[0].Status != TableAvailable {
		t.Fatalf("store: %d partitions, tables %+v", len(snap.Partitions), snap.Tables)
	}
}

// When pushes fail, CreateTable waits for the primaries to report
// themselves in beacons; without beacons it times out with a clear error.
func TestCreateTableWaitsForPrimaries(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.steps(1)
	for _, a := range []string{"n1:1", "n2:1", "n3:1"} {
		s.node(a).down = true // unreachable for pushes; beacons are the test's
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_, err := s.ctl.CreateTable(ctx, CreateTableRequest{Name: "slow", PartitionCount: 2, ReplicaCount: 3})
	cancel()
	if !errors.Is(err, ErrCreateTimeout) || wireCode(err) != pb.ErrorCode_ERR_TIMEOUT {
		t.Fatalf("create without primaries: %v, want ErrCreateTimeout", err)
	}
	if _, cfgs, _, err := s.ctl.QueryConfig("slow", nil); err != nil || len(cfgs) != 2 {
		t.Fatalf("the table must exist after the timeout: %v", err)
	}

	done := make(chan error, 1)
	go func() {
		_, err := s.ctl.CreateTable(context.Background(), CreateTableRequest{Name: "t", PartitionCount: 2, ReplicaCount: 3})
		done <- err
	}()
	for {
		for _, a := range []string{"n1:1", "n2:1", "n3:1"} {
			s.beacon(s.ctl, a)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestDropTable(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.steps(1)
	tb := s.createTable("t", 4, 3)
	s.createTable("keep", 2, 3)
	if err := s.ctl.DropTable(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	s.waitPushes()
	if err := s.ctl.DropTable(context.Background(), "t"); !errors.Is(err, ErrTableNotFound) || wireCode(err) != pb.ErrorCode_ERR_APP_NOT_EXIST {
		t.Fatalf("second drop: %v", err)
	}
	tables, _ := s.ctl.ListTables()
	if len(tables) != 1 || tables[0].Table.Name != "keep" || tables[0].Health.FullyHealthy != 2 {
		t.Fatalf("tables after drop: %+v", tables)
	}
	// Replicas of the dropped table are to be removed.
	r := s.beacon(s.ctl, "n1:1")
	if len(r.Remove) != 4 {
		t.Fatalf("remove %v, want the 4 partitions of app %d", r.Remove, tb.AppID)
	}
	// The name is free again, with a new app id.
	if tb2 := s.createTable("t", 2, 3); tb2.AppID == tb.AppID {
		t.Fatalf("re-created table reused app id %d", tb.AppID)
	}
	snap, _ := s.store.Load(context.Background())
	for _, p := range snap.Partitions {
		if p.Config.Gpid.AppID == tb.AppID {
			t.Fatalf("partition %s of the dropped table is still stored", p.Config.Gpid)
		}
	}
}

// A table a leader left half written is completed by the next one: the
// missing partitions get primaries like any partition without one.
func TestNewLeaderCompletesTableInCreation(t *testing.T) {
	s := newSim(t, "n1:1", "n2:1", "n3:1")
	s.settle()
	store := s.store.Term() // a leader that dies half way through create_app
	tb, err := store.CreateTable(context.Background(), Table{Name: "half", PartitionCount: 4, ReplicaCount: 3, Status: TableCreating, CreateTime: t0})
	if err != nil {
		t.Fatal(err)
	}
	first := placeTable(tb.AppID, 4, 3, []string{"n1:1", "n2:1", "n3:1"}, func(string) decide.NodeLoad { return decide.NodeLoad{} })[:2]
	if _, err := store.CreatePartitions(context.Background(), first); err != nil {
		t.Fatal(err)
	}

	s.ctl = s.newController()
	s.lead(s.ctl)
	tables, err := s.ctl.ListTables()
	if err != nil || len(tables) != 1 || tables[0].Table.Status != TableAvailable || tables[0].Health.PartitionCount != 4 {
		t.Fatalf("after takeover: %+v, %v", tables, err)
	}
	s.settle()
	s.steps(4)
	s.checkHealthy("half")
}
