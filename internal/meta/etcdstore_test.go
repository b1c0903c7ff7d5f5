package meta

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

func TestEtcdStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	cli := testClient(t)
	cluster := clusterName(t)
	st := NewEtcdStore(cli, cluster, Fence{})

	t1, err := st.CreateTable(ctx, Table{Name: "one", PartitionCount: 256, ReplicaCount: 3, Status: TableCreating, CreateTime: t0, Envs: map[string]string{"k": "v"}})
	if err != nil || t1.AppID != 1 {
		t.Fatalf("create: %+v, %v", t1, err)
	}
	if _, err := st.CreateTable(ctx, Table{Name: "one", PartitionCount: 1, ReplicaCount: 1, Status: TableCreating}); !errors.Is(err, ErrTableExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	nodes := []string{"a:1", "b:1", "c:1"}
	parts := placeTable(t1.AppID, 256, 3, nodes, func(string) decide.NodeLoad { return decide.NodeLoad{} })
	revs, err := st.CreatePartitions(ctx, parts)
	if err != nil || len(revs) != 256 {
		t.Fatalf("partitions: %d revs, %v", len(revs), err)
	}
	if _, err := st.CreatePartitions(ctx, parts[10:11]); !errors.Is(err, ErrConflict) {
		t.Fatalf("re-creating a partition: %v", err)
	}
	t1.Status = TableAvailable
	if err := st.UpdateTable(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := st.SetKnob(ctx, decide.KnobFunctionLevel, "lively"); err != nil {
		t.Fatal(err)
	}

	snap, err := st.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Tables) != 1 || snap.Tables[0].Status != TableAvailable || snap.Tables[0].Envs["k"] != "v" ||
		!snap.Tables[0].CreateTime.Equal(t0) || snap.Knobs[decide.KnobFunctionLevel] != "lively" {
		t.Fatalf("loaded %+v, knobs %v", snap.Tables, snap.Knobs)
	}
	if len(snap.Partitions) != 256 {
		t.Fatalf("loaded %d partitions", len(snap.Partitions))
	}
	for i, p := range snap.Partitions {
		if p.Config.String() != parts[i].String() || p.Rev != revs[i] {
			t.Fatalf("partition %d: %s rev %d, stored %s rev %d", i, p.Config, p.Rev, parts[i], revs[i])
		}
	}

	t1.Status = TableDropped
	t1.DropTime = t0
	if err := st.DropTable(ctx, t1); err != nil {
		t.Fatal(err)
	}
	snap, _ = st.Load(ctx)
	if len(snap.Partitions) != 0 || snap.Tables[0].Status != TableDropped {
		t.Fatalf("after drop: %d partitions, %+v", len(snap.Partitions), snap.Tables)
	}
	if t2, err := st.CreateTable(ctx, Table{Name: "one", PartitionCount: 1, ReplicaCount: 1, Status: TableCreating}); err != nil || t2.AppID != 2 {
		t.Fatalf("re-create after drop: %+v, %v", t2, err)
	}
	if err := st.SetKnob(ctx, decide.KnobFunctionLevel, ""); err != nil {
		t.Fatal(err)
	}
	if snap, _ = st.Load(ctx); len(snap.Knobs) != 0 {
		t.Fatalf("knob not deleted: %v", snap.Knobs)
	}
}

// Writers racing from the same revision: exactly one wins, the others
// learn what it wrote; ballots never go back.
func TestEtcdStoreCompareAndSwap(t *testing.T) {
	ctx := context.Background()
	st := NewEtcdStore(testClient(t), clusterName(t), Fence{})
	tb, err := st.CreateTable(ctx, Table{Name: "t", PartitionCount: 1, ReplicaCount: 3, Status: TableAvailable})
	if err != nil {
		t.Fatal(err)
	}
	base := decide.PartitionConfig{Gpid: decide.Gpid{AppID: tb.AppID}, Ballot: 1, MaxReplicaCount: 9, Primary: "a:1", Secondaries: []string{"b:1"}}
	revs, err := st.CreatePartitions(ctx, []decide.PartitionConfig{base})
	if err != nil {
		t.Fatal(err)
	}
	rev := revs[0]
	for round := range 5 {
		const writers = 8
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []decide.PartitionConfig
			newRev  int64
			seen    []decide.PartitionConfig
		)
		for w := range writers {
			next := base.Clone()
			next.Ballot++
			next.Secondaries = append(next.Secondaries, fmt.Sprintf("w%d-%d:1", round, w))
			wg.Go(func() {
				r, err := st.UpdatePartition(ctx, rev, next)
				mu.Lock()
				defer mu.Unlock()
				var ce *ConflictError
				switch {
				case err == nil:
					winners = append(winners, next)
					newRev = r
				case errors.As(err, &ce) && ce.Exists:
					seen = append(seen, ce.Current)
				default:
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d writers won from one revision", round, len(winners))
		}
		for _, c := range seen {
			if c.String() != winners[0].String() {
				t.Fatalf("round %d: loser saw %s, winner wrote %s", round, c, winners[0])
			}
		}
		if winners[0].Ballot != base.Ballot+1 {
			t.Fatalf("round %d: ballot %d after %d", round, winners[0].Ballot, base.Ballot)
		}
		base, rev = winners[0], newRev
	}
	snap, _ := st.Load(ctx)
	if got := snap.Partitions[0].Config; got.Ballot != 6 || got.String() != base.String() {
		t.Fatalf("stored %s, want %s at ballot 6", got, base)
	}
}

// A store fenced by an election key writes nothing once the key is gone.
func TestEtcdStoreFence(t *testing.T) {
	ctx := context.Background()
	cli := testClient(t)
	cluster := clusterName(t)
	elect := func() (*concurrency.Election, Fence) {
		sess, err := concurrency.NewSession(cli, concurrency.WithTTL(5))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sess.Close() })
		el := concurrency.NewElection(sess, newKeys(cluster).election())
		if err := el.Campaign(ctx, "me"); err != nil {
			t.Fatal(err)
		}
		return el, Fence{Key: el.Key(), Rev: el.Rev()}
	}
	el, fence := elect()
	st := NewEtcdStore(cli, cluster, fence)
	tb, err := st.CreateTable(ctx, Table{Name: "t", PartitionCount: 1, ReplicaCount: 1, Status: TableAvailable})
	if err != nil {
		t.Fatal(err)
	}
	cfg := decide.PartitionConfig{Gpid: decide.Gpid{AppID: tb.AppID}, Ballot: 1, MaxReplicaCount: 1, Primary: "a:1"}
	revs, err := st.CreatePartitions(ctx, []decide.PartitionConfig{cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := el.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	next := cfg.Clone()
	next.Ballot++
	for name, err := range map[string]error{
		"update partition": func() error { _, err := st.UpdatePartition(ctx, revs[0], next); return err }(),
		"create table": func() error {
			_, err := st.CreateTable(ctx, Table{Name: "u", PartitionCount: 1, ReplicaCount: 1, Status: TableCreating})
			return err
		}(),
		"create partitions": func() error {
			_, err := st.CreatePartitions(ctx, []decide.PartitionConfig{{Gpid: decide.Gpid{AppID: tb.AppID, Index: 1}, MaxReplicaCount: 1}})
			return err
		}(),
		"update table": st.UpdateTable(ctx, tb),
		"drop table":   st.DropTable(ctx, tb),
		"set knob":     st.SetKnob(ctx, decide.KnobLivePercentage, "10"),
	} {
		if !errors.Is(err, ErrLostLeadership) {
			t.Errorf("%s after resigning: %v, want ErrLostLeadership", name, err)
		}
	}
	_, fence2 := elect()
	if _, err := NewEtcdStore(cli, cluster, fence2).UpdatePartition(ctx, revs[0], next); err != nil {
		t.Fatalf("the new term's write: %v", err)
	}
}

func TestEtcdStoreRejectsCorruptRecords(t *testing.T) {
	ctx := context.Background()
	cli := testClient(t)
	cluster := clusterName(t)
	k := newKeys(cluster)
	st := NewEtcdStore(cli, cluster, Fence{})
	tb, err := st.CreateTable(ctx, Table{Name: "t", PartitionCount: 2, ReplicaCount: 1, Status: TableAvailable})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct{ key, value string }{
		{k.partition(decide.Gpid{AppID: tb.AppID}), "{not json"},
		{k.partition(decide.Gpid{AppID: tb.AppID}), `{"app_id":1,"partition_index":1,"ballot":1,"max_replica_count":1}`},
		{k.partition(decide.Gpid{AppID: tb.AppID}), `{"app_id":1,"partition_index":0,"ballot":1,"max_replica_count":1,"primary":"a","secondaries":["a"]}`},
		{k.partition(decide.Gpid{AppID: 9}), `{"app_id":9,"partition_index":0,"ballot":1,"max_replica_count":1}`},
		{k.apps() + "x", "{}"},
	} {
		if _, err := cli.Put(ctx, bad.key, bad.value); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Load(ctx); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s = %s: load %v, want ErrCorruptRecord", bad.key, bad.value, err)
		}
		if _, err := cli.Delete(ctx, bad.key); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.Load(ctx); err != nil {
		t.Fatalf("clean store: %v", err)
	}
}
