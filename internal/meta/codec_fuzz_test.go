package meta

import (
	"reflect"
	"testing"

	"github.com/pegasus-go/pegasus/internal/meta/decide"
)

// FuzzStoredRecords feeds the decoders of everything the meta servers
// keep in etcd (table and partition records, their keys, the stored
// white list) with arbitrary bytes: a record damaged in etcd, or written
// by someone who reached etcd, must be refused with ErrCorruptRecord,
// never crash the leader that loads it. A record that decodes encodes
// back to one that decodes the same.
func FuzzStoredRecords(f *testing.F) {
	k := newKeys("onebox")
	for _, seed := range []struct{ key, value string }{
		{k.table(1), string(encodeTable(Table{Name: "t", AppID: 1, PartitionCount: 8, ReplicaCount: 3, Status: TableAvailable}))},
		{k.partition(decide.Gpid{AppID: 1, Index: 2}), string(encodePartition(decide.PartitionConfig{
			Gpid: decide.Gpid{AppID: 1, Index: 2}, Ballot: 7, MaxReplicaCount: 3, Primary: "a:1", Secondaries: []string{"b:1", "c:1"}}))},
		{k.table(2), `{"app_name":"x","app_id":2,"partition_count":-1}`},
		{k.partition(decide.Gpid{AppID: 2, Index: 0}), `{"app_id":2,"ballot":-5}`},
		{k.apps() + "99999999999/1", `{}`},
		{k.knob(allowListKnob), `{"Enabled":true,"Nodes":["a:1"]}`},
	} {
		f.Add(seed.key, []byte(seed.value))
	}
	f.Fuzz(func(t *testing.T, key string, value []byte) {
		app, pidx, isPartition, err := k.parseAppKey(key)
		if err != nil {
			return
		}
		if !isPartition {
			tb, err := decodeTable(key, value)
			if err != nil {
				return
			}
			again, err := decodeTable(key, encodeTable(tb))
			if err != nil || !reflect.DeepEqual(normalizeTable(again), normalizeTable(tb)) {
				t.Fatalf("table %+v re-decodes as %+v, %v", tb, again, err)
			}
			return
		}
		want := decide.Gpid{AppID: app, Index: pidx}
		cfg, err := decodePartition(key, want, value)
		if err != nil {
			return
		}
		again, err := decodePartition(key, want, encodePartition(cfg))
		if err != nil || again.String() != cfg.String() {
			t.Fatalf("partition %s re-decodes as %s, %v", cfg, again, err)
		}
	})
}

// normalizeTable drops what the encoding does not keep exactly (times
// below a millisecond, empty maps).
func normalizeTable(t Table) Table {
	t.CreateTime = t.CreateTime.Truncate(0)
	t.DropTime = t.DropTime.Truncate(0)
	if len(t.Envs) == 0 {
		t.Envs = nil
	}
	return t
}
